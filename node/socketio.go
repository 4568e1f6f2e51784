package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/quartz"
	"github.com/coder/websocket"
)

// serveSocketIO speaks Socket.IO v4 (Engine.IO protocol 4) over the
// WebSocket transport: the protocol of the tutorial's Flask-SocketIO app.
func (n *Node) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("EIO") != "4":
		engineError(w, 5, "Unsupported protocol version", fmt.Sprintf("EIO=%s; this node speaks Engine.IO 4 (socket.io-client 3.x and 4.x)", q.Get("EIO")))
		return
	case q.Get("transport") != "websocket":
		engineError(w, 0, "Transport unknown", fmt.Sprintf("transport=%s; this node serves the websocket transport only: use io(url, {transports: [\"websocket\"]})", q.Get("transport")))
		return
	case q.Get("sid") != "":
		engineError(w, 1, "Session ID unknown", "upgrades from polling are not supported; connect with the websocket transport directly")
		return
	}
	conn, s, ok := n.accept(w, r, encodeEvent)
	if !ok {
		return
	}
	c := &sioConn{s: s, n: n, eioSID: n.newSessionID()}
	s.send(fmt.Appendf(nil, `0{"sid":%q,"upgrades":[],"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		c.eioSID, n.cfg.PingInterval.Milliseconds(), n.cfg.PingTimeout.Milliseconds(), n.cfg.MaxPayload))
	c.schedulePing()
	code, msg := c.readLoop(conn)
	c.stopTimers()
	s.end(code, msg)
}

// engineError answers a bad Engine.IO handshake the way engine.io does, with
// a detail for people.
func engineError(w http.ResponseWriter, code int, message, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": message, "detail": detail})
}

// sioConn is the Socket.IO state of one session.
type sioConn struct {
	s         *session
	n         *Node
	eioSID    string
	connected bool // the client sent 40 and was answered

	// mu guards the heartbeat timers.
	mu      sync.Mutex
	ping    *quartz.Timer
	pong    *quartz.Timer
	stopped bool
}

func protocolError(s *session, format string, args ...any) (websocket.StatusCode, string) {
	s.setReason(ReasonProtocolError)
	return websocket.StatusProtocolError, fmt.Sprintf(format, args...)
}

// readLoop handles packets until the session ends, and returns the close
// status to send (0 for none).
func (c *sioConn) readLoop(conn *websocket.Conn) (websocket.StatusCode, string) {
	s := c.s
	for {
		typ, data, err := conn.Read(s.ctx)
		if err != nil {
			s.readReason(err)
			return 0, ""
		}
		if err := c.n.waitGate(s.ctx); err != nil {
			return 0, ""
		}
		if typ != websocket.MessageText {
			s.setReason(ReasonProtocolError)
			return websocket.StatusUnsupportedData, "engine.io: binary frames are not supported; send text packets"
		}
		if code, msg := s.invalidText(typ, data); code != 0 {
			return code, msg
		}
		if len(data) == 0 {
			return protocolError(s, "engine.io: empty packet")
		}
		switch data[0] {
		case eioPong:
			c.onPong()
		case eioPing:
			s.send(append([]byte{eioPong}, data[1:]...))
		case eioClose:
			s.setReason(ReasonClientClosed)
			return websocket.StatusNormalClosure, ""
		case eioUpgrade, eioNoop:
		case eioMessage:
			if code, msg := c.handle(string(data[1:])); code != 0 {
				return code, msg
			}
		default:
			return protocolError(s, "engine.io: malformed packet %s: want a type 1-6", quote(string(data)))
		}
	}
}

// handle processes one Socket.IO packet.
func (c *sioConn) handle(data string) (websocket.StatusCode, string) {
	s := c.s
	p, err := parseSocketIO(data)
	if err != nil {
		return protocolError(s, "socket.io: %v", err)
	}
	if p.nsp != "/" {
		if p.typ == sioConnect {
			s.send(fmt.Appendf(nil, `44%s,{"message":"Invalid namespace"}`, p.nsp))
		}
		return 0, ""
	}
	switch p.typ {
	case sioConnect:
		if !c.connected {
			c.connected = true
			s.send(fmt.Appendf(nil, `40{"sid":%q}`, s.sid))
			s.emit("node", c.n.cfg.Name)
			c.n.join(s)
		}
	case sioDisconnect:
		s.setReason(ReasonClientClosed)
		return websocket.StatusNormalClosure, ""
	case sioEvent:
		if !c.connected {
			s.setReason(ReasonProtocolError)
			return websocket.StatusPolicyViolation, "socket.io: event before connect: send 40 first"
		}
		name, args, err := p.event()
		if err != nil {
			return protocolError(s, "socket.io: %v", err)
		}
		c.n.onEvent(s, name, args)
		if p.ack >= 0 {
			s.send(append([]byte("43"+strconv.FormatInt(p.ack, 10)), "[]"...))
		}
	case sioAck:
	default:
		return protocolError(s, "socket.io: a client may not send packet type %d", p.typ)
	}
	return 0, ""
}

// schedulePing arms the next server ping after the ping interval.
func (c *sioConn) schedulePing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.ping = c.n.cfg.Clock.AfterFunc(c.n.cfg.PingInterval, c.sendPing, "node", "ping")
}

// sendPing sends a ping and arms the pong deadline. A hung node sends
// nothing and never times anybody out: it is wedged.
func (c *sioConn) sendPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.s.send([]byte{eioPing})
	c.n.awaiting.Add(1)
	c.pong = c.n.cfg.Clock.AfterFunc(c.n.cfg.PingTimeout, func() {
		if c.n.gate.Load() != nil {
			return
		}
		c.s.setReason(ReasonPingTimeout)
		c.s.conn.CloseNow()
	}, "node", "pong")
}

func (c *sioConn) onPong() {
	c.mu.Lock()
	if c.pong == nil {
		c.mu.Unlock()
		return // a pong nobody asked for
	}
	c.pong.Stop()
	c.pong = nil
	c.mu.Unlock()
	c.schedulePing()
	c.n.awaiting.Add(-1) // after the next ping is armed
}

func (c *sioConn) stopTimers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	for _, t := range []*quartz.Timer{c.ping, c.pong} {
		if t != nil {
			t.Stop()
		}
	}
	if c.pong != nil {
		c.pong = nil
		c.n.awaiting.Add(-1)
	}
}

// onEvent dispatches a chat event from either protocol. Events the app has
// no handler for are ignored, as Flask-SocketIO does.
func (n *Node) onEvent(s *session, name string, args []json.RawMessage) {
	switch name {
	case "set_username":
		text, err := textArg(args)
		if err != nil {
			s.emit("message", "Failed to set the username: it must be text.")
			return
		}
		n.setUsername(s, text)
	case "message":
		text, err := textArg(args)
		if err != nil {
			s.emit("message", "Failed to send the message: it must be text.")
			return
		}
		n.say(s, text)
	}
}
