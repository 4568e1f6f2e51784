package scenarios_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/scenarios"
)

// constant is one documented constant of a Go file.
type constant struct{ name, value, doc string }

// constants reads the string constants of a file whose name starts with
// prefix, with their line comments: the one source of the README's lists
// of event kinds and close reasons.
func constants(t *testing.T, path, prefix string) []constant {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var out []constant
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			if len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, prefix) {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				continue
			}
			v, _ := strconv.Unquote(lit.Value)
			out = append(out, constant{vs.Names[0].Name, v, strings.TrimSpace(vs.Comment.Text())})
		}
	}
	return out
}

func values(cs []constant) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.value)
	}
	return out
}

func list(cs []constant) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "- `%s` — %s\n", c.value, c.doc)
	}
	return b.String()
}

// TestTheREADMEListsWhatTheTableDefines: the README's lists of steps,
// event kinds and a node's close reasons are generated from their one
// source (the step table, the constants), and the balancer's close-reason
// table names exactly the balancer's reasons; the lists scenario files
// are checked against hold every constant. `go test ./scenarios -run
// TestTheREADME -update` rewrites the generated lists.
func TestTheREADMEListsWhatTheTableDefines(t *testing.T) {
	const path = "../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kinds := constants(t, "../events/events.go", "")
	var kindNames []string
	for _, k := range events.Kinds() {
		kindNames = append(kindNames, string(k))
	}
	if got, want := kindNames, values(kinds); !slices.Equal(got, want) {
		t.Errorf("events.Kinds() = %v, want every constant of events.go: %v", got, want)
	}
	nodeReasons := constants(t, "../node/session.go", "Reason")
	if got, want := node.CloseReasons(), values(nodeReasons); !slices.Equal(got, want) {
		t.Errorf("node.CloseReasons() = %v, want every Reason constant of node/session.go: %v", got, want)
	}
	readme := string(data)
	rows := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(readme[strings.Index(readme, "## Why a connection closed"):], -1)
	var tabled []string
	for _, r := range rows {
		tabled = append(tabled, r[1])
	}
	if want := balancer.CloseReasons(); !slices.Equal(slices.Sorted(slices.Values(tabled)), slices.Sorted(slices.Values(want))) {
		t.Errorf("README's close-reason table names %v, want the balancer's reasons %v", tabled, want)
	}
	blocks := []struct{ name, text string }{
		{"steps", scenarios.StepList()},
		{"event-kinds", list(kinds)},
		{"node-close-reasons", list(nodeReasons)},
	}
	for _, b := range blocks {
		begin, end := "<!-- begin "+b.name+" -->\n", "<!-- end "+b.name+" -->"
		i, j := strings.Index(readme, begin), strings.Index(readme, end)
		if i < 0 || j < i {
			t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(begin), end)
		}
		got := readme[i+len(begin) : j]
		if got == b.text {
			continue
		}
		if *update {
			readme = readme[:i+len(begin)] + b.text + readme[j:]
			continue
		}
		t.Errorf("README.md's %s list differs from the table (go test ./scenarios -run TestTheREADME -update rewrites it):\ngot:\n%s\nwant:\n%s", b.name, got, b.text)
	}
	if *update && readme != string(data) {
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
