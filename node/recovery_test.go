package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/node"
)

// rawSIO is a Socket.IO client at the packet level, to present any
// private id and offset, forged ones included.
type rawSIO struct {
	t        *testing.T
	c        *websocket.Conn
	sid, pid string
	offset   string // the last offset received
}

// dialSIO connects and sends CONNECT with auth (raw JSON, "" for none).
func dialSIO(t *testing.T, base, auth string) *rawSIO {
	t.Helper()
	u := strings.Replace(base, "http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
	c, _, err := websocket.Dial(ctxT(t), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	r := &rawSIO{t: t, c: c}
	if open := r.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("got %q, want the Engine.IO open packet", open)
	}
	r.write("40" + auth)
	answer := r.read()
	var a struct{ SID, PID string }
	if !strings.HasPrefix(answer, "40{") || json.Unmarshal([]byte(answer[2:]), &a) != nil || a.SID == "" || a.PID == "" {
		t.Fatalf("got %q, want 40{\"sid\",\"pid\"}", answer)
	}
	r.sid, r.pid = a.SID, a.PID
	return r
}

func (r *rawSIO) read() string {
	r.t.Helper()
	for {
		_, b, err := r.c.Read(ctxT(r.t))
		if err != nil {
			r.t.Fatalf("read: %v", err)
		}
		if string(b) == "2" {
			r.write("3")
			continue
		}
		return string(b)
	}
}

func (r *rawSIO) write(s string) {
	r.t.Helper()
	if err := r.c.Write(ctxT(r.t), websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatalf("write %q: %v", s, err)
	}
}

// next returns the next event's name and text, checking that it carries
// an offset as its last argument, as a Socket.IO server with recovery on
// sends it.
func (r *rawSIO) next() (event, text string) {
	r.t.Helper()
	p := r.read()
	var args []string
	if !strings.HasPrefix(p, "42") || json.Unmarshal([]byte(p[2:]), &args) != nil || len(args) != 3 {
		r.t.Fatalf("got %q, want 42[event,text,offset]", p)
	}
	r.offset = args[2]
	return args[0], args[1]
}

// expectMessage reads events up to the next "message" and compares it.
func (r *rawSIO) expectMessage(want string) {
	r.t.Helper()
	for {
		ev, text := r.next()
		if ev != "message" {
			continue
		}
		if text != want {
			r.t.Fatalf("got message %q (offset %s), want %q", text, r.offset, want)
		}
		return
	}
}

func (r *rawSIO) emit(args ...string) {
	r.t.Helper()
	b, _ := json.Marshal(args)
	r.write("42" + string(b))
}

func auth(pid, offset string) string {
	b, _ := json.Marshal(map[string]string{"pid": pid, "offset": offset})
	return string(b)
}

// recoveryNodes starts two chat nodes with recovery on, on a mock clock
// and without heartbeats (the test moves the clock by minutes).
func recoveryNodes(t *testing.T, w *world) (*quartz.Mock, *node.Node, *node.Node) {
	t.Helper()
	clk := quartz.NewMock(t)
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).MustWait(ctxT(t))
	cfg := node.Config{Recovery: true, Clock: clk, PingInterval: time.Hour}
	cfg.Name = "node-1"
	n1 := w.startNode(t, cfg)
	cfg.Name = "node-2"
	n2 := w.startNode(t, cfg)
	return clk, n1, n2
}

// joinSIO connects a raw client with no auth and names it.
func joinSIO(t *testing.T, base, name string) *rawSIO {
	t.Helper()
	r := dialSIO(t, base, "")
	r.expectMessage(node.TextWelcome)
	r.emit("set_username", name)
	r.expectMessage("Your username is set to " + name)
	return r
}

// TestForgedExpiredOrForeignPrivateIdsAndOffsetsGetANewSession: whatever a
// client presents that is not its own valid session — an unknown private
// id, an offset of another session, a made-up or malformed offset, auth
// that is not an object, oversized values, a session past its window —
// gets a new session with none of the missed lines, and the node keeps
// serving; the genuine pid and offset still recover.
func TestForgedExpiredOrForeignPrivateIdsAndOffsetsGetANewSession(t *testing.T) {
	w := newWorld(t)
	clk, n1, n2 := recoveryNodes(t, w)
	alice := joinSIO(t, n1.URL(), "alice")
	bob := joinSIO(t, n2.URL(), "bob")
	alicePID, aliceOffset := alice.pid, alice.offset
	alice.c.CloseNow() // a dropped connection: recoverable
	w.waitEvent(t, func(e eventT) bool { return e.Kind == events.ConnClosed && e.Source == "node-1" })
	bob.expectMessage("alice left the chatroom.")
	bob.emit("message", "secret-1")
	bob.expectMessage("bob: secret-1")

	bad := []struct{ name, auth string }{
		{"unknown private id", auth("forged-pid", aliceOffset)},
		{"another session's offset", auth(alicePID, bob.offset)},
		{"made-up offset", auth(alicePID, "1-0.abcdefgh")},
		{"malformed offset", auth(alicePID, "garbage")},
		{"no offset", `{"pid":"` + alicePID + `"}`},
		{"auth not an object", `"hello"`},
		{"auth of the wrong types", `{"pid":1,"offset":[2]}`},
		{"oversized private id", auth(strings.Repeat("p", 10000), aliceOffset)},
		{"oversized offset", auth(alicePID, aliceOffset+strings.Repeat("x", 10000))},
		{"the right tag on a position the session never had", auth(alicePID, "0-0."+strings.Split(aliceOffset, ".")[1])},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			c := dialSIO(t, n2.URL(), b.auth)
			if c.pid == alicePID || c.sid == alice.sid {
				t.Fatalf("got alice's session back (sid %s), want a new one", c.sid)
			}
			c.expectMessage(node.TextWelcome) // a new session is welcomed; nothing replayed first
			bob.emit("message", "after "+b.name)
			c.expectMessage("bob: after " + b.name)
			c.c.Close(websocket.StatusNormalClosure, "")
		})
	}

	// The genuine pid and offset still recover: same sid, alice's name,
	// every line she missed, in order, then what is new.
	back := dialSIO(t, n2.URL(), auth(alicePID, aliceOffset))
	if back.pid != alicePID || back.sid != alice.sid {
		t.Fatalf("got sid %s pid %s, want alice's session back (sid %s)", back.sid, back.pid, alice.sid)
	}
	back.emit("message", "I'm back")
	back.expectMessage("alice left the chatroom.") // the tutorial app's disconnect handler ran
	back.expectMessage("bob: secret-1")
	for _, b := range bad {
		back.expectMessage("bob: after " + b.name)
	}
	back.expectMessage("alice: I'm back")

	// Past max_disconnection: a new session.
	pid, offset := back.pid, back.offset
	back.c.CloseNow()
	w.waitEvent(t, func(e eventT) bool {
		return e.Kind == events.ConnClosed && e.Source == "node-2" && e.Reason == node.ReasonDropped
	})
	clocktest.Advance(t, clk, node.DefaultMaxDisconnection+time.Second)
	late := dialSIO(t, n1.URL(), auth(pid, offset))
	if late.pid == pid || late.sid == alice.sid {
		t.Fatalf("got alice's session back after %s away, want a new one", node.DefaultMaxDisconnection+time.Second)
	}
	late.expectMessage(node.TextWelcome)
}

// TestAClientThatLeavesOnPurposeCannotBeResumed: a Socket.IO disconnect
// (41) ends the session for good, as in Socket.IO.
func TestAClientThatLeavesOnPurposeCannotBeResumed(t *testing.T) {
	w := newWorld(t)
	_, n1, n2 := recoveryNodes(t, w)
	alice := joinSIO(t, n1.URL(), "alice")
	alice.write("41")
	w.waitEvent(t, func(e eventT) bool { return e.Kind == events.ConnClosed && e.Source == "node-1" })
	again := dialSIO(t, n2.URL(), auth(alice.pid, alice.offset))
	if again.sid == alice.sid {
		t.Fatal("a session its client left on purpose was resumed")
	}
}

// TestRetriedMessagesAreDeliveredOnce: a message id the chat already took
// is acknowledged again and not sent again.
func TestRetriedMessagesAreDeliveredOnce(t *testing.T) {
	w := newWorld(t)
	_, n1, n2 := recoveryNodes(t, w)
	alice := joinSIO(t, n1.URL(), "alice")
	bob := joinSIO(t, n2.URL(), "bob")
	for _, ack := range []string{"1", "2"} { // the second is a retry
		b, _ := json.Marshal([]string{"message", "once", "msg-1"})
		alice.write("42" + ack + string(b))
		for alice.read() != "43"+ack+"[]" {
		}
	}
	alice.emit("message", "twice?")
	bob.expectMessage("alice: once")
	bob.expectMessage("alice: twice?") // not a second "alice: once"
	// A message id that is not text or a number is refused, by name.
	b, _ := json.Marshal([]any{"message", "x", map[string]int{"a": 1}})
	alice.write("42" + string(b))
	for {
		if _, text := alice.next(); strings.HasPrefix(text, "Failed to send the message: message id") {
			break
		}
	}
}

// jsonWS is a /ws client.
type jsonWS struct {
	t *testing.T
	c *websocket.Conn
}

type jsonFrame struct {
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
	Offset string          `json:"offset"`
}

func dialJSON(t *testing.T, base, query string) *jsonWS {
	t.Helper()
	c, _, err := websocket.Dial(ctxT(t), strings.Replace(base, "http://", "ws://", 1)+"/ws"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &jsonWS{t, c}
}

func (j *jsonWS) next() jsonFrame {
	j.t.Helper()
	_, b, err := j.c.Read(ctxT(j.t))
	if err != nil {
		j.t.Fatalf("read: %v", err)
	}
	var f jsonFrame
	if err := json.Unmarshal(b, &f); err != nil {
		j.t.Fatalf("got %q: %v", b, err)
	}
	return f
}

// text reads events up to the next of the given name and returns its text.
func (j *jsonWS) text(event string) (string, string) {
	j.t.Helper()
	for {
		f := j.next()
		if f.Event == event {
			var s string
			json.Unmarshal(f.Data, &s)
			return s, f.Offset
		}
	}
}

func (j *jsonWS) send(v any) {
	j.t.Helper()
	b, _ := json.Marshal(v)
	if err := j.c.Write(ctxT(j.t), websocket.MessageText, b); err != nil {
		j.t.Fatal(err)
	}
}

type jsonSession struct {
	SID, Token string
	Recovered  bool
}

func (j *jsonWS) session() jsonSession {
	j.t.Helper()
	f := j.next()
	var s jsonSession
	if f.Event != "session" || json.Unmarshal(f.Data, &s) != nil || s.Token == "" {
		j.t.Fatalf("got %+v, want a session event with a token", f)
	}
	return s
}

// TestTheJSONTransportResumesWithItsTokenAndLastOffset: the /ws
// equivalent — a client back with ?token=&offset= on another node gets
// its session and the lines it missed; retried message ids count once.
func TestTheJSONTransportResumesWithItsTokenAndLastOffset(t *testing.T) {
	for name, u := range map[string]string{"miniredis": "", "redis-server": os.Getenv("LAB_TEST_REDIS_URL")} {
		t.Run(name, func(t *testing.T) {
			if name == "redis-server" && u == "" {
				t.Skip("set LAB_TEST_REDIS_URL to a redis-server")
			}
			w := newWorld(t)
			if u == "" {
				u = w.redis.URL()
			}
			ch := fmt.Sprintf("lab:test:wsresume:%d:%d", os.Getpid(), recoveryChannels.Add(1))
			start := func(name string) *node.Node {
				n, err := node.Start(context.Background(), node.Config{Name: name, RedisURL: u, Channel: ch, Recovery: true, Events: w.bus})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { n.Close() })
				return n
			}
			n1, n2 := start("node-1"), start("node-2")
			alice := dialJSON(t, n1.URL(), "")
			first := alice.session()
			if first.Recovered {
				t.Fatal("a first connection says recovered")
			}
			alice.send(map[string]string{"event": "set_username", "data": "alice"})
			_, offset := alice.text("message") // welcome
			text, offset := alice.text("message")
			if text != "Your username is set to alice" || offset == "" {
				t.Fatalf("got %q offset %q, want the confirmation with an offset", text, offset)
			}
			alice.c.CloseNow()
			w.waitEvent(t, func(e eventT) bool { return e.Kind == events.ConnClosed && e.Source == "node-1" })

			bob := dialJSON(t, n2.URL(), "")
			bob.session()
			bob.send(map[string]string{"event": "set_username", "data": "bob"})
			for _, m := range []map[string]string{
				{"event": "message", "data": "one", "id": "b1"},
				{"event": "message", "data": "two", "id": "b2"},
				{"event": "message", "data": "two", "id": "b2"}, // a retry
				{"event": "message", "data": "three", "id": "b3"},
			} {
				bob.send(m)
				if got, _ := bob.text("ack"); got != m["id"] {
					t.Fatalf("ack %q, want %q", got, m["id"])
				}
			}
			back := dialJSON(t, n2.URL(), "?"+url.Values{"token": {first.Token}, "offset": {offset}}.Encode())
			s := back.session()
			if !s.Recovered || s.SID != first.SID {
				t.Fatalf("got %+v, want alice's session (sid %s) recovered", s, first.SID)
			}
			for _, want := range []string{"alice left the chatroom.", "bob: one", "bob: two", "bob: three"} {
				if got, _ := back.text("message"); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
			back.send(map[string]string{"event": "message", "data": "hi"})
			if got, _ := back.text("message"); got != "alice: hi" {
				t.Fatalf("got %q, want alice: hi (her name came back, nothing was sent twice)", got)
			}
		})
	}
}
