package scenarios

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

// stepDef is one step of the scenario language: the only place a step is
// defined. The parser (parseStep), the dispatcher (run.step), the README's
// step list (StepList) and the Go driver's methods (checked by a test) all
// come from the table below.
type stepDef struct {
	name   string
	arg    reflect.Type
	syntax string // how its argument is written, for a scalar (NODE, DURATION)
	doc    string // one line for the README
	// check validates the decoded argument when the file is read; "" is fine.
	check func(a any) string
	run   func(r *run, ctx context.Context, a any) error
	// protocols limits a client step to clients of these protocols (nil:
	// any); forProtocol checks its argument against its client's protocol.
	// Both are checked when the file is read (protocol.go).
	protocols   []string
	forProtocol func(proto string, a any) string
}

// def builds a table row with a typed check and run function.
func def[A any](name, syntax, doc string, check func(A) string, fn func(*run, context.Context, A) error) stepDef {
	d := stepDef{name: name, arg: reflect.TypeFor[A](), syntax: syntax, doc: doc}
	if check != nil {
		d.check = func(a any) string { return check(a.(A)) }
	}
	d.run = func(r *run, ctx context.Context, a any) error {
		v, ok := a.(A)
		if !ok {
			return fmt.Errorf("%s takes %s, got %T", name, d.arg, a)
		}
		return fn(r, ctx, v)
	}
	return d
}

// nodeFault is a fault step on one node: a thin call into the lab.
func nodeFault(kind, doc string) stepDef {
	return def(kind, "NODE", doc, needValue, func(r *run, ctx context.Context, node string) error {
		return r.fault(ctx, kind, node, 0)
	})
}

var stepTable = []stepDef{
	def("connect", "", "a client joins, through the balancer or straight to a node (`via: node-1`), speaking a `protocol`: "+
		"`chat` (the lab's chat over Socket.IO, the default), `chat_ws` (the same chat over the /ws JSON protocol), "+
		"`socketio` (any Socket.IO app: `namespace`, `path`) or `ws` (a plain WebSocket on `path`, offering `subprotocols`); "+
		"`transport` is the Engine.IO transport of chat and socketio: `websocket` (the default), `polling` or `default` (polling, then the upgrade, as `io(url)`); "+
		"`headers` and `query` go with the handshake; `heartbeat` pings that often; "+
		"`reconnect: true` reconnects by itself as socket.io-client does (after 1 s doubling to 5 s, ±50 % jitter drawn from the seed); "+
		"`expect_error` expects the connect to fail with that in its error",
		checkConnect, (*run).connect),
	onlyFor(def("set_username", "", "sets a chat username and waits for the confirmation",
		needClient[UsernameArgs], (*run).setUsername), protoChat, protoChatWS),
	perProtocol(def("send", "", "sends a chat message and waits until the sender has its answer; "+
		"socketio: a `message` event of `text` or `json`; ws: a frame of `text`, `json` or `binary` (hex)",
		checkSend, (*run).send), sendFor),
	onlyFor(def("emit", "", "a socketio client emits `event` with `args` (any JSON values); `ack: true` waits for the server's acknowledgement",
		func(a EmitArgs) string {
			return cond(a.Client == "", "client is required") + cond(a.Client != "" && a.Event == "", "event is required")
		}, (*run).emit), protoSocketIO),
	def("disconnect", "", "the client leaves (a 1000 close); `abrupt: true` drops the TCP connection",
		needClient[DisconnectArgs], (*run).disconnect),
	def("advance", "DURATION", "moves virtual time forward, one timer at a time (on the real clock: waits that long)",
		positive, func(r *run, ctx context.Context, d config.Duration) error {
			r.say("advance %s", time.Duration(d))
			return r.advance(ctx, time.Duration(d))
		}),
	def("reload", "CONFIG", "applies a whole balancer config; servers default to the running ones, "+
		"and a server given by name only is the lab's node", nil,
		func(r *run, _ context.Context, cfg config.Config) error { return r.reloadStep(cfg) }),
	def("reload_yaml", "TEXT", "applies config text, checked as a file would be (problems are a rejection, not a parse error)",
		nil, func(r *run, _ context.Context, a ReloadYAMLArgs) error {
			if p := r.lab.Proxy; p != nil {
				gen, err := p.ReloadYAML(context.Background(), []byte(a))
				return r.reloaded(gen, err)
			}
			gen, err := r.lab.Balancer.ReloadYAML([]byte(a))
			return r.reloaded(gen, err)
		}),
	nodeFault("kill", "crashes a node: its connections end with no close frame"),
	nodeFault("stop", "stops a node gracefully (SIGTERM): its connections get a 1001 close; with the node's `stop_grace`, "+
		"its health check fails at once and it serves on (new connections too) until the grace is over"),
	nodeFault("hang", "freezes a node: it accepts nothing and answers nothing"),
	nodeFault("start", "starts a stopped, killed or hung node again on its port"),
	nodeFault("restart", "stops a node and starts it again"),
	def("slow", "", "delays everything a node sends by `delay`",
		func(a SlowArgs) string { return cond(a.Node == "", "node is required") },
		func(r *run, ctx context.Context, a SlowArgs) error {
			return r.fault(ctx, "slow", a.Node, time.Duration(a.Delay))
		}),
	def("link", "", "sets or clears faults on a link of a lab with `links: true` (`client`, or a node's name): "+
		"`latency`, `jitter`, `bandwidth` (`direction` up, down or both), `blackhole`, `reset_new`, `slow_close`; "+
		"acts on its open connections with `reset`, and on the client link with `nat_drop` and `move`; `clear` first cleans it",
		checkLink, (*run).linkStep),
	def("redis", "down|up|up_empty", "cuts Redis, brings it back, or brings it back empty (a restart without persistence)",
		checkRedis, func(r *run, ctx context.Context, a string) error { return r.redis(ctx, a) }),
	def("add_node", "", "starts one more node and adds it to the server group (`join: false`: outside the group)",
		nil, (*run).addNode),
	def("remove_node", "NODE", "removes a node from the server group: it drains for the deregistration delay",
		needValue, func(r *run, _ context.Context, node string) error {
			r.say("remove %s from the server group", node)
			return r.lab.RemoveNode(node)
		}),
	perProtocol(def("expect_message", "", "the client receives a message (at once, or `within` that much time): "+
		"`text` is the whole of it (a chat message, a text frame, a Socket.IO `message` event), `matches` a regular expression, "+
		"`json` a JSON value it holds (objects match on the keys given), `binary` a binary frame (hex)",
		checkExpectMessage, (*run).expectMessage), expectMessageFor),
	onlyFor(def("expect_emit", "", "a socketio client receives `event` (at once, or `within`), with `args` (matched as `json` is) or whose arguments as a JSON array match `matches`",
		checkExpectEmit, (*run).expectEmit), protoSocketIO),
	def("expect_no_message", "", "nothing reaches the client `for` that much time (virtual time runs)",
		func(a ExpectNoMessageArgs) string {
			return cond(a.Client == "", "client is required") + cond(a.Client != "" && a.For <= 0, "for must be a positive duration, like 5s")
		}, (*run).expectNoMessage),
	def("expect_open", "", "the client's connection is open (on `node`, under config `generation`)",
		needClient[ExpectOpenArgs], (*run).expectOpen),
	def("expect_closed", "", "the client's connection ended (at once, or `within` that much time) with the close `code` "+
		"the client saw (1000, 1001, 1006 for no close frame...); `reason` also checks the balancer's (or `client_closed`, `backend_closed`: any of that side)",
		checkClosed, (*run).expectClosed),
	def("expect_reconnected", "", "a client connected with `reconnect: true` is connected again after its last close (at once, or `within`), on `node`; "+
		"`recovered: true` checks it got its session back (connection state recovery, `lab.node.recovery`), `false` a new session",
		func(a ExpectReconnectedArgs) string { return clientWithin(a.Client, a.Within) }, (*run).expectReconnected),
	def("expect_spread", "{NODE: N}", "the balancer has exactly this many open connections per node",
		nil, (*run).expectSpread),
	def("expect_event", "", "an event of the lab matches (`detail` is a substring), at once or `within` that much time",
		checkEvent, (*run).expectEvent),
	def("expect_reload_rejected", "", "the last reload was rejected, mentioning each of `contains`",
		nil, func(r *run, _ context.Context, a ExpectRejectedArgs) error { return r.expectRejected(a) }),
}

func cond(bad bool, msg string) string {
	if bad {
		return msg
	}
	return ""
}

func needValue(s string) string { return cond(s == "", "needs a value") }

func positive(d config.Duration) string {
	return cond(d <= 0, "the duration must be positive, like 60s")
}

// needClient checks the client field, the first of every client step.
func needClient[A any](a A) string {
	return cond(reflect.ValueOf(a).Field(0).String() == "", "client is required")
}

func checkRedis(a string) string {
	if a != "down" && a != "up" && a != "up_empty" {
		return fmt.Sprintf("%q is not down, up or up_empty (back without its data)", a)
	}
	return ""
}

func checkClosed(a ExpectClosedArgs) string {
	switch {
	case a.Client == "":
		return "client is required"
	case a.Code != 0 && (a.Code < 1000 || a.Code > 4999):
		return fmt.Sprintf("code %d is not a WebSocket close code (1000-4999: 1000 normal, 1001 going away, 1006 no close frame)", a.Code)
	}
	if msg := clientWithin(a.Client, a.Within); msg != "" {
		return msg
	}
	return checkReason(a.Reason)
}

// clientWithin checks the client and the window of an expectation.
func clientWithin(client string, within config.Duration) string {
	switch {
	case client == "":
		return "client is required"
	case within < 0:
		return fmt.Sprintf("within %s is negative: a window of time, like 5s", time.Duration(within))
	}
	return ""
}

func checkEvent(a ExpectEventArgs) string {
	if a.Kind == "" {
		return "kind is required: " + kindList()
	}
	if a.Within < 0 {
		return fmt.Sprintf("within %s is negative: a window of time, like 5s", time.Duration(a.Within))
	}
	if !slices.Contains(events.Kinds(), events.Kind(a.Kind)) {
		return fmt.Sprintf("kind %q is not an event kind: %s", a.Kind, kindList())
	}
	if a.Kind == string(events.ConnClosed) {
		return checkReason(a.Reason)
	}
	return ""
}

func kindList() string {
	var ks []string
	for _, k := range events.Kinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// checkReason checks a close reason: the balancer's, a group of them, or a
// node's (for a client connected straight to a node).
func checkReason(reason string) string {
	groups := []string{balancer.ReasonClientClosed, balancer.ReasonBackendClosed}
	if reason == "" || slices.Contains(balancer.CloseReasons(), reason) || slices.Contains(groups, reason) ||
		slices.Contains(node.CloseReasons(), reason) {
		return ""
	}
	return fmt.Sprintf("reason %q is not a close reason (the balancer's: %s; any of a side: %s; a node's, via a node: %s)",
		reason, strings.Join(balancer.CloseReasons(), ", "), strings.Join(groups, ", "), strings.Join(node.CloseReasons(), ", "))
}

// stepByName finds a step's row.
func stepByName(name string) (*stepDef, bool) {
	for i := range stepTable {
		if stepTable[i].name == name {
			return &stepTable[i], true
		}
	}
	return nil, false
}

// StepInfo describes one step of the scenario language.
type StepInfo struct {
	Name   string       // as written in a file: expect_closed
	Arg    reflect.Type // the Go type of its argument (Session.Step takes it)
	Syntax string       // how its argument is written: {client, code, within, reason} or NODE
	Doc    string       // one line
}

// Steps lists the steps a scenario may use, in the order of the README.
func Steps() []StepInfo {
	var out []StepInfo
	for _, d := range stepTable {
		syn := d.syntax
		if syn == "" {
			syn = "{" + strings.Join(tags(d.arg), ", ") + "}"
		}
		out = append(out, StepInfo{Name: d.name, Arg: d.arg, Syntax: syn, Doc: d.doc})
	}
	return out
}

// StepNames lists the steps a scenario may use, sorted.
func StepNames() []string {
	var out []string
	for _, d := range stepTable {
		out = append(out, d.name)
	}
	slices.Sort(out)
	return out
}

// StepList is the README's list of steps, one Markdown line each.
func StepList() string {
	var b strings.Builder
	for _, s := range Steps() {
		fmt.Fprintf(&b, "- `%s: %s` — %s\n", s.Name, s.Syntax, s.Doc)
	}
	return b.String()
}
