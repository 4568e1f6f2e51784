package scenarios

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wslab/wslab/balancer"
)

// parseShape reads a scenario's lab: mapping. Every problem is reported at
// once, each with its line: unknown keys, values of the wrong kind, and
// the balancer config's validation (which a lab whose servers are its own
// nodes would otherwise only meet at run time).
func parseShape(file string, n *yaml.Node) (Shape, error) {
	var sh Shape
	if n.Kind == 0 || n.Tag == "!!null" { // no lab: the defaults
		return sh, nil
	}
	keys := tags(reflect.TypeFor[Shape]())
	if n.Kind != yaml.MappingNode {
		return sh, &ParseError{File: file, Line: n.Line, Msg: "lab takes a mapping like {nodes: 2, balancer: {...}}"}
	}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		switch key.Value {
		case "nodes":
			v, err := strconv.Atoi(val.Value)
			switch {
			case err != nil || val.Kind != yaml.ScalarNode:
				bad(val.Line, "lab.nodes: %q is not a number of nodes (1-64)", val.Value)
			case v < 1 || v > 64:
				bad(val.Line, "lab.nodes: %d is out of range 1-64", v)
			default:
				sh.Nodes = v
			}
		case "ping_interval", "ping_timeout":
			var d balancer.Duration
			if err := val.Decode(&d); err != nil {
				bad(val.Line, "lab.%s: %s", key.Value, lineRE.ReplaceAllString(firstYAMLError(err), ""))
			} else if d <= 0 {
				bad(val.Line, "lab.%s: %s must be positive, like 25s", key.Value, d)
			} else if key.Value == "ping_interval" {
				sh.PingInterval = d
			} else {
				sh.PingTimeout = d
			}
		case "balancer":
			cfg, err := parseLabBalancer(file, val)
			if err != nil {
				errs = append(errs, err)
			}
			sh.Balancer = cfg
		default:
			bad(key.Line, "unknown key %q in lab (keys: %s)", key.Value, strings.Join(keys, ", "))
		}
	}
	return sh, errors.Join(errs...)
}

// parseLabBalancer parses and validates lab.balancer, with the lines of
// the scenario file.
func parseLabBalancer(file string, val *yaml.Node) (balancer.Config, error) {
	b, _ := yaml.Marshal(val)
	cfg, err := balancer.ParseConfig(b)
	var errs []error
	if err != nil {
		var se *balancer.SyntaxError
		if errors.As(err, &se) {
			return cfg, &ParseError{File: file, Line: val.Line, Msg: "lab.balancer: " + err.Error()}
		}
		errs = append(errs, shiftLines(file, val.Line-1, "lab.balancer", err))
	}
	check := cfg
	if len(check.ServerGroup.Servers) == 0 { // the lab's nodes will be the servers
		check.ServerGroup.Servers = []balancer.ServerConfig{{Name: "node-1", URL: "http://127.0.0.1:1"}}
	}
	if err := check.Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			field, _, _ := strings.Cut(e, ":")
			errs = append(errs, &ParseError{File: file, Line: lineOfField(val, field), Msg: "lab.balancer." + e})
		}
	}
	return cfg, errors.Join(errs...)
}

var fieldPartRE = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+)\])?$`)

// lineOfField finds the line of a dotted field (server_group.servers[1].url)
// under n, or the line of the deepest part of it that exists.
func lineOfField(n *yaml.Node, field string) int {
	line := n.Line
	for _, part := range strings.Split(field, ".") {
		m := fieldPartRE.FindStringSubmatch(part)
		if m == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == m[1] {
				next, line = n.Content[i+1], n.Content[i].Line
			}
		}
		if next == nil {
			return line
		}
		n = next
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			if n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return line
			}
			n, line = n.Content[i], n.Content[i].Line
		}
	}
	return line
}

// firstYAMLError is a decoder error's first message.
func firstYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return te.Errors[0]
	}
	return err.Error()
}
