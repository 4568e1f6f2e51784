// Package client is a chat client for lab nodes and the balancer: Socket.IO
// v4 over the WebSocket transport or HTTP long-polling (and the upgrade from
// one to the other), or the plain JSON /ws protocol. Tests, scenarios and
// the load tool use it to play users.
//
// # Concurrency
//
// A Client owns one reader goroutine, which answers server pings and queues
// events (on polling, it is the one that holds the pending GET); Close and
// CloseNow wait for it. Emit and Next may be called from any goroutine.
package client

import (
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
}

// Resume is what a client presents to get its session back: Socket.IO's
// CONNECT auth {pid, offset}, /ws's ?token=&offset=.
type Resume struct{ PID, Offset string }

// Event is one event received from the server.
type Event struct {
	Name string // "message", "node", "error", "pong", ...
	Text string
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
	// LocalAddr is the client's end of the TCP connection, as the server
	// (or balancer) sees it.
	LocalAddr string

	pongs chan struct{} // answers to Ping

	done chan struct{}

	// mu guards the fields below.
	mu     sync.Mutex
	queue  []Event
	notify chan struct{} // closed and replaced when an event is queued
	err    error         // why the reader stopped

	// Recovery (recovery.go), also guarded by mu.
	pid       string
	recovered bool
	offset    string
	ackSeq    int64
	acks      map[int64]string // ack number → message id
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
		u += "/socket.io/?EIO=4&transport=websocket"
	case JSON:
		u += "/ws"
		if r := opts.Resume; r != nil {
			u += "?" + url.Values{"token": {r.PID}, "offset": {r.Offset}}.Encode()
		}
	case Polling, Upgrade:
		return dialPolling(ctx, opts)
	default:
		return nil, fmt.Errorf("client: unknown transport %q (want socketio, polling, default or ws)", opts.Transport)
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
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: opts.Header, HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	conn.SetReadLimit(1 << 20)
	c := newClient(opts, wsWire{conn}, resp)
	c.conn = conn
	if local != nil {
		c.LocalAddr = local.String()
	}
	return c.start(ctx)
}

func newClient(opts Options, w wire, resp *http.Response) *Client {
	return &Client{wire: w, transport: opts.Transport, opts: opts, Response: resp, done: make(chan struct{}), notify: make(chan struct{}), pongs: make(chan struct{}, 1)}
}

// start opens Socket.IO (if spoken) and starts the reader.
func (c *Client) start(ctx context.Context) (*Client, error) {
	if c.transport != JSON {
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
	connect := []byte("40")
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
		switch s := string(p); {
		case strings.HasPrefix(s, "40"):
			var v struct{ SID, PID string }
			if err := json.Unmarshal(p[2:], &v); err != nil {
				return fmt.Errorf("client: bad socket.io connect reply %q", s)
			}
			c.SID = v.SID
			c.setSession(v.PID)
			return nil
		case strings.HasPrefix(s, "44"):
			return fmt.Errorf("client: server refused the socket.io connect: %s", connectError(s[2:]))
		case s == "1":
			return errors.New("client: server closed the engine.io session before answering the socket.io connect")
		default:
			if ev, ok := c.decode(s); ok {
				c.push(ev)
			}
		}
	}
}

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
