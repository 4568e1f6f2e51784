package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrEmpty is a document with nothing in it: never applied, since an
// editor that truncates before it writes shows exactly that for a moment.
var ErrEmpty = errors.New("balancer: the config is empty (nothing but white space or comments); nothing was applied")

// SyntaxError is a config that is not YAML at all.
type SyntaxError struct{ msg string }

func (e *SyntaxError) Error() string { return "not valid YAML: " + e.msg }

// Lines maps a field's dotted path to the line it stands on in a document.
type Lines map[string]int

// Place gives every *Problem in err the line of its field (see Problems).
func (ls Lines) Place(err error) {
	for _, p := range Problems(err) {
		p.Line = ls.of(p.Field)
	}
}

// of finds the line of field, or of the nearest enclosing field that the
// document has (a missing cert_file is reported on listener.tls's line).
func (ls Lines) of(field string) int {
	for field != "" {
		if n, ok := ls[field]; ok {
			return n
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			return 0
		}
		field = field[:i]
	}
	return 0
}

// Parse reads a YAML (or JSON) config. Unknown fields and values of
// the wrong kind are *Problems with their lines, so that a typo is never
// silently ignored; the rest of the document is still decoded and returned
// with them, so that Validate can report its problems too (Load does
// both). After a syntax error nothing is. The result is not validated.
func Parse(data []byte) (Config, error) {
	c, _, err := parseConfig(data)
	return c, err
}

func parseConfig(data []byte) (Config, Lines, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Config{}, nil, ErrEmpty
	}
	var doc yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	if errors.Is(err, io.EOF) {
		return Config{}, nil, ErrEmpty
	}
	if err != nil {
		return Config{}, nil, &SyntaxError{msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return parseNode(doc.Content[0])
}

// parseNode decodes a config from its YAML node, checking its shape and
// noting the line of every field.
func parseNode(root *yaml.Node) (Config, Lines, error) {
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return Config{}, nil, ErrEmpty
	}
	ls := Lines{}
	var ps problems
	checkShape(root, reflect.TypeFor[Config](), "", ls, &ps)
	var c Config
	if err := root.Decode(&c); err != nil && len(ps) == 0 {
		// checkShape knows every kind a field takes; this is a safety net.
		ps = append(ps, &Problem{Line: root.Line, Field: "config", Msg: strings.TrimPrefix(err.Error(), "yaml: ")})
	}
	return c, ls, errors.Join(ps...)
}

// checkShape walks the document against the Config type: every key must be
// a field, every value of the kind its field takes. It records each field's
// line on the way.
func checkShape(n *yaml.Node, t reflect.Type, path string, ls Lines, ps *problems) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return // a field written with no value keeps its zero value
	}
	bad := func(format string, args ...any) {
		*ps = append(*ps, &Problem{Line: n.Line, Field: strings.TrimPrefix(path, "."), Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case t == reflect.TypeFor[Duration]():
		if _, err := time.ParseDuration(n.Value); n.Kind != yaml.ScalarNode || err != nil {
			bad("%s is not a duration (write it like 60s, 1m30s or 500ms)", quoteNode(n))
		}
	case t.Kind() == reflect.Pointer:
		checkShape(n, t.Elem(), path, ls, ps)
	case t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		if n.Kind != yaml.MappingNode {
			bad("%s is not a mapping; write it like {%s: …}", quoteNode(n), fields[0].name)
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f := path + "." + k.Value
			ls[strings.TrimPrefix(f, ".")] = k.Line
			ft, ok := fieldType(fields, k.Value)
			if !ok {
				*ps = append(*ps, &Problem{Line: k.Line, Field: strings.TrimPrefix(f, "."), Msg: "unknown field (" + knownFields(path, fields) + ")"})
				continue
			}
			checkShape(v, ft, f, ls, ps)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("%s is not a list; write it like [{…}, {…}] or one '- ' line per item", quoteNode(n))
			return
		}
		for i, item := range n.Content {
			f := fmt.Sprintf("%s[%d]", path, i)
			ls[strings.TrimPrefix(f, ".")] = item.Line
			checkShape(item, t.Elem(), f, ls, ps)
		}
	case n.Kind != yaml.ScalarNode:
		bad("is a %s; want a single value", kindName(n))
	case t.Kind() == reflect.Int:
		if _, err := strconv.Atoi(n.Value); err != nil {
			bad("%q is not a whole number", n.Value)
		}
	case t.Kind() == reflect.Bool:
		if _, err := strconv.ParseBool(n.Value); err != nil {
			bad("%q is not true or false", n.Value)
		}
	}
}

type yamlField struct {
	name string
	typ  reflect.Type
}

func yamlFields(t reflect.Type) []yamlField {
	var out []yamlField
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out = append(out, yamlField{name, f.Type})
		}
	}
	return out
}

func fieldType(fields []yamlField, name string) (reflect.Type, bool) {
	for _, f := range fields {
		if f.name == name {
			return f.typ, true
		}
	}
	return nil, false
}

func knownFields(path string, fields []yamlField) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	where := strings.TrimPrefix(path, ".")
	if where == "" {
		where = "the top level"
	}
	return where + " has " + strings.Join(names, ", ")
}

func quoteNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a " + kindName(n)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// Load parses and validates a config, reporting every problem of both
// kinds together, each with its line.
func Load(data []byte) (Config, error) {
	return loadConfig(parseConfig(data))
}

// ParseNode is Parse for a config inside another YAML
// document (a scenario's reload step): the problems' lines are that
// document's.
func ParseNode(n *yaml.Node) (Config, error) {
	c, _, err := parseNode(n)
	return c, err
}

// LoadNode is Load for a config inside another YAML document
// (a scenario's lab.balancer): the problems' lines are that document's.
func LoadNode(n *yaml.Node) (Config, error) {
	return loadConfig(parseNode(n))
}

func loadConfig(cfg Config, ls Lines, err error) (Config, error) {
	var se *SyntaxError
	if errors.As(err, &se) || errors.Is(err, ErrEmpty) {
		return Config{}, err
	}
	verr := cfg.Validate()
	ls.Place(verr)
	if err := errors.Join(err, verr); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
