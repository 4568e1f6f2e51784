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

// serveSocketIO speaks Socket.IO v4 (Engine.IO protocol 4), the protocol
// of the tutorial's Flask-SocketIO app, over both Engine.IO transports:
// WebSocket, and HTTP long-polling with its upgrade to WebSocket
// (polling.go). Requests are checked in engine.io's order, and refused with
// its codes and messages.
func (n *Node) serveSocketIO(w http.ResponseWriter, r *http.Request) {
	if !n.allowCrossOrigin(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		engineError(w, eioUnsupportedVersion, fmt.Sprintf("EIO %s; this node speaks Engine.IO 4 (socket.io-client 3.x and 4.x)", quote(q.Get("EIO"))))
		return
	}
	sid := q.Get("sid")
	switch tr := q.Get("transport"); {
	case tr == "polling" && sid == "":
		n.openPolling(w, r)
	case tr == "polling":
		n.servePoll(w, r, sid)
	case tr == "websocket" && sid == "":
		n.openWebSocket(w, r)
	case tr == "websocket":
		n.upgradePolling(w, r, sid)
	default:
		engineError(w, eioUnknownTransport, fmt.Sprintf("transport %s; this node serves polling and websocket", quote(tr)))
	}
}

// openWebSocket starts a Socket.IO session on the WebSocket transport.
func (n *Node) openWebSocket(w http.ResponseWriter, r *http.Request) {
	eioSID := n.newSessionID()
	n.setSessionCookie(w, eioSID) // in the 101
	conn, s, ok := n.accept(w, r, encodeEvent)
	if !ok {
		return
	}
	c := &sioConn{s: s, n: n, eioSID: eioSID}
	n.registerSio(c)
	s.send(c.openPacket(false))
	c.schedulePing()
	code, msg := c.readLoop(conn)
	c.stopTimers()
	n.forgetSio(c)
	s.end(code, msg)
}

// Engine.IO's error codes, with the messages a Socket.IO server sends.
const (
	eioUnknownTransport   = 0
	eioUnknownSID         = 1
	eioBadHandshakeMethod = 2
	eioBadRequest         = 3
	eioForbidden          = 4
	eioUnsupportedVersion = 5
)

var eioMessages = [...]string{"Transport unknown", "Session ID unknown", "Bad handshake method", "Bad request", "Forbidden", "Unsupported protocol version"}

// engineError answers a refused Engine.IO request exactly as a Socket.IO
// server does (400, or 403 for Forbidden, and {"code","message"}), so a
// client fails the way it would against the real thing. The detail for
// people goes in the X-Lab-Detail header.
func engineError(w http.ResponseWriter, code int, detail string) {
	status := http.StatusBadRequest
	if code == eioForbidden {
		status = http.StatusForbidden
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Lab-Detail", detail)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, eioMessages[code])
}

// sioConn is the Socket.IO state of one session, on either transport.
type sioConn struct {
	s         *session
	n         *Node
	eioSID    string
	connected bool // the client sent 40 and was answered; reader only

	// mu guards the heartbeat timers.
	mu      sync.Mutex
	ping    *quartz.Timer
	pong    *quartz.Timer
	stopped bool
	counted bool // the ping out is in awaiting: it reached the client's transport
}

func protocolError(s *session, format string, args ...any) (websocket.StatusCode, string) {
	s.setReason(ReasonProtocolError)
	return websocket.StatusProtocolError, fmt.Sprintf(format, args...)
}

// openPacket is the Engine.IO open packet; a polling session may upgrade.
func (c *sioConn) openPacket(polling bool) []byte {
	upgrades := "[]"
	if polling {
		upgrades = `["websocket"]`
	}
	return fmt.Appendf(nil, `0{"sid":%q,"upgrades":%s,"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		c.eioSID, upgrades, c.n.cfg.PingInterval.Milliseconds(), c.n.cfg.PingTimeout.Milliseconds(), c.n.cfg.MaxPayload)
}

// readLoop handles WebSocket frames until the session ends, and returns the
// close status to send (0 for none).
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
		if code, msg := c.onPacket(data); code != 0 {
			return code, msg
		}
	}
}

// onPacket handles one Engine.IO packet from either transport. A non-zero
// status ends the session: a WebSocket is closed with it, a polling client
// gets the message as its POST's error.
func (c *sioConn) onPacket(data []byte) (websocket.StatusCode, string) {
	s := c.s
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
		return c.handle(string(data[1:]))
	default:
		return protocolError(s, "engine.io: malformed packet %s: want a type 1-6", quote(string(data)))
	}
	return 0, ""
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
			if c.n.cfg.Recovery {
				var w resumeWire
				json.Unmarshal(p.data, &w) // auth is the app's: anything else is a new session
				s.encodeAt = encodeEventAt
				c.n.connectRecoverable(s, w, sioAnswer)
				break
			}
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
		if !c.n.onEvent(s, name, args) {
			break // no ack: the client's retry may succeed
		}
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
	c.pong = c.n.cfg.Clock.AfterFunc(c.n.cfg.PingTimeout, func() {
		if c.n.gate.Load() != nil {
			return
		}
		c.s.fail(ReasonPingTimeout, "")
	}, "node", "pong")
	if c.s.conn.Load() != nil || (c.s.poll != nil && c.s.poll.waiting.Load()) { // a WebSocket, or a poll, carries it now
		c.countPing()
	}
}

// countPing counts the ping out among those awaiting a pong, once it is on
// its way to the client: at once on a WebSocket, when a poll takes it on
// long-polling. A polling client that went away without a word never polls
// again, and a mock-clock driver does not wait for a pong that cannot come
// (its session ends at the pong deadline). c.mu is held.
func (c *sioConn) countPing() {
	if c.pong != nil && !c.counted {
		c.counted = true
		c.n.awaiting.Add(1)
	}
}

// pingTaken is countPing for a poll (or an upgrade) that took the queued
// ping.
func (c *sioConn) pingTaken() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.countPing()
}

func (c *sioConn) onPong() {
	c.mu.Lock()
	if c.pong == nil {
		c.mu.Unlock()
		return // a pong nobody asked for
	}
	c.pong.Stop()
	c.pong = nil
	counted := c.counted
	c.counted = false
	c.mu.Unlock()
	c.schedulePing()
	if counted {
		c.n.awaiting.Add(-1) // after the next ping is armed
	}
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
	if c.pong != nil && c.counted {
		c.n.awaiting.Add(-1)
	}
	c.pong, c.counted = nil, false
}

// onEvent dispatches a chat event from either protocol. Events the app has
// no handler for are ignored, as Flask-SocketIO does. It reports false when
// the event was not handled because the chat store is unreachable: the
// client gets no acknowledgement, and may retry.
func (n *Node) onEvent(s *session, name string, args []json.RawMessage) bool {
	switch name {
	case "set_username":
		text, err := textArg(args)
		if err != nil {
			s.emit("message", "Failed to set the username: it must be text.")
			return true
		}
		return n.setUsername(s, text)
	case "message":
		text, err := textArg(args)
		if err != nil {
			s.emit("message", "Failed to send the message: it must be text.")
			return true
		}
		id, err := messageID(args)
		if err != nil {
			s.emit("message", "Failed to send the message: "+err.Error()+".")
			return true
		}
		return n.say(s, text, id)
	}
	return true
}
