package node

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wslab/wslab/store"
)

// Connection state recovery (Socket.IO 4.6's connectionStateRecovery, and
// its equivalent on /ws). With Config.Recovery on:
//
//   - the chat travels through a Redis Stream instead of pub/sub: a node
//     appends every chat line to it and follows it from its position, so
//     the stream is both the fan-out and the log missed lines are read
//     back from;
//   - every session gets a private id (pid), sent once in the CONNECT
//     answer (40{"sid","pid"}), and every event the node sends carries an
//     offset as its last argument, "<stream id>.<tag>": the last chat line
//     the client was sent, and the session's tag, so that an offset from
//     another session never matches;
//   - resume:<pid> in Redis holds what a node needs to give the session
//     back (sid, username, tag, when the client was last seen connected);
//     while the client is connected its node refreshes it, so a crashed
//     node's clients can come back too;
//   - a client that reconnects within MaxDisconnection presents {pid,
//     offset} in its CONNECT (socket.io-client does by itself) and, on
//     whichever node it reaches, gets its sid and username back and every
//     chat line after its offset, before anything newer, each once.
//     Anything wrong (unknown or expired pid, offset of another session,
//     offset trimmed away) is a new session, as a Socket.IO server does.

// resumeWire is what a client presents to resume: socket.io-client's
// CONNECT auth {pid, offset}; /ws's query ?token=&offset=.
type resumeWire struct {
	PID    string `json:"pid"`
	Offset string `json:"offset"`
}

// maxWireID bounds the pid and offset a client may present.
const maxWireID = 128

// touchEvery is how often a node refreshes the records of its connected
// clients: a tenth of the window, at most 10 s. A client of a crashed
// node has at least 9/10 of the window to come back.
func (c Config) touchEvery() time.Duration {
	return min(c.MaxDisconnection/10, 10*time.Second)
}

// resumeTTL is how long Redis keeps a record nobody refreshes: garbage
// collection only, on Redis's own clock; the window is checked against
// Seen on the nodes' clock.
func (c Config) resumeTTL() time.Duration {
	return c.MaxDisconnection + c.touchEvery() + time.Minute
}

// offset is the wire form of a position in this session. Callers hold
// s.offMu.
func (s *session) offset() string { return s.lastID + "." + s.tag }

// emitAt queues a chat line of the stream, unless the session was sent it
// already (its offset is at or past it).
func (s *session) emitAt(e store.Entry, id store.StreamID) {
	s.offMu.Lock()
	defer s.offMu.Unlock()
	if !s.lastSID.Less(id) {
		return
	}
	s.lastID, s.lastSID = e.ID, id
	s.send(s.encodeAt("message", e.Text, s.offset()))
}

// setPosition makes id the session's offset. Callers hold n.membersMu.
func (s *session) setPosition(id string) {
	sid, _ := store.ParseStreamID(id)
	s.offMu.Lock()
	s.lastID, s.lastSID = id, sid
	s.offMu.Unlock()
}

// streamHandler feeds the stream into the room.
type streamHandler struct{ n *Node }

func (h streamHandler) Entry(e store.Entry) { h.n.fanOut(e) }
func (h streamHandler) State(err error)     { h.n.storeHealth(fromBus, err) }

// fanOut hands a stream entry to every client in the room and moves the
// node's position past it.
func (n *Node) fanOut(e store.Entry) {
	id, err := store.ParseStreamID(e.ID)
	if err != nil {
		return
	}
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	n.pos, n.posID = e.ID, id
	if e.Text == "" {
		return // a marker
	}
	for _, s := range n.members {
		s.emitAt(e, id)
	}
}

// startStream finds the stream's tip and follows it from there.
func (n *Node) startStream(ctx context.Context) error {
	tip, err := n.store.StreamTip(ctx, n.cfg.RecoveryBacklog)
	if err != nil {
		return err
	}
	id, err := store.ParseStreamID(tip)
	if err != nil {
		return err
	}
	n.pos, n.posID = tip, id
	n.stream = n.store.Follow(tip, streamHandler{n})
	return nil
}

// post puts a chat line on the bus: the stream with recovery on (once per
// client message id, if the client gave one), pub/sub otherwise. dup
// reports a message id the chat already took.
func (n *Node) post(ctx context.Context, s *session, m store.Message, msgID string) (dup bool, err error) {
	err = n.storeCall(ctx, func(ctx context.Context) error {
		switch {
		case !n.cfg.Recovery:
			return n.store.Publish(ctx, m)
		case msgID == "" || s == nil:
			_, err := n.store.Append(ctx, m, n.cfg.RecoveryBacklog)
			return err
		default:
			key := n.store.Stream() + ":seen:" + s.sid + ":" + msgID
			var err error
			dup, err = n.store.AppendOnce(ctx, m, n.cfg.RecoveryBacklog, key, n.cfg.resumeTTL())
			return err
		}
	})
	return dup, err
}

// connectAnswer frames a protocol's answer to a connect: Socket.IO's
// 40{"sid","pid"}, /ws's session event.
type connectAnswer func(s *session, recovered bool) []byte

// connectRecoverable connects s with recovery on: it resumes the session
// the client presents, if valid, and starts a new one otherwise. It
// reports whether the session was resumed.
func (n *Node) connectRecoverable(s *session, w resumeWire, answer connectAnswer) bool {
	ctx, cancel := context.WithTimeout(s.ctx, storeTimeout)
	defer cancel()
	s.answer = answer
	if w.PID != "" || w.Offset != "" {
		missed, why := n.tryResume(ctx, s, w)
		if why == "" {
			n.log.Info("session recovered", "sid", s.sid, "missed", missed)
			return true
		}
		n.log.Info("session not recovered: new session", "client", s.client, "why", why)
	}
	s.pid, s.tag = n.newSessionID(), n.newSessionID()[:8]
	s.storeMu.Lock()
	n.storeResult(n.store.SaveResumable(ctx, store.Resumable{PID: s.pid, SID: s.sid, Tag: s.tag, Seen: n.cfg.Clock.Now().UnixMilli()}, n.cfg.resumeTTL()))
	s.storeMu.Unlock()
	n.membersMu.Lock()
	s.setPosition(n.pos)
	n.membersMu.Unlock()
	s.send(answer(s, false))
	s.emit("node", n.cfg.Name)
	n.join(s)
	return false
}

// tryResume gives s the session w names, or says why not ("" when it
// did). On success the client has its answer, its missed lines and a place
// in the room.
func (n *Node) tryResume(ctx context.Context, s *session, w resumeWire) (missed int, why string) {
	if w.PID == "" || len(w.PID) > maxWireID || len(w.Offset) > maxWireID {
		return 0, "no valid private id"
	}
	idText, tag, ok := strings.Cut(w.Offset, ".")
	id, err := store.ParseStreamID(idText)
	if !ok || err != nil {
		return 0, "offset " + quote(w.Offset) + " is not one this lab sends"
	}
	rec, found, err := n.store.LoadResumable(ctx, w.PID)
	if n.storeResult(err) != nil {
		return 0, "the chat store (Redis) is unreachable"
	}
	if !found {
		return 0, "unknown or expired private id"
	}
	if subtle.ConstantTimeCompare([]byte(tag), []byte(rec.Tag)) != 1 {
		return 0, "the offset belongs to another session"
	}
	now := n.cfg.Clock.Now().UnixMilli()
	if away := time.Duration(now-rec.Seen) * time.Millisecond; away > n.cfg.MaxDisconnection {
		return 0, fmt.Sprintf("away %s, longer than max_disconnection %s", away.Round(time.Millisecond), n.cfg.MaxDisconnection)
	}
	has, err := n.store.StreamHas(ctx, idText)
	if n.storeResult(err) != nil {
		return 0, "the chat store (Redis) is unreachable"
	}
	if !has {
		return 0, "the offset is no longer in the stream (trimmed, or Redis lost its data)"
	}
	// The session is this client's again: its sid, name and tag.
	s.sid, s.pid, s.tag = rec.SID, rec.PID, rec.Tag
	s.storeMu.Lock()
	s.name = rec.Username
	rec.Seen = now
	err = n.store.RestoreSessions(ctx, []store.Session{{ID: rec.SID, Username: rec.Username}})
	if err == nil {
		err = n.store.SaveResumable(ctx, rec, n.cfg.resumeTTL())
	}
	s.storeMu.Unlock()
	if n.storeResult(err) != nil {
		return 0, "the chat store (Redis) is unreachable"
	}
	s.offMu.Lock()
	s.lastID, s.lastSID = idText, id
	s.offMu.Unlock()
	s.send(s.answer(s, true))
	s.emit("node", n.cfg.Name)
	// The missed lines go out in batches read from the stream, each line
	// waiting for room in the client's queue (a long absence can mean more
	// lines than the queue holds); the session joins the room once it has
	// caught up with what this node fanned out, and the room sends the
	// rest (emitAt skips what the session already has).
	for {
		more, err := n.store.After(ctx, s.lastIDNow(), replayBatch)
		if n.storeResult(err) != nil {
			s.fail(ReasonDropped, "recovery: the chat store (Redis) is unreachable")
			return missed, ""
		}
		for _, e := range more {
			if eid, err := store.ParseStreamID(e.ID); err == nil {
				if !s.replay(e, eid) {
					return missed, ""
				}
				missed++
			}
		}
		if len(more) == replayBatch {
			continue
		}
		n.membersMu.Lock()
		if s.lastSIDNow().Less(n.posID) && len(more) > 0 {
			n.membersMu.Unlock()
			continue // the room moved on while we read: read again
		}
		break // still locked
	}
	defer n.membersMu.Unlock()
	if old := n.members[s.sid]; old != nil {
		old.left.Do(func() {}) // its end must not announce or delete what is s's now
		old.fail(ReasonDropped, "the client resumed its session on a new connection")
		delete(n.members, s.sid)
	}
	n.members[s.sid] = s
	s.joined.Store(true)
	return missed, ""
}

// replayBatch is how many missed lines one read of the stream returns.
const replayBatch = 512

// replay queues a missed line, waiting for room in the queue; false if the
// session ended meanwhile.
func (s *session) replay(e store.Entry, id store.StreamID) bool {
	s.offMu.Lock()
	defer s.offMu.Unlock()
	if !s.lastSID.Less(id) {
		return true
	}
	s.lastID, s.lastSID = e.ID, id
	if e.Text == "" {
		return true // a marker
	}
	select {
	case s.out <- outgoing{data: s.encodeAt("message", e.Text, s.offset())}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *session) lastIDNow() string {
	s.offMu.Lock()
	defer s.offMu.Unlock()
	return s.lastID
}

func (s *session) lastSIDNow() store.StreamID {
	s.offMu.Lock()
	defer s.offMu.Unlock()
	return s.lastSID
}

// parkSession records how a recoverable session ended: a client that left
// on purpose cannot come back; any other end starts the window now.
func (n *Node) parkSession(ctx context.Context, s *session) {
	if s.pid == "" {
		return
	}
	if r := s.reason.Load(); r != nil && *r == ReasonClientClosed {
		n.storeResult(n.store.DropResumable(ctx, s.pid))
		return
	}
	n.storeResult(n.store.TouchResumable(ctx, []string{s.pid}, n.cfg.Clock.Now().UnixMilli(), n.cfg.resumeTTL()))
}

// touchLoop refreshes the records of this node's clients every
// touchEvery, until ctx ends.
func (n *Node) touchLoop(ctx context.Context) {
	t := n.cfg.Clock.NewTicker(n.cfg.touchEvery(), "node", "recovery-touch")
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.membersMu.Lock()
		pids := make([]string, 0, len(n.members))
		for _, s := range n.members {
			if s.pid != "" {
				pids = append(pids, s.pid)
			}
		}
		n.membersMu.Unlock()
		tctx, cancel := context.WithTimeout(ctx, storeTimeout)
		n.storeResult(n.store.TouchResumable(tctx, pids, n.cfg.Clock.Now().UnixMilli(), n.cfg.resumeTTL()))
		cancel()
	}
}

// sioAnswer is Socket.IO's CONNECT answer with recovery on.
func sioAnswer(s *session, _ bool) []byte {
	return fmt.Appendf(nil, `40{"sid":%q,"pid":%q}`, s.sid, s.pid)
}

// jsonAnswer is /ws's: {"event":"session","data":{"sid","token","recovered"}}.
func jsonAnswer(s *session, recovered bool) []byte {
	b, _ := json.Marshal(struct {
		Event string `json:"event"`
		Data  any    `json:"data"`
	}{"session", struct {
		SID       string `json:"sid"`
		Token     string `json:"token"`
		Recovered bool   `json:"recovered"`
	}{s.sid, s.pid, recovered}})
	return b
}

// encodeEventAt frames a Socket.IO event with its offset as the last
// argument: 42["event","text","offset"].
func encodeEventAt(event, text, offset string) []byte {
	b, _ := json.Marshal([3]string{event, text, offset})
	return append([]byte("42"), b...)
}

// encodeJSONEventAt is /ws's: {"event","data","offset"}.
func encodeJSONEventAt(event, text, offset string) []byte {
	b, _ := json.Marshal(struct {
		Event  string `json:"event"`
		Data   string `json:"data"`
		Offset string `json:"offset"`
	}{event, text, offset})
	return b
}

// messageID reads the optional client message id of a "message" event:
// its second argument, text or a number, at most 64 characters.
func messageID(args []json.RawMessage) (string, error) {
	if len(args) < 2 {
		return "", nil
	}
	var v any
	if err := json.Unmarshal(args[1], &v); err != nil {
		return "", err
	}
	var id string
	switch v := v.(type) {
	case string:
		id = v
	case float64:
		id = string(args[1])
	case nil:
		return "", nil
	default:
		return "", fmt.Errorf("message id %s is not text or a number", quote(string(args[1])))
	}
	if id == "" || len(id) > 64 {
		return "", fmt.Errorf("message id %s: want 1 to 64 characters", quote(id))
	}
	return id, nil
}

// startBus subscribes the node to the chat: the stream with recovery on
// (and the loop that keeps its clients' records fresh), pub/sub otherwise.
func (n *Node) startBus(ctx context.Context) error {
	if !n.cfg.Recovery {
		sub, err := n.store.Subscribe(ctx, busHandler{n})
		n.sub = sub
		return err
	}
	if err := n.startStream(ctx); err != nil {
		return err
	}
	touchCtx, cancel := context.WithCancel(context.Background())
	n.touchStop, n.touchDone = cancel, make(chan struct{})
	go func() { defer close(n.touchDone); n.touchLoop(touchCtx) }()
	return nil
}

// stopBus ends what startBus started with recovery on.
func (n *Node) stopBus() {
	if n.touchStop != nil {
		n.touchStop()
		<-n.touchDone
	}
	if n.stream != nil {
		n.stream.Close()
	}
}
