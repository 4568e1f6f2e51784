package node

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/store"
)

// Close reasons reported in ConnClosed events.
const (
	ReasonClientClosed  = "client_closed"   // close frame or Socket.IO disconnect from the client
	ReasonDropped       = "dropped"         // the connection ended with no close frame
	ReasonPingTimeout   = "ping_timeout"    // no pong within the ping timeout
	ReasonProtocolError = "protocol_error"  // the client broke the protocol
	ReasonTooBig        = "message_too_big" // the client sent a message over the size limit
	ReasonSlowConsumer  = "slow_consumer"   // the outgoing queue overflowed
	ReasonKilled        = "killed"          // the node was killed: no close frame
	ReasonStopped       = "node_stopped"    // the node stopped gracefully: a 1001 close
)

// CloseReasons lists the reasons above, as scenario files are checked
// against them.
func CloseReasons() []string {
	return []string{ReasonClientClosed, ReasonDropped, ReasonPingTimeout, ReasonProtocolError,
		ReasonTooBig, ReasonSlowConsumer, ReasonKilled, ReasonStopped}
}

// outgoing is one queued WebSocket text message.
type outgoing struct {
	data []byte
	due  time.Time // not before this instant on the node's clock (slow fault)
}

// session is one client of a node, whatever its protocol and transport.
// A WebSocket session has its socket from the start; a Socket.IO session
// that starts with HTTP long-polling has none until it upgrades (conn is
// nil until then), and its messages wait in out for the next poll.
type session struct {
	n      *Node
	connID string // the session's id in events; sid may change when a client resumes
	sid    string
	client string
	conn   atomic.Pointer[websocket.Conn]
	poll   *poller                         // the session opened with long-polling; nil for WebSocket
	encode func(event, text string) []byte // the protocol's event framing

	ctx    context.Context // cancelled when the session ends
	cancel context.CancelFunc
	out    chan outgoing
	wg     sync.WaitGroup // the writer

	reason atomic.Pointer[string] // first reason to end wins
	detail atomic.Pointer[string] // what the client did, for the closed event
	joined atomic.Bool            // in the chat room
	left   sync.Once

	// storeMu serializes the writes to this session's Redis hash (create,
	// set username, restore, delete) and guards the fields below.
	storeMu sync.Mutex
	name    string // the username Redis last confirmed, to restore the hash
	gone    bool   // the hash was deleted: never write it again

	// Connection state recovery (recovery.go); pid and tag are set by the
	// reader before the session joins the room, then only read.
	pid      string                                  // private session id; "" without recovery
	tag      string                                  // part of every offset of this session
	encodeAt func(event, text, offset string) []byte // the protocol's event framing with an offset
	answer   connectAnswer                           // the protocol's connect answer
	// offMu orders what is queued with the offset it carries, and guards
	// lastID and lastSID: the last stream entry queued to the client.
	offMu   sync.Mutex
	lastID  string
	lastSID store.StreamID
}

// newSessionID returns a Socket.IO-style id: 20 URL-safe characters.
func (n *Node) newSessionID() string {
	var b [15]byte
	n.randMu.Lock()
	for i := range b {
		b[i] = byte(n.cfg.Rand.UintN(256))
	}
	n.randMu.Unlock()
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// addSession registers a new session and, given a WebSocket, starts its
// writer; it reports false if the node is going down. A polling session
// (conn nil, poll set) gets its writer when it upgrades.
func (n *Node) addSession(parent context.Context, conn *websocket.Conn, poll *poller, client string, encode func(string, string) []byte) (*session, bool) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	if n.ending.Load() != endRunning {
		return nil, false
	}
	ctx, cancel := context.WithCancel(parent)
	sid := n.newSessionID()
	s := &session{n: n, connID: sid, sid: sid, client: client, poll: poll, encode: encode, ctx: ctx, cancel: cancel}
	n.sessions.Add(1)
	n.conns[s] = struct{}{}
	if encode != nil { // echo sessions write from their reader
		s.out = make(chan outgoing, n.cfg.Queue)
	}
	if conn != nil {
		s.attach(conn)
	}
	n.publish(events.Event{Kind: events.ConnOpened, Conn: s.connID, Client: client})
	return s, true
}

// attach makes conn the session's transport and starts its writer, if the
// protocol has one. Only the session's reader calls it.
func (s *session) attach(conn *websocket.Conn) {
	s.conn.Store(conn)
	if s.out != nil {
		s.wg.Add(1)
		go s.writeLoop()
	}
}

// end finishes a session after its reader returned: stop the writer, close
// the socket, leave the room (unless the node crashed), report the reason.
func (s *session) end(code websocket.StatusCode, msg string) {
	defer s.n.sessions.Done()
	// The close frame goes out before s.ctx is cancelled: the last Read used
	// that context, and coder/websocket may still cut the connection when it
	// sees it cancelled, before any close frame.
	conn := s.conn.Load()
	if conn != nil && code != 0 && s.n.ending.Load() != endKilled {
		conn.Close(code, truncate(msg, 123)) // a close reason's limit
	}
	s.cancel() // a pending poll answers with a close packet
	s.wg.Wait()
	if conn != nil {
		conn.CloseNow()
	}
	s.n.leave(s)
	s.n.membersMu.Lock()
	delete(s.n.conns, s)
	s.n.membersMu.Unlock()
	reason := ReasonDropped
	if r := s.reason.Load(); r != nil {
		reason = *r
	}
	if d := s.detail.Load(); d != nil && msg == "" {
		msg = *d
	}
	s.n.publish(events.Event{Kind: events.ConnClosed, Conn: s.connID, Client: s.client, Reason: reason, Detail: msg})
}

// setReason records why the session ends; the first call wins.
func (s *session) setReason(r string) {
	s.reason.CompareAndSwap(nil, &r)
}

// fail ends the session at once for reason, with no close frame (a
// WebSocket is cut, a pending poll answered with a close packet); detail
// says why, in the closed event. The first reason wins.
func (s *session) fail(reason, detail string) {
	if s.reason.CompareAndSwap(nil, &reason) && detail != "" {
		s.detail.Store(&detail)
	}
	s.abort()
}

// abort wakes the session's reader so that it ends the session: the
// WebSocket is closed under it, or, while polling, the session's context is
// cancelled.
func (s *session) abort() {
	if conn := s.conn.Load(); conn != nil {
		conn.CloseNow()
		return
	}
	s.cancel()
}

// readReason maps a read error to a close reason, unless one is set already.
func (s *session) readReason(err error) {
	switch s.n.ending.Load() {
	case endKilled:
		s.setReason(ReasonKilled)
	case endStopping:
		s.setReason(ReasonStopped)
	}
	switch websocket.CloseStatus(err) {
	case -1:
		s.setReason(ReasonDropped)
	case websocket.StatusMessageTooBig:
		s.setReason(ReasonTooBig)
	default:
		s.setReason(ReasonClientClosed)
	}
}

// invalidText checks a text message as RFC 6455 §8.1 requires: a text
// frame that is not valid UTF-8 fails the connection with 1007. It returns
// the close status and reason, or 0 for a valid message.
func (s *session) invalidText(typ websocket.MessageType, data []byte) (websocket.StatusCode, string) {
	if typ != websocket.MessageText || utf8.Valid(data) {
		return 0, ""
	}
	s.setReason(ReasonProtocolError)
	return websocket.StatusInvalidFramePayloadData, "invalid UTF-8 in a text frame (RFC 6455 section 8.1)"
}

// goAway closes the session with 1001, as a node that stops gracefully
// does; a polling session's client gets a close packet in its pending poll
// or, if none is pending, in its next one (until ctx ends).
func (s *session) goAway(ctx context.Context) {
	s.setReason(ReasonStopped)
	switch conn := s.conn.Load(); {
	case conn != nil:
		conn.Close(websocket.StatusGoingAway, "node stopping")
	case s.poll != nil:
		s.poll.goodbye(s, ctx)
	default:
		s.cancel()
	}
}

// emit queues an event for the client; it never blocks. With recovery on,
// the event carries the session's offset.
func (s *session) emit(event, text string) {
	if s.tag == "" {
		s.send(s.encode(event, text))
		return
	}
	s.offMu.Lock()
	s.send(s.encodeAt(event, text, s.offset()))
	s.offMu.Unlock()
}

// send queues a raw text message. A client that lets its queue overflow is
// disconnected rather than allowed to hold up the room.
func (s *session) send(data []byte) {
	m := outgoing{data: data}
	if d := time.Duration(s.n.slow.Load()); d > 0 {
		m.due = s.n.cfg.Clock.Now().Add(d)
	}
	select {
	case s.out <- m:
	case <-s.ctx.Done():
	default:
		s.fail(ReasonSlowConsumer, "")
	}
}

func (s *session) writeLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case m := <-s.out:
			if err := s.deliver(m); err != nil {
				return
			}
		}
	}
}

// deliver writes m once it may go.
func (s *session) deliver(m outgoing) error {
	if err := s.hold(m); err != nil {
		return err
	}
	conn := s.conn.Load()
	err := conn.Write(s.ctx, websocket.MessageText, m.data)
	if err != nil && !errors.Is(err, context.Canceled) {
		conn.CloseNow() // the reader notices and ends the session
	}
	return err
}

// hold waits until m may go out, on either transport: the node is not hung
// and m is due (slow fault).
func (s *session) hold(m outgoing) error {
	if err := s.n.waitGate(s.ctx); err != nil {
		return err
	}
	if !m.due.IsZero() {
		if wait := s.n.cfg.Clock.Until(m.due); wait > 0 {
			t := s.n.cfg.Clock.NewTimer(wait, "node", "slow")
			defer t.Stop()
			select {
			case <-t.C:
			case <-s.ctx.Done():
				return s.ctx.Err()
			}
		}
	}
	return nil
}
