package scenarios

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
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
			if val.Kind == yaml.SequenceNode { // one spec per node
				for i, item := range val.Content {
					spec, err := parseNodeSpec(file, fmt.Sprintf("lab.nodes[%d].", i), item)
					errs = append(errs, err)
					sh.NodeList = append(sh.NodeList, spec)
				}
				continue
			}
			v, err := strconv.Atoi(val.Value)
			switch {
			case err != nil || val.Kind != yaml.ScalarNode:
				bad(val.Line, "lab.nodes: %q is not a number of nodes (1-64)", val.Value)
			case v < 1 || v > 64:
				bad(val.Line, "lab.nodes: %d is out of range 1-64", v)
			default:
				sh.Nodes = v
			}
		case "node":
			spec, err := parseNodeSpec(file, "lab.node.", val)
			errs = append(errs, err)
			sh.Node = spec
		case "ping_interval", "ping_timeout":
			var d config.Duration
			if err := val.Decode(&d); err != nil {
				bad(val.Line, "lab.%s: %s", key.Value, lineRE.ReplaceAllString(firstYAMLError(err), ""))
			} else if d <= 0 {
				bad(val.Line, "lab.%s: %s must be positive, like 25s", key.Value, d)
			} else if key.Value == "ping_interval" {
				sh.PingInterval = d
			} else {
				sh.PingTimeout = d
			}
		case "profile":
			if _, err := config.FromProfile(val.Value); err != nil {
				bad(val.Line, "lab.profile: %s", strings.TrimPrefix(err.Error(), "profiles: "))
			} else {
				sh.Profile = val.Value
			}
		case "balancer":
			cfg, err := parseLabBalancer(file, val)
			if err != nil {
				errs = append(errs, err)
			}
			sh.Balancer = cfg
		case "links":
			if err := val.Decode(&sh.Links); err != nil {
				bad(val.Line, "lab.links: %q is not true or false", val.Value)
			}
		case "clients":
			cc, err := parseClients(file, val)
			errs = append(errs, err)
			sh.Clients = cc
		default:
			bad(key.Line, "unknown key %q in lab (keys: %s)", key.Value, strings.Join(keys, ", "))
		}
	}
	return sh, errors.Join(errs...)
}

// parseNodeSpec reads one node spec (lab.node, or an item of lab.nodes):
// a command the lab starts, a url, or our chat or echo node; unknown keys
// and bad values are errors at their line.
func parseNodeSpec(file, prefix string, n *yaml.Node) (lab.NodeSpec, error) {
	var spec lab.NodeSpec
	if n.Kind != yaml.MappingNode {
		return spec, &ParseError{File: file, Line: n.Line, Msg: strings.TrimSuffix(prefix, ".") + " takes a mapping like {command: node server.js, health: /healthz} or {url: http://10.0.0.5:3000}"}
	}
	keys := tags(reflect.TypeFor[lab.NodeSpec]())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch {
		case !slices.Contains(keys, k.Value):
			err = fmt.Errorf("unknown key %q in %s (keys: %s)", k.Value, strings.TrimSuffix(prefix, "."), strings.Join(keys, ", "))
		case k.Value == "ready_timeout" || k.Value == "stop_grace" || k.Value == "max_disconnection":
			var d config.Duration
			if e := v.Decode(&d); e != nil {
				err = fmt.Errorf("%s%s: %s", prefix, k.Value, lineRE.ReplaceAllString(firstYAMLError(e), ""))
			}
		case k.Value == "env":
			if v.Kind != yaml.SequenceNode {
				err = fmt.Errorf("%senv: want a list like [DEBUG=1, NODE_ENV=production]", prefix)
			}
		case v.Kind != yaml.ScalarNode:
			err = fmt.Errorf("%s%s: want a string", prefix, k.Value)
		}
		if err != nil {
			return spec, &ParseError{File: file, Line: k.Line, Msg: err.Error()}
		}
	}
	if err := n.Decode(&spec); err != nil {
		return spec, &ParseError{File: file, Line: n.Line, Msg: prefix[:len(prefix)-1] + ": " + lineRE.ReplaceAllString(firstYAMLError(err), "")}
	}
	if err := spec.Validate(prefix); err != nil {
		return spec, &ParseError{File: file, Line: n.Line, Msg: config.OneLine(err)}
	}
	return spec, nil
}

// parseLabBalancer parses and validates lab.balancer, every problem with
// its line in the scenario file. Without servers, the lab's nodes will be
// the servers.
func parseLabBalancer(file string, val *yaml.Node) (config.Config, error) {
	cfg, err := config.LoadNode(val)
	if errors.Is(err, config.ErrEmpty) {
		return config.Config{}, nil // balancer: with nothing after it
	}
	return cfg, configProblems(file, "lab.balancer.", val, err)
}

// configProblems turns the problems of a balancer config inside a
// scenario into ParseErrors with the scenario file's lines; prefix names
// where the config stands ("lab.balancer.", "reload: ").
func configProblems(file, prefix string, val *yaml.Node, err error) error {
	if err == nil {
		return nil
	}
	var errs []error
	for _, p := range config.Problems(err) {
		line := p.Line
		if line == 0 {
			line = val.Line
		}
		errs = append(errs, &ParseError{File: file, Line: line, Msg: prefix + p.Field + ": " + p.Msg})
	}
	if len(errs) == 0 {
		errs = append(errs, &ParseError{File: file, Line: val.Line, Msg: strings.TrimSuffix(prefix, ".") + ": " + err.Error()})
	}
	return errors.Join(errs...)
}

// firstYAMLError is a decoder error's first message.
func firstYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return te.Errors[0]
	}
	return err.Error()
}

// parseClients reads lab.clients: the user's client processes.
func parseClients(file string, n *yaml.Node) (lab.ClientsConfig, error) {
	var cc lab.ClientsConfig
	if n.Kind != yaml.MappingNode {
		return cc, &ParseError{File: file, Line: n.Line, Msg: "lab.clients takes a mapping like {command: 'node my-client.js {url}', count: 50}"}
	}
	if err := knownKeys(file, "lab.clients", n, reflect.TypeFor[lab.ClientsConfig]()); err != nil {
		return cc, err
	}
	if err := n.Decode(&cc); err != nil {
		return cc, &ParseError{File: file, Line: n.Line, Msg: "lab.clients: " + plainYAML(lineRE.ReplaceAllString(firstYAMLError(err), ""))}
	}
	if err := cc.Validate("lab.clients."); err != nil {
		return cc, &ParseError{File: file, Line: n.Line, Msg: config.OneLine(err)}
	}
	return cc, nil
}
