package scenarios

import (
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Builtins returns the scenarios that ship with lab, by name.
func Builtins() ([]*Scenario, error) {
	entries, err := builtinFS.ReadDir("builtin")
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, e := range entries {
		data, _ := builtinFS.ReadFile("builtin/" + e.Name())
		sc, err := Parse("builtin/"+e.Name(), data)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b *Scenario) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Builtin returns one built-in scenario and its source text.
func Builtin(name string) (*Scenario, []byte, error) {
	data, err := builtinFS.ReadFile(path.Join("builtin", name+".yaml"))
	if err != nil {
		all, _ := Builtins()
		var names []string
		for _, s := range all {
			names = append(names, s.Name)
		}
		return nil, nil, fmt.Errorf("no built-in scenario %q; built-ins: %s", name, strings.Join(names, ", "))
	}
	sc, err := Parse("builtin/"+name+".yaml", data)
	return sc, data, err
}
