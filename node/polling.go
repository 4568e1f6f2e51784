package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Engine.IO's HTTP long-polling transport, and the upgrade from it to
// WebSocket. A polling session is the same session as a WebSocket one
// (session.go): the same queue of outgoing messages, the same heartbeat and
// the same packet handling (sioConn.onPacket); only the carriage differs.
// The session's reader is a goroutine of its own, started by the handshake
// and counted in Node.sessions: it takes the packets of each POST in turn
// and, once the client upgrades, reads the WebSocket instead. Each pending
// GET takes what is queued.

// upgradeTimeout bounds the probe exchange of an upgrade, on the node's
// clock (engine.io's upgradeTimeout default).
const upgradeTimeout = 10 * time.Second

// poller is the long-polling side of a Socket.IO session.
type poller struct {
	in      chan postBatch       // a POST's packets, to the session's reader
	upgrade chan *websocket.Conn // a probed WebSocket, after the client's "5"
	noop    chan struct{}        // answer the pending GET with a noop (upgrade)
	bye     chan struct{}        // closed when the node stops: send the close packet
	taken   chan struct{}        // a poll took the close packet
	byeCtx  context.Context      // how long to wait for that poll; set before bye is closed

	// switchMu orders the upgrade against the node's goodbye, and guards
	// leaving.
	switchMu sync.Mutex
	leaving  bool

	getting   atomic.Bool // a GET is pending
	waiting   atomic.Bool // a pending GET waits for packets: it has taken none yet
	posting   atomic.Bool // a POST is being handled
	upgrading atomic.Bool // a WebSocket is being probed
	upgraded  atomic.Bool // the session moved to WebSocket
}

type postBatch struct {
	packets [][]byte
	done    chan postResult // buffered: the reader never waits on it
}

type postResult struct {
	code websocket.StatusCode // non-zero: the session ends
	msg  string
}

// openPolling starts a Socket.IO session on the polling transport: the
// answer is the open packet.
func (n *Node) openPolling(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		engineError(w, eioBadHandshakeMethod, fmt.Sprintf("%s without a sid; a polling session opens with GET", r.Method))
		return
	}
	p := &poller{
		in: make(chan postBatch), upgrade: make(chan *websocket.Conn), noop: make(chan struct{}, 1),
		bye: make(chan struct{}), taken: make(chan struct{}, 1),
	}
	s, ok := n.addSession(runContext(r), nil, p, clientAddr(r), encodeEvent)
	if !ok {
		http.Error(w, "node stopping", http.StatusServiceUnavailable)
		return
	}
	c := &sioConn{s: s, n: n, eioSID: n.newSessionID()}
	n.registerSio(c)
	n.setSessionCookie(w, c.eioSID)
	writePoll(w, [][]byte{c.openPacket(true)})
	c.schedulePing()
	go c.servePolling()
}

// servePolling is the reader of a session that opened with polling.
func (c *sioConn) servePolling() {
	code, msg := c.pollLoop()
	c.stopTimers()
	c.n.forgetSio(c)
	c.s.end(code, msg)
}

func (c *sioConn) pollLoop() (websocket.StatusCode, string) {
	s, p := c.s, c.s.poll
	for {
		select {
		case b := <-p.in:
			var res postResult
			if c.n.waitGate(s.ctx) == nil {
				for _, pkt := range b.packets {
					if res.code, res.msg = c.onPacket(pkt); res.code != 0 {
						break
					}
				}
			}
			b.done <- res
			if res.code != 0 {
				return res.code, res.msg
			}
		case conn := <-p.upgrade:
			if !p.switchTo(s, conn) { // the node stops
				return websocket.StatusGoingAway, "node stopping"
			}
			c.pingTaken() // a ping still queued goes on the WebSocket
			return c.readLoop(conn)
		case <-p.bye: // the node stops: the close packet goes in a poll
			select {
			case <-p.taken:
			case <-p.byeCtx.Done():
			case <-s.ctx.Done():
			}
			return 0, ""
		case <-s.ctx.Done():
			s.readReason(s.ctx.Err()) // killed, stopped, or dropped
			return 0, ""
		}
	}
}

// switchTo makes conn the session's transport, unless the node is saying
// goodbye already.
func (p *poller) switchTo(s *session, conn *websocket.Conn) bool {
	p.switchMu.Lock()
	defer p.switchMu.Unlock()
	if p.leaving {
		s.conn.Store(conn) // end closes it with 1001
		return false
	}
	p.upgraded.Store(true)
	s.attach(conn)
	return true
}

// goodbye asks the session to end with a close packet, delivered in the
// pending poll or the next one, waiting for it until ctx ends; a session
// that has just upgraded gets a 1001.
func (p *poller) goodbye(s *session, ctx context.Context) {
	p.switchMu.Lock()
	defer p.switchMu.Unlock()
	if p.upgraded.Load() {
		s.conn.Load().Close(websocket.StatusGoingAway, "node stopping")
		return
	}
	p.leaving = true
	p.byeCtx = ctx
	close(p.bye)
}

// servePoll handles a GET or POST of an open polling session.
func (n *Node) servePoll(w http.ResponseWriter, r *http.Request, sid string) {
	c := n.lookupSio(sid)
	switch {
	case c == nil:
		engineError(w, eioUnknownSID, fmt.Sprintf("sid %s: node %s has no such session: it ended, or it lives on another node (behind a balancer, long-polling needs sticky sessions)", quote(sid), n.cfg.Name))
	case c.s.poll == nil || c.s.poll.upgraded.Load():
		engineError(w, eioBadRequest, fmt.Sprintf("sid %s uses the websocket transport; a poll for it is refused", quote(sid)))
	case r.Method == http.MethodGet:
		c.pollGet(w, r)
	case r.Method == http.MethodPost:
		c.pollPost(w, r)
	default:
		engineError(w, eioBadRequest, fmt.Sprintf("method %s; polling takes GET and POST", r.Method))
	}
}

// pollGet answers a poll with what is queued for the client, waiting for
// the first message. A second GET while one is pending breaks the protocol
// and ends the session, as engine.io does; so does a pending GET whose
// connection goes away.
func (c *sioConn) pollGet(w http.ResponseWriter, r *http.Request) {
	s, p := c.s, c.s.poll
	if !s.alone(w, r, &p.getting) {
		return
	}
	defer p.getting.Store(false)
	closing := [][]byte{{eioClose}}
	p.waiting.Store(true)
	defer p.waiting.Store(false)
	select {
	case m := <-s.out:
		p.waiting.Store(false)
		out := make([][]byte, 0, 1+len(s.out))
		for more := true; more; {
			if s.hold(m) != nil {
				out = append(out, closing[0])
				break
			}
			out = append(out, m.data)
			if len(m.data) == 1 && m.data[0] == eioPing {
				c.pingTaken()
			}
			select {
			case m = <-s.out:
			default:
				more = false
			}
		}
		writePoll(w, out)
	case <-p.noop:
		p.waiting.Store(false)
		writePoll(w, [][]byte{{eioNoop}})
	case <-p.bye:
		p.waiting.Store(false)
		writePoll(w, closing)
		select {
		case p.taken <- struct{}{}:
		default: // a poll took it already
		}
	case <-s.ctx.Done():
		p.waiting.Store(false)
		writePoll(w, closing)
	case <-r.Context().Done():
		p.waiting.Store(false)
		s.readReason(r.Context().Err()) // killed or stopped, if so
		s.fail(ReasonDropped, "the connection of a pending poll closed")
	}
}

// alone admits a GET or POST only while no other of its kind is under way
// for the session (busy); a second one breaks the protocol and ends the
// session, as engine.io does.
func (s *session) alone(w http.ResponseWriter, r *http.Request, busy *atomic.Bool) bool {
	if busy.CompareAndSwap(false, true) {
		return true
	}
	engineError(w, eioBadRequest, fmt.Sprintf("a second %s while one is pending: a polling client has one %s out at a time; the session is closed", r.Method, r.Method))
	s.fail(ReasonProtocolError, "engine.io: overlapping "+r.Method+" requests")
	return false
}

// pollPost hands the packets of a POST to the session's reader and answers
// once they are handled: "ok", or the error that ended the session.
func (c *sioConn) pollPost(w http.ResponseWriter, r *http.Request) {
	s, p := c.s, c.s.poll
	if !s.alone(w, r, &p.posting) {
		return
	}
	defer p.posting.Store(false)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/octet-stream") {
		engineError(w, eioBadRequest, "a binary payload (application/octet-stream); this node takes text packets only; the session is closed")
		s.fail(ReasonProtocolError, "engine.io: binary polling payload")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.n.cfg.MaxPayload))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		detail := fmt.Sprintf("a POST of more than %d bytes (max_payload, announced as maxPayload in the open packet); the session is closed", tooBig.Limit)
		w.Header().Set("X-Lab-Detail", detail)
		http.Error(w, detail, http.StatusRequestEntityTooLarge)
		s.fail(ReasonTooBig, detail)
		return
	case err != nil:
		s.fail(ReasonDropped, "the connection of a POST closed before its body was read")
		return
	}
	packets, err := parsePollingPayload(body)
	if err != nil {
		engineError(w, eioBadRequest, err.Error()+"; the session is closed")
		s.fail(ReasonProtocolError, err.Error())
		return
	}
	done := make(chan postResult, 1)
	select {
	case p.in <- postBatch{packets: packets, done: done}:
	case <-s.ctx.Done():
		engineError(w, eioUnknownSID, "the session ended before this POST was read")
		return
	}
	res := <-done // the reader answers every batch it takes
	if res.code != 0 && res.code != websocket.StatusNormalClosure {
		engineError(w, eioBadRequest, res.msg+"; the session is closed")
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok")
}

// writePoll answers a poll with packets.
func writePoll(w http.ResponseWriter, packets [][]byte) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(appendPollingPayload(nil, packets))
}

// upgradePolling moves a polling session to a WebSocket: the client sends
// the probe "2probe" and gets "3probe", the pending poll is answered with a
// noop so that the client can pause polling, and the client's "5" hands the
// socket to the session's reader. A probe that fails or takes longer than
// upgradeTimeout closes the socket and leaves the session polling.
func (n *Node) upgradePolling(w http.ResponseWriter, r *http.Request, sid string) {
	c := n.lookupSio(sid)
	switch {
	case c == nil:
		engineError(w, eioUnknownSID, fmt.Sprintf("sid %s: node %s has no such session to upgrade: it ended, or it lives on another node (behind a balancer, long-polling needs sticky sessions)", quote(sid), n.cfg.Name))
		return
	case c.s.poll == nil || c.s.poll.upgraded.Load() || !c.s.poll.upgrading.CompareAndSwap(false, true):
		engineError(w, eioBadRequest, fmt.Sprintf("sid %s is on the websocket transport already, or being upgraded", quote(sid)))
		return
	}
	defer c.s.poll.upgrading.Store(false)
	conn, ok := n.acceptWebSocket(w, r)
	if !ok {
		return
	}
	if code, msg := c.probe(conn); code != 0 {
		conn.Close(code, msg)
	}
}

// probe runs the upgrade's exchange on conn; a non-zero status means it
// failed and conn should be closed with it.
func (c *sioConn) probe(conn *websocket.Conn) (websocket.StatusCode, string) {
	ctx, cancel := context.WithCancel(c.s.ctx)
	defer cancel()
	t := c.n.cfg.Clock.AfterFunc(upgradeTimeout, cancel, "node", "upgrade")
	defer t.Stop()
	if err := expectFrame(ctx, conn, "2probe"); err != nil {
		return websocket.StatusProtocolError, err.Error()
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte("3probe")); err != nil {
		return websocket.StatusGoingAway, ""
	}
	select {
	case c.s.poll.noop <- struct{}{}:
	default:
	}
	if err := expectFrame(ctx, conn, "5"); err != nil {
		return websocket.StatusProtocolError, err.Error()
	}
	select {
	case c.s.poll.upgrade <- conn: // the session's reader owns it now
		return 0, ""
	case <-ctx.Done():
		return websocket.StatusGoingAway, "engine.io: the session ended during the upgrade"
	}
}

func expectFrame(ctx context.Context, conn *websocket.Conn, want string) error {
	typ, data, err := conn.Read(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("engine.io upgrade: waiting for %q: %w", want, err)
	case typ != websocket.MessageText || string(data) != want:
		return fmt.Errorf("engine.io upgrade: got %s, want %q", quote(string(data)), want)
	}
	return nil
}

func (n *Node) registerSio(c *sioConn) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	n.sio[c.eioSID] = c
}

func (n *Node) forgetSio(c *sioConn) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	delete(n.sio, c.eioSID)
}

// PollPending reports whether the Engine.IO session eioSID is on
// long-polling with a GET waiting for packets: a mock-clock driver waits
// for it before time moves, so that the poll's idle timer at a balancer
// starts at the same virtual instant every run.
func (n *Node) PollPending(eioSID string) bool {
	c := n.lookupSio(eioSID)
	return c != nil && c.s.poll != nil && c.s.conn.Load() == nil && c.s.poll.waiting.Load()
}

func (n *Node) lookupSio(eioSID string) *sioConn {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	return n.sio[eioSID]
}
