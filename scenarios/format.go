// Package scenarios replays failures against a lab on a deterministic clock:
// a YAML file gives the lab's shape and a list of steps — actions (connect,
// send, advance virtual time, reload, kill a node, cut Redis...) and
// expectations: first what a client saw (the close code a browser would
// report, a reconnect, a message), then the balancer's own view (a close
// reason, the spread of connections, an event). The steps are defined in
// one table (table.go) that the parser, the runner, the README and
// scenariotest.Driver follow. The same file runs from `lab scenario run`
// and inside go test, and with the same seed gives a byte-identical
// transcript, which ends with what each client went through.
//
// # Concurrency
//
// A run owns its lab, its clients and their heartbeat tickers, all ended
// before Run returns. Events are read, clients' queues taken and
// reconnects made on the run's own goroutine; only a heartbeat ticker's
// callback touches a client from elsewhere (its Ping), and it is stopped
// before its connection is replaced.
package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
)

// Scenario is a parsed scenario file.
type Scenario struct {
	Name        string
	Description string
	Seed        uint64
	Lab         Shape
	Steps       []Step
	File        string // where it came from, for messages
}

// Shape is the lab a scenario runs against.
type Shape struct {
	// Profile names the load balancer to behave like (lab profile list);
	// the same as balancer.profile, which wins when both are given.
	Profile      string          `yaml:"profile"`
	Nodes        int             `yaml:"nodes"`         // default 2; or a list of node specs (NodeList)
	Node         lab.NodeSpec    `yaml:"node"`          // what each of the Nodes is; default our chat node
	NodeList     []lab.NodeSpec  `yaml:"-"`             // nodes: given as a list, each over Node
	PingInterval config.Duration `yaml:"ping_interval"` // Socket.IO heartbeat of the nodes; default 25s
	PingTimeout  config.Duration `yaml:"ping_timeout"`  // default 20s
	Balancer     config.Config   `yaml:"balancer"`      // servers default to the nodes
	// Links puts a fault link on every hop (lab.LinksConfig): "client"
	// in front of the balancer, one per node; the link step sets faults.
	Links bool `yaml:"links"`
	// Clients are the user's own client processes (lab.ClientsConfig);
	// with them the scenario runs on the real clock.
	Clients lab.ClientsConfig `yaml:"clients"`
}

// Step is one action or expectation.
type Step struct {
	Line int    // in the scenario file
	Kind string // connect, advance, expect_closed, ...
	Args any    // the step's argument struct, or a scalar
}

// Argument structs of the steps that take a mapping.
type (
	ConnectArgs struct {
		Client string `yaml:"client"`
		Via    string `yaml:"via"` // balancer (default) or a node name
		// Protocol is what the client speaks: chat (the lab's chat over
		// Socket.IO, the default), chat_ws (the lab's chat over its /ws JSON
		// protocol), socketio (any Socket.IO app) or ws (a plain WebSocket).
		Protocol string `yaml:"protocol"`
		// Transport is the Engine.IO transport of chat and socketio:
		// websocket (the default), polling (HTTP long-polling only) or
		// default (polling, then the upgrade to WebSocket, as io(url) does).
		Transport    string            `yaml:"transport"`
		Path         string            `yaml:"path"`         // socketio: the server's path (/socket.io/); ws: the WebSocket's (/)
		Namespace    string            `yaml:"namespace"`    // socketio: default /
		Subprotocols []string          `yaml:"subprotocols"` // ws: offered in order of preference
		Headers      map[string]string `yaml:"headers"`      // added to the handshake
		Query        map[string]string `yaml:"query"`        // added to the handshake's URL
		Heartbeat    config.Duration   `yaml:"heartbeat"`    // client pings this often (virtual time)
		Reconnect    bool              `yaml:"reconnect"`    // reconnect by itself, as socket.io-client does
		// ExpectError makes the connect an expectation that it fails, with
		// this in its error (what the server or the balancer answered).
		ExpectError string `yaml:"expect_error"`
	}
	UsernameArgs struct {
		Client string `yaml:"client"`
		Name   string `yaml:"name"`
	}
	SendArgs struct {
		Client string `yaml:"client"`
		Text   string `yaml:"text"`
		JSON   any    `yaml:"json"`   // socketio, ws: a JSON value (a text frame on ws)
		Binary string `yaml:"binary"` // ws: a binary frame, its bytes in hex
	}
	EmitArgs struct {
		Client string `yaml:"client"`
		Event  string `yaml:"event"`
		Args   []any  `yaml:"args"` // the event's arguments, each any JSON value
		Ack    bool   `yaml:"ack"`  // ask for an acknowledgement and wait for it
	}
	ExpectEmitArgs struct {
		Client  string          `yaml:"client"`
		Event   string          `yaml:"event"`
		Args    []any           `yaml:"args"`    // the arguments, matched as json is by expect_message
		Matches string          `yaml:"matches"` // a regular expression over the arguments as a JSON array
		Within  config.Duration `yaml:"within"`
	}
	ExpectNoMessageArgs struct {
		Client string          `yaml:"client"`
		For    config.Duration `yaml:"for"` // how long nothing may arrive (virtual time)
	}
	DisconnectArgs struct {
		Client string `yaml:"client"`
		Abrupt bool   `yaml:"abrupt"` // no goodbye: drop the TCP connection
	}
	SlowArgs struct {
		Node  string          `yaml:"node"`
		Delay config.Duration `yaml:"delay"`
	}
	ExpectMessageArgs struct {
		Client  string          `yaml:"client"`
		Text    string          `yaml:"text"`    // the whole message: a chat message, a text frame, a Socket.IO "message"
		Matches string          `yaml:"matches"` // or a regular expression it matches
		JSON    any             `yaml:"json"`    // or a JSON value it holds (socketio, ws): objects match on the keys given
		Binary  string          `yaml:"binary"`  // or a binary frame's bytes, in hex (ws)
		Within  config.Duration `yaml:"within"`  // time allowed (real time on the real clock); 0: already there
	}
	ExpectOpenArgs struct {
		Client     string `yaml:"client"`
		Node       string `yaml:"node"`       // optional: the node it is on
		Generation uint64 `yaml:"generation"` // optional: its config generation
	}
	ExpectClosedArgs struct {
		Client string          `yaml:"client"`
		Code   int             `yaml:"code"`   // the close code the client saw: 1000, 1001, 1006 (no close frame)...
		Within config.Duration `yaml:"within"` // time allowed (real time on the real clock); 0: already closed
		Reason string          `yaml:"reason"` // the balancer's: idle_timeout, drained, backend_closed, client_closed, ...
	}
	ExpectReconnectedArgs struct {
		Client string          `yaml:"client"`
		Within config.Duration `yaml:"within"` // time allowed (real time on the real clock); 0: already back
		Node   string          `yaml:"node"`   // optional: the node it is back on
		// Recovered, if set, checks whether it got its session back
		// (connection state recovery: lab.node.recovery) or a new one.
		Recovered *bool `yaml:"recovered"`
	}
	ExpectEventArgs struct {
		Kind    string `yaml:"kind"`
		Source  string `yaml:"source"`
		Backend string `yaml:"backend"`
		Reason  string `yaml:"reason"`
		Detail  string `yaml:"detail"` // a substring of the event's detail
		// Within is the time allowed (real time on the real clock); 0: it
		// has already happened.
		Within config.Duration `yaml:"within"`
	}
	ExpectRejectedArgs struct {
		Contains []string `yaml:"contains"` // substrings of the rejection
	}
	AddNodeArgs struct {
		Join *bool `yaml:"join"` // add it to the server group (default true)
	}
	// ReloadYAMLArgs is a config as text, reloaded as a file would be:
	// unknown fields are rejections at run time, not parse errors.
	ReloadYAMLArgs string
)

// ParseError is a malformed scenario: file:line and what is wrong.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

type rawScenario struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Seed        uint64      `yaml:"seed"`
	Lab         yaml.Node   `yaml:"lab"`
	Steps       []yaml.Node `yaml:"steps"`
}

var lineRE = regexp.MustCompile(`^line (\d+): `)

// Parse reads a scenario. Unknown keys and unknown steps are errors with
// their line; every problem found is reported.
func Parse(file string, data []byte) (*Scenario, error) {
	var raw rawScenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: file, Msg: "empty scenario file"}
		}
		var te *yaml.TypeError
		if !errors.As(err, &te) { // not YAML: nothing more to check
			return nil, yamlErrors(file, 0, err)
		}
		errs = append(errs, yamlErrors(file, 0, err)) // and check the rest
	}
	shape, err := parseShape(file, &raw.Lab)
	sc := &Scenario{Name: raw.Name, Description: strings.TrimSpace(raw.Description), Seed: raw.Seed, Lab: shape, File: file}
	if err != nil {
		errs = append(errs, err)
	}
	if sc.Name == "" {
		errs = append(errs, &ParseError{File: file, Msg: "name: missing"})
	}
	if len(raw.Steps) == 0 {
		errs = append(errs, &ParseError{File: file, Msg: "steps: a scenario needs at least one step"})
	}
	for i := range raw.Steps {
		st, err := parseStep(file, &raw.Steps[i])
		if err != nil {
			errs = append(errs, err)
			// A malformed connect still names its client: no knock-on
			// "not connected" for the steps after it.
			if c, ok := connectedIn(&raw.Steps[i]); ok {
				sc.Steps = append(sc.Steps, Step{Line: raw.Steps[i].Line, Kind: "connect", Args: ConnectArgs{Client: c, Reconnect: true, Protocol: protoAny}})
			}
			continue
		}
		sc.Steps = append(sc.Steps, st)
	}
	errs = append(errs, checkClients(file, sc.Steps)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sc, nil
}

// connectedIn is the client a connect step names, however malformed the
// rest of it.
func connectedIn(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 || n.Content[0].Value != "connect" || n.Content[1].Kind != yaml.MappingNode {
		return "", false
	}
	m := n.Content[1].Content
	for i := 0; i+1 < len(m); i += 2 {
		if m[i].Value == "client" && m[i+1].Value != "" {
			return m[i+1].Value, true
		}
	}
	return "", false
}

// checkClients refuses a step on a client that no earlier step connects:
// a typo in a name is found when the file is read, not after a wait.
func checkClients(file string, steps []Step) []error {
	var errs []error
	known, reconnects, proto := map[string]bool{}, map[string]bool{}, map[string]string{}
	for _, st := range steps {
		v := reflect.ValueOf(st.Args)
		if v.Kind() != reflect.Struct {
			continue
		}
		f := v.FieldByName("Client")
		if !f.IsValid() || f.String() == "" {
			continue
		}
		name := f.String()
		if a, ok := st.Args.(ConnectArgs); ok {
			known[name], reconnects[name], proto[name] = true, a.Reconnect, protocolOf(a)
			continue
		}
		d, _ := stepByName(st.Kind)
		switch {
		case !known[name]:
			errs = append(errs, &ParseError{File: file, Line: st.Line, Msg: fmt.Sprintf("%s: no earlier step connects client %q", st.Kind, name)})
		case st.Kind == "expect_reconnected" && !reconnects[name]:
			errs = append(errs, &ParseError{File: file, Line: st.Line, Msg: fmt.Sprintf("expect_reconnected: client %q does not reconnect by itself (connect it with reconnect: true)", name)})
		default:
			if msg := protocolProblem(d, proto[name], name, st.Args); msg != "" {
				errs = append(errs, &ParseError{File: file, Line: st.Line, Msg: st.Kind + ": " + msg})
			}
		}
	}
	return errs
}

func parseStep(file string, n *yaml.Node) (Step, error) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return Step{}, &ParseError{File: file, Line: n.Line, Msg: "a step is one key, like `advance: 60s` or `connect: {client: alice}`"}
	}
	key, val := n.Content[0], n.Content[1]
	d, known := stepByName(key.Value)
	if !known {
		return Step{}, &ParseError{File: file, Line: key.Line, Msg: fmt.Sprintf("unknown step %q (steps: %s)", key.Value, strings.Join(StepNames(), ", "))}
	}
	typ := d.arg
	st := Step{Line: key.Line, Kind: key.Value}
	if val.Tag == "!!null" { // add_node: with nothing after it
		st.Args = reflect.Zero(typ).Interface()
		return st, checkStep(file, d, st)
	}
	if typ.Kind() == reflect.Struct && typ != reflect.TypeFor[config.Config]() {
		if err := knownKeys(file, key.Value, val, typ); err != nil {
			return Step{}, err
		}
	}
	ptr := reflect.New(typ)
	if typ == reflect.TypeFor[config.Config]() {
		cfg, err := config.ParseNode(val)
		if err != nil {
			return Step{}, configProblems(file, key.Value+": ", val, err)
		}
		ptr.Elem().Set(reflect.ValueOf(cfg))
	} else if err := val.Decode(ptr.Interface()); err != nil {
		return Step{}, yamlErrors(file, 0, err)
	}
	st.Args = ptr.Elem().Interface()
	return st, checkStep(file, d, st)
}

// checkStep runs the step's own validation from the table.
func checkStep(file string, d *stepDef, st Step) error {
	if d.check == nil {
		return nil
	}
	if msg := d.check(st.Args); msg != "" {
		return &ParseError{File: file, Line: st.Line, Msg: st.Kind + ": " + msg}
	}
	return nil
}

// knownKeys refuses keys the step's struct does not have.
func knownKeys(file, step string, n *yaml.Node, typ reflect.Type) error {
	if n.Kind != yaml.MappingNode {
		return &ParseError{File: file, Line: n.Line, Msg: fmt.Sprintf("%s takes a mapping like {%s}", step, strings.Join(tags(typ), ": …, ")+": …")}
	}
	allowed := tags(typ)
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || a == k.Value
		}
		if !ok {
			return &ParseError{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown key %q in %s (keys: %s)", k.Value, step, strings.Join(allowed, ", "))}
		}
	}
	return nil
}

func tags(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		if tag := strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0]; tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// yamlErrors reports decoder errors with the file name.
func yamlErrors(file string, offset int, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return &ParseError{File: file, Line: lineOf(msg, offset), Msg: lineRE.ReplaceAllString(msg, "")}
	}
	var errs []error
	for _, e := range te.Errors {
		errs = append(errs, &ParseError{File: file, Line: lineOf(e, offset), Msg: plainYAML(lineRE.ReplaceAllString(e, ""))})
	}
	return errors.Join(errs...)
}

var (
	unknownKeyRE = regexp.MustCompile(`field (\S+) not found in type \S+`)
	unmarshalRE  = regexp.MustCompile("cannot unmarshal !!\\w+ `(.*)` into (\\S+)")
)

// plainYAML words a decoder's message without Go's type names.
func plainYAML(msg string) string {
	msg = unknownKeyRE.ReplaceAllString(msg, "unknown key $1")
	if m := unmarshalRE.FindStringSubmatch(msg); m != nil {
		want := "a value of another kind"
		switch t := m[2]; {
		case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
			want = "a number"
		case t == "bool":
			want = "true or false"
		case t == "string":
			want = "text"
		case strings.HasPrefix(t, "[]"):
			want = "a list"
		case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
			want = "a mapping like {key: value}"
		}
		msg = fmt.Sprintf("%q is not %s", m[1], want)
	}
	return msg
}

func lineOf(msg string, offset int) int {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n + offset
	}
	return 0
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
