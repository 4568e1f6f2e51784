// Package client is a client for lab nodes, the balancer and the user's own
// servers: Socket.IO v4 (any namespace, events with any arguments, acks)
// over the WebSocket transport or HTTP long-polling (and the upgrade from
// one to the other), the lab chat's plain JSON /ws protocol, or a plain
// WebSocket (text and binary frames, subprotocols). Tests, scenarios and
// the load tool use it to play users.
//
// # Concurrency
//
// A Client owns one reader goroutine, which answers server pings and queues
// events (on polling, it is the one that holds the pending GET); Close and
// CloseNow wait for it. Emit and Next may be called from any goroutine.
package client

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// Transport selects the wire protocol.
type Transport string

// Transports.
const (
	SocketIO Transport = "socketio" // /socket.io/?EIO=4&transport=websocket
	Polling  Transport = "polling"  // /socket.io/?EIO=4&transport=polling, never upgraded
	Upgrade  Transport = "default"  // polling, then the upgrade to WebSocket, as io(url) does
	JSON     Transport = "ws"       // /ws, one JSON object per message
	Plain    Transport = "plain"    // a plain WebSocket on Path: frames as they come
)

// Options configure Dial. URL is required.
type Options struct {
	URL       string      // http://host:port of a node or the balancer
	Transport Transport   // default SocketIO
	Header    http.Header // extra handshake headers (Origin, ...)
	// NoPong makes the client ignore server pings, as a client whose network
	// silently died would.
	NoPong bool
	// Resume presents a session to recover (connection state recovery):
	// the private id and last offset of an earlier client (its PID and
	// Offset). A server that recovers it answers with the same private
	// id (Recovered); any other answer is a new session.
	Resume *Resume

	// Path is where the server listens: Socket.IO's path (default
	// /socket.io/) or a plain WebSocket's (default /). /ws ignores it.
	Path string
	// Namespace is the Socket.IO namespace to connect to (default /).
	Namespace string
	// Query is added to the handshake URL (Socket.IO and plain).
	Query url.Values
	// Subprotocols are offered in a plain WebSocket's handshake, in order
	// of preference.
	Subprotocols []string
}

// Resume is what a client presents to get its session back: Socket.IO's
// CONNECT auth {pid, offset}, /ws's ?token=&offset=.
type Resume struct{ PID, Offset string }

// Event is one event received from the server.
type Event struct {
	Name string // "message", "node", "error", "pong", ...; on a plain WebSocket "text" or "binary"
	// Text is the first argument when it is a string; a plain WebSocket's
	// frame (its bytes, for a binary one).
	Text string
	// Args are a Socket.IO event's arguments after its name, as a JSON
	// array: `["hi",{"n":1}]`. (A string keeps Event comparable.)
	Args string
}

// Client is one connected chat user.
type Client struct {
	conn      *websocket.Conn // nil on polling
	wire      wire
	transport Transport
	opts      Options
	// Response is the handshake response (its X-Lab-Node header names the node).
	Response *http.Response
	// SID is the Socket.IO session id (Socket.IO transport only).
	SID string
	// EngineSID is the Engine.IO session id of a session that started on
	// long-polling (Polling, Upgrade).
	EngineSID string
	// Subprotocol is the one the server chose (plain WebSocket).
	Subprotocol string
	// LocalAddr is the client's end of the TCP connection, as the server
	// (or balancer) sees it.
	LocalAddr string

	pongs chan struct{} // answers to Ping

	done chan struct{}

	// mu guards the fields below.
	mu     sync.Mutex
	queue  []Event
	notify chan struct{}                  // closed and replaced when an event is queued
	err    error                          // why the reader stopped
	acks   map[int]chan []json.RawMessage // EmitAck's, by ack id
	ackID  int                            // the next ack id, for EmitAck and EmitID

	// Recovery (recovery.go), also guarded by mu.
	pid       string
	recovered bool
	offset    string
	msgAcks   map[int]string // EmitID's: ack id → message id
}

// LocalAddrs is the client's end of each of its TCP connections, as the
// server (or balancer) sees them, first to last: LocalAddr alone on a
// WebSocket; on long-polling, every keep-alive connection its requests
// have used (a balancer sees a poll come from any of them).
func (c *Client) LocalAddrs() []string {
	if w, ok := c.wire.(*pollWire); ok {
		return w.localAddrs()
	}
	return []string{c.LocalAddr}
}

// Dial connects and, for Socket.IO, completes the Engine.IO open and the
// Socket.IO connect before returning.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	if opts.Transport == "" {
		opts.Transport = SocketIO
	}
	u := strings.Replace(strings.TrimSuffix(opts.URL, "/"), "http", "ws", 1)
	switch opts.Transport {
	case SocketIO:
		u += opts.engineIO("websocket")
	case JSON:
		u += "/ws"
		if r := opts.Resume; r != nil {
			u += "?" + url.Values{"token": {r.PID}, "offset": {r.Offset}}.Encode()
		}
	case Plain:
		u += withQuery(cmp.Or(opts.Path, "/"), opts.Query)
	case Polling, Upgrade:
		return dialPolling(ctx, opts)
	default:
		return nil, fmt.Errorf("client: unknown transport %q (want socketio, polling, default, ws or plain)", opts.Transport)
	}
	var local net.Addr
	var d net.Dialer
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				local = nc.LocalAddr()
			}
			return nc, err
		},
	}}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: opts.Header, HTTPClient: hc, Subprotocols: opts.Subprotocols})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	conn.SetReadLimit(1 << 20)
	c := newClient(opts, wsWire{conn}, resp)
	c.conn = conn
	c.Subprotocol = conn.Subprotocol()
	if local != nil {
		c.LocalAddr = local.String()
	}
	return c.start(ctx)
}

// engineIO is the path and query of an Engine.IO request on transport.
func (o Options) engineIO(transport string) string {
	q := url.Values{}
	for k, v := range o.Query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", transport)
	return withQuery(cmp.Or(o.Path, "/socket.io/"), q)
}

func withQuery(path string, q url.Values) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// nsp is the namespace prefix of a Socket.IO packet: "" for the main
// namespace, "/chat," for /chat.
func (o Options) nsp() string {
	if o.Namespace == "" || o.Namespace == "/" {
		return ""
	}
	return o.Namespace + ","
}

func newClient(opts Options, w wire, resp *http.Response) *Client {
	return &Client{wire: w, transport: opts.Transport, opts: opts, Response: resp, done: make(chan struct{}), notify: make(chan struct{}), pongs: make(chan struct{}, 1), acks: map[int]chan []json.RawMessage{}}
}

// start opens Socket.IO (if spoken) and starts the reader.
func (c *Client) start(ctx context.Context) (*Client, error) {
	if c.socketIO() {
		if err := c.openSocketIO(ctx); err != nil {
			c.wire.closeNow()
			return nil, err
		}
	}
	if c.transport == Upgrade {
		if err := c.upgrade(ctx); err != nil {
			c.wire.closeNow()
			return nil, err
		}
	}
	go c.readLoop()
	return c, nil
}

// openSocketIO reads the Engine.IO open packet, sends the Socket.IO connect
// and waits for its answer. Events that come before the answer are queued
// and delivered after it, in order, as socket.io-client does: a
// python-socketio server emits from its connect handler before it sends the
// CONNECT reply.
func (c *Client) openSocketIO(ctx context.Context) error {
	open, err := c.wire.read(ctx)
	if err != nil {
		return fmt.Errorf("read engine.io open: %w", err)
	}
	if len(open) == 0 || open[0] != '0' {
		return fmt.Errorf("client: want engine.io open packet, got %q", open)
	}
	connect := []byte("40" + c.opts.nsp())
	if r := c.opts.Resume; r != nil {
		auth, _ := json.Marshal(map[string]string{"pid": r.PID, "offset": r.Offset})
		connect = append(connect, auth...)
	}
	if err := c.wire.write(ctx, connect); err != nil {
		return fmt.Errorf("send socket.io connect: %w", err)
	}
	for {
		p, err := c.wire.read(ctx)
		if err != nil {
			return fmt.Errorf("read socket.io connect: %w", err)
		}
		if string(p) == "1" {
			return errors.New("client: server closed the engine.io session before answering the socket.io connect")
		}
		pk, ok := parsePacket(string(p))
		if !ok || pk.nsp != c.opts.nsp() {
			if ev, ok := c.decode(string(p)); ok {
				c.push(ev)
			}
			continue
		}
		switch pk.typ {
		case '0':
			var v struct{ SID, PID string }
			if err := json.Unmarshal([]byte(pk.data), &v); err != nil {
				return fmt.Errorf("client: bad socket.io connect reply %q", p)
			}
			c.SID = v.SID
			c.setSession(v.PID)
			return nil
		case '4':
			return fmt.Errorf("client: server refused the socket.io connect: %s", connectError(pk.data))
		default:
			if ev, ok := c.decode(string(p)); ok {
				c.push(ev)
			}
		}
	}
}

// socketIO reports whether the client speaks Socket.IO.
func (c *Client) socketIO() bool { return c.transport != JSON && c.transport != Plain }

// connectError is the reason in a CONNECT_ERROR payload: {"message": ...}
// since Socket.IO 3, a bare string before.
func connectError(payload string) string {
	var v struct{ Message string }
	if json.Unmarshal([]byte(payload), &v) == nil && v.Message != "" {
		return v.Message
	}
	var text string
	if json.Unmarshal([]byte(payload), &text) == nil && text != "" {
		return text
	}
	return payload
}

// Node is the name of the node that served the handshake (X-Lab-Node).
func (c *Client) Node() string { return c.Response.Header.Get("X-Lab-Node") }

// Conn exposes the WebSocket, for tests that send raw frames; nil on
// polling (until an Upgrade client upgraded, which Dial waits for).
func (c *Client) Conn() *websocket.Conn { return c.conn }

// wire carries a client's text messages: a WebSocket, or long-polling.
type wire interface {
	read(ctx context.Context) ([]byte, error)
	write(ctx context.Context, p []byte) error
	close() error // a clean goodbye (after the Socket.IO disconnect)
	closeNow() error
}

type wsWire struct{ c *websocket.Conn }

func (w wsWire) read(ctx context.Context) ([]byte, error) {
	_, p, err := w.c.Read(ctx)
	return p, err
}

func (w wsWire) write(ctx context.Context, p []byte) error {
	return w.c.Write(ctx, websocket.MessageText, p)
}

func (w wsWire) close() error    { return w.c.Close(websocket.StatusNormalClosure, "") }
func (w wsWire) closeNow() error { return w.c.CloseNow() }
