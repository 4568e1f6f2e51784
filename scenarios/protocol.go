package scenarios

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

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
