package scenarios

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/node/client"
)

// What a scenario client speaks (connect's protocol).
const (
	protoChat     = "chat"     // the lab's chat over Socket.IO
	protoChatWS   = "chat_ws"  // the lab's chat over its /ws JSON protocol
	protoSocketIO = "socketio" // any Socket.IO app
	protoWS       = "ws"       // a plain WebSocket
	protoAny      = "*"        // a client whose connect step was malformed: no knock-on problems
)

var protocols = []string{protoChat, protoChatWS, protoSocketIO, protoWS}

// Engine.IO transports (connect's transport, for chat and socketio).
var transports = map[string]client.Transport{"websocket": client.SocketIO, "polling": client.Polling, "default": client.Upgrade}

// onlyFor limits a client step to clients of these protocols.
func onlyFor(d stepDef, protocols ...string) stepDef {
	d.protocols = protocols
	return d
}

// perProtocol adds a check of a step's argument against its client's
// protocol.
func perProtocol[A any](d stepDef, check func(proto string, a A) string) stepDef {
	d.forProtocol = func(proto string, a any) string { return check(proto, a.(A)) }
	return d
}

// protocolProblem is what is wrong with a step for a client speaking
// proto, or "".
func protocolProblem(d *stepDef, proto string, client string, a any) string {
	if proto == protoAny {
		return ""
	}
	if d.protocols != nil && !slices.Contains(d.protocols, proto) {
		return fmt.Sprintf("client %q speaks %s; %s is for %s", client, proto, d.name, orList(d.protocols))
	}
	if d.forProtocol != nil {
		return d.forProtocol(proto, a)
	}
	return ""
}

// clientOf is the client a step names, if it names one.
func clientOf(a any) string {
	v := reflect.ValueOf(a)
	if v.Kind() != reflect.Struct {
		return ""
	}
	if f := v.FieldByName("Client"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func protocolOf(a ConnectArgs) string { return cmp.Or(a.Protocol, protoChat) }

func checkConnect(a ConnectArgs) string {
	var bad []string
	add := func(msg string) { bad = append(bad, msg) }
	if a.Client == "" {
		add("client is required")
	}
	proto := protocolOf(a)
	if !slices.Contains(protocols, proto) {
		add(fmt.Sprintf("protocol %q is not %s", a.Protocol, orList(protocols)))
	}
	socketIO := proto == protoChat || proto == protoSocketIO
	switch _, ok := transports[a.Transport]; {
	case a.Transport == "ws":
		add("transport: ws (the chat over the /ws JSON protocol) is now spelled protocol: chat_ws; " +
			"transport picks the Engine.IO transport: websocket, polling or default")
	case a.Transport == "socketio":
		add("transport: socketio (the chat over Socket.IO) is now protocol: chat, the default: remove it; " +
			"transport picks the Engine.IO transport: websocket, polling or default")
	case a.Transport != "" && !ok:
		add(fmt.Sprintf("transport %q is not websocket, polling or default (Engine.IO's transports)", a.Transport))
	case a.Transport != "" && !socketIO:
		add(fmt.Sprintf("transport %s is an Engine.IO transport, for protocol chat or socketio; a %s client is a WebSocket", a.Transport, proto))
	}
	if a.Namespace != "" && proto != protoSocketIO {
		add("namespace is for protocol: socketio")
	} else if a.Namespace != "" && !strings.HasPrefix(a.Namespace, "/") {
		add(fmt.Sprintf("namespace %q must start with /, like /orders", a.Namespace))
	}
	if a.Path != "" && proto != protoSocketIO && proto != protoWS {
		add(fmt.Sprintf("path is for protocol socketio or ws; the %s protocol's path is the lab's", proto))
	} else if a.Path != "" && !strings.HasPrefix(a.Path, "/") {
		add(fmt.Sprintf("path %q must start with /", a.Path))
	}
	if len(a.Subprotocols) > 0 && proto != protoWS {
		add("subprotocols are for protocol: ws")
	}
	if a.Heartbeat < 0 {
		add("heartbeat must be positive, like 30s")
	} else if a.Heartbeat > 0 && proto == protoSocketIO {
		add("heartbeat: a Socket.IO server pings its clients itself; heartbeat is for chat, chat_ws and ws")
	}
	if a.ExpectError != "" && a.Reconnect {
		add("expect_error with reconnect: a connect expected to fail does not reconnect")
	}
	return strings.Join(bad, "; ")
}

// exactlyOne checks that one of the given fields (name → set) is set.
func exactlyOne(names []string, set ...bool) string {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	switch {
	case n == 0:
		return "give one of " + orList(names)
	case n > 1:
		return "give only one of " + orList(names)
	}
	return ""
}

func checkHex(field, s string) string {
	if _, err := hex.DecodeString(strings.ReplaceAll(s, " ", "")); err != nil {
		return fmt.Sprintf("%s %q is not hex bytes, like 0a1b2c", field, s)
	}
	return ""
}

func checkSend(a SendArgs) string {
	if a.Client == "" {
		return "client is required"
	}
	if a.JSON != nil || a.Binary != "" {
		if msg := exactlyOne([]string{"text", "json", "binary"}, a.Text != "", a.JSON != nil, a.Binary != ""); msg != "" {
			return msg
		}
	}
	if a.Binary != "" {
		return checkHex("binary", a.Binary)
	}
	return ""
}

func sendFor(proto string, a SendArgs) string {
	switch {
	case proto == protoChat || proto == protoChatWS:
		return cond(a.JSON != nil || a.Binary != "", "a chat message is text: json and binary are for socketio and ws clients")
	case proto == protoSocketIO && a.Binary != "":
		return "binary: Socket.IO binary packets are not supported; send json or text"
	}
	return ""
}

func checkExpectMessage(a ExpectMessageArgs) string {
	if msg := clientWithin(a.Client, a.Within); msg != "" {
		return msg
	}
	if msg := exactlyOne([]string{"text", "matches", "json", "binary"}, a.Text != "", a.Matches != "", a.JSON != nil, a.Binary != ""); msg != "" {
		return msg
	}
	if a.Binary != "" {
		return checkHex("binary", a.Binary)
	}
	return checkRegexp(a.Matches)
}

func checkRegexp(re string) string {
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Sprintf("matches %q is not a regular expression: %v", re, err)
	}
	return ""
}

func expectMessageFor(proto string, a ExpectMessageArgs) string {
	switch {
	case (proto == protoChat || proto == protoChatWS) && (a.JSON != nil || a.Binary != ""):
		return "a chat message is text: give text or matches (json and binary are for socketio and ws clients)"
	case proto == protoSocketIO && a.Binary != "":
		return "binary: Socket.IO binary packets are not supported"
	}
	return ""
}

func checkExpectEmit(a ExpectEmitArgs) string {
	switch {
	case a.Client == "":
		return "client is required"
	case a.Event == "":
		return "event is required"
	case a.Args != nil && a.Matches != "":
		return "give only one of args or matches"
	}
	if msg := clientWithin(a.Client, a.Within); msg != "" {
		return msg
	}
	return checkRegexp(a.Matches)
}

// clientOptions is how p's client dials url.
func (p *player) clientOptions(u string) client.Options {
	o := client.Options{URL: u, Path: p.args.Path, Namespace: p.args.Namespace, Subprotocols: p.args.Subprotocols}
	switch p.protocol {
	case protoChatWS:
		o.Transport = client.JSON
	case protoWS:
		o.Transport = client.Plain
	default:
		o.Transport = transports[cmp.Or(p.args.Transport, "websocket")]
	}
	if len(p.args.Headers) > 0 {
		o.Header = http.Header{}
		for k, v := range p.args.Headers {
			o.Header.Set(k, v)
		}
	}
	if len(p.args.Query) > 0 {
		o.Query = url.Values{}
		for k, v := range p.args.Query {
			o.Query.Set(k, v)
		}
	}
	return o
}

// chat reports whether p speaks the lab's chat (its messages are counted).
func (p *player) chat() bool { return p.protocol == protoChat || p.protocol == protoChatWS }

// describe is how the transcript names p's connection: socketio and ws
// for the chat as before, the protocol and its options for the others.
func (p *player) describe() string {
	a := p.args
	switch p.protocol {
	case protoChatWS:
		return "ws"
	case protoChat:
		if a.Transport != "" && a.Transport != "websocket" {
			return "socketio " + a.Transport
		}
		return "socketio"
	case protoSocketIO:
		s := "socket.io " + cmp.Or(a.Namespace, "/")
		if a.Path != "" {
			s += " at " + a.Path
		}
		return s + " over " + cmp.Or(a.Transport, "websocket")
	}
	s := "websocket " + cmp.Or(a.Path, "/")
	if len(a.Subprotocols) > 0 {
		s += " offering " + strings.Join(a.Subprotocols, ",")
	}
	return s
}

// jsonText is v as compact JSON, for the transcript and for matching.
func jsonText(v any) string {
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonable turns what YAML decoded (map[string]any, []any...) into what
// encoding/json takes.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

// holds reports whether the JSON text got holds want: an object holds
// the keys given with values that hold theirs, anything else is equal
// (numbers compared as numbers).
func holds(got string, want any) bool {
	dec := json.NewDecoder(bytes.NewReader([]byte(got)))
	var g any
	if dec.Decode(&g) != nil {
		return false
	}
	var w any
	json.Unmarshal([]byte(jsonText(want)), &w) // the same number types as g
	return contains(g, w)
}

func contains(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if gv, ok := g[k]; !ok || !contains(gv, v) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !contains(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// hexBytes decodes a checked hex field.
func hexBytes(s string) []byte {
	b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	return b
}

// quoteEvent is how the transcript shows an event received: its name and
// arguments, a frame as text or hex.
func quoteEvent(ev client.Event) string {
	switch ev.Name {
	case "text":
		return fmt.Sprintf("text %q", ev.Text)
	case "binary":
		return "binary " + hex.EncodeToString([]byte(ev.Text))
	}
	return fmt.Sprintf("%q %s", ev.Name, ev.Args)
}

// emit sends a Socket.IO event; with ack, it waits for the server's
// acknowledgement and says what it carried.
func (r *run) emit(ctx context.Context, a EmitArgs) error {
	p, err := r.openPlayer(a.Client)
	if err != nil {
		return err
	}
	args := make([]json.RawMessage, len(a.Args))
	for i, v := range a.Args {
		args[i] = json.RawMessage(jsonText(v))
	}
	shown := jsonText(a.Args)
	if a.Args == nil {
		shown = "[]"
	}
	r.say("%s emits %q %s", a.Client, a.Event, shown)
	if !a.Ack {
		before := p.c.Pending()
		if err := p.c.EmitArgs(ctx, a.Event, args...); err != nil {
			return fmt.Errorf("%s: %w", a.Client, err)
		}
		r.landed(ctx, p, before)
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	ack, err := p.c.EmitAck(actx, a.Event, args...)
	if err != nil {
		return &expectError{want: fmt.Sprintf("%s's %q is acknowledged", a.Client, a.Event), observed: err.Error()}
	}
	r.say("%s's %q is acknowledged: %s", a.Client, a.Event, jsonText(ack))
	return nil
}

// landed waits, after a client sent something, until an answer came back
// or the lab has been quiet a moment: what was sent has crossed before
// time moves.
func (r *run) landed(ctx context.Context, p *player, before int) {
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	r.waitUntil(wctx, stepQuiet, func() (bool, string) { return p.c.Pending() > before, "" })
}

// openPlayer is a client whose connection is open.
func (r *run) openPlayer(name string) (*player, error) {
	p, err := r.player(name)
	if err != nil {
		return nil, err
	}
	if !p.open {
		return nil, fmt.Errorf("client %q is not connected", name)
	}
	return p, nil
}

// sendRaw is send for socketio and ws clients: a "message" event, or a
// frame.
func (r *run) sendRaw(ctx context.Context, p *player, a SendArgs) error {
	before := p.c.Pending()
	var err error
	switch {
	case p.protocol == protoSocketIO && a.JSON != nil:
		r.say("%s sends json %s", a.Client, jsonText(a.JSON))
		err = p.c.EmitArgs(ctx, "message", json.RawMessage(jsonText(a.JSON)))
	case p.protocol == protoSocketIO:
		r.say("%s sends %q", a.Client, a.Text)
		err = p.c.Emit(ctx, "message", a.Text)
	case a.Binary != "":
		r.say("%s sends binary %s", a.Client, hex.EncodeToString(hexBytes(a.Binary)))
		err = p.c.Send(ctx, true, hexBytes(a.Binary))
	case a.JSON != nil:
		r.say("%s sends json %s", a.Client, jsonText(a.JSON))
		err = p.c.Send(ctx, false, []byte(jsonText(a.JSON)))
	default:
		r.say("%s sends text %q", a.Client, a.Text)
		err = p.c.Send(ctx, false, []byte(a.Text))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", a.Client, err)
	}
	r.landed(ctx, p, before)
	return nil
}

// messageMatch is expect_message's test of one event of a socketio or ws
// client, and how the transcript says what was expected.
func messageMatch(a ExpectMessageArgs) (func(client.Event) bool, string) {
	re := regexp.MustCompile(a.Matches) // checked when read
	// body is the message as text: a frame, or a "message" event's first
	// argument (a string as itself, anything else as JSON).
	body := func(ev client.Event) (string, bool) {
		switch ev.Name {
		case "text":
			return ev.Text, true
		case "message":
			var args []json.RawMessage
			if json.Unmarshal([]byte(ev.Args), &args) != nil || len(args) == 0 {
				return "", false
			}
			var s string
			if json.Unmarshal(args[0], &s) == nil {
				return s, true
			}
			return string(args[0]), true
		}
		return "", false
	}
	switch {
	case a.Binary != "":
		want := string(hexBytes(a.Binary))
		return func(ev client.Event) bool { return ev.Name == "binary" && ev.Text == want }, "binary " + hex.EncodeToString(hexBytes(a.Binary))
	case a.JSON != nil:
		return func(ev client.Event) bool {
			s, ok := body(ev)
			return ok && holds(s, a.JSON)
		}, "json " + jsonText(a.JSON)
	case a.Matches != "":
		return func(ev client.Event) bool {
			s, ok := body(ev)
			return ok && re.MatchString(s)
		}, fmt.Sprintf("a message matching %q", a.Matches)
	}
	return func(ev client.Event) bool {
		s, ok := body(ev)
		return ok && s == a.Text
	}, fmt.Sprintf("%q", a.Text)
}

// takeEvent waits (at once, or within window) for an event of p that
// match accepts and takes it; the others stay for later expectations.
func (r *run) takeEvent(ctx context.Context, p *player, window time.Duration, what string, match func(client.Event) bool) error {
	want := fmt.Sprintf("%s receives %s", p.name, what)
	err := r.within(ctx, window, want, func() (bool, string) {
		p.pull()
		if i := slices.IndexFunc(p.events, match); i >= 0 {
			p.events = slices.Delete(p.events, i, i+1)
			return true, ""
		}
		var seen []string
		for _, ev := range p.events[max(0, len(p.events)-5):] {
			seen = append(seen, quoteEvent(ev))
		}
		obs := "received nothing not yet expected"
		if len(seen) > 0 {
			obs = "received " + strings.Join(seen, ", ")
			if len(p.events) > 5 {
				obs = fmt.Sprintf("received %d, the last: %s", len(p.events), strings.Join(seen, ", "))
			}
		}
		if p.c != nil {
			select {
			case <-p.c.Done():
				obs += fmt.Sprintf(", then the connection closed: %v", p.c.Err())
			default:
			}
		}
		return false, obs
	})
	if err != nil {
		return err
	}
	r.say("%s", want)
	return nil
}

func (r *run) expectEmit(ctx context.Context, a ExpectEmitArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(a.Matches) // checked when read
	what := fmt.Sprintf("%q", a.Event)
	switch {
	case a.Args != nil:
		what += " with " + jsonText(a.Args)
	case a.Matches != "":
		what += fmt.Sprintf(" matching %q", a.Matches)
	}
	return r.takeEvent(ctx, p, time.Duration(a.Within), what, func(ev client.Event) bool {
		return ev.Name == a.Event && (a.Args == nil || holds(ev.Args, a.Args)) && re.MatchString(ev.Args)
	})
}

// expectNoMessage lets time run for the window and fails at the first
// message that arrives meanwhile.
func (r *run) expectNoMessage(ctx context.Context, a ExpectNoMessageArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	p.pull()
	before := p.arrived
	want := fmt.Sprintf("%s receives nothing for %s", a.Client, time.Duration(a.For))
	err = r.within(ctx, time.Duration(a.For), "", func() (bool, string) {
		p.pull()
		return p.arrived > before, ""
	})
	var ee *expectError
	switch {
	case errors.As(err, &ee): // nothing came: what was wanted
		r.say("%s", want)
		return nil
	case err != nil:
		return err
	}
	return &expectError{want: want, observed: fmt.Sprintf("at %s it received %s", stamp(r.now()), p.lastArrived)}
}
