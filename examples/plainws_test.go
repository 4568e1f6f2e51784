//go:build unix

package examples_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const wsExample = "plain-ws"

// peer is a WebSocket client of the plain-ws example that reads all the
// time, as a live browser does, so it answers the server's pings.
type peer struct {
	conn *websocket.Conn
	resp *http.Response
	msgs chan frame
	done chan struct{} // closed when the reader stopped
	err  error         // why it stopped; set before done is closed
}

type frame struct {
	typ  websocket.MessageType
	data []byte
}

// dialWS opens a WebSocket on url+path; read false leaves the peer deaf: it
// never reads, so it never answers a ping (a client whose network died).
func dialWS(t *testing.T, url, path string, read bool, subprotocols ...string) *peer {
	t.Helper()
	ws := "ws" + strings.TrimPrefix(url, "http") + path
	conn, resp, err := websocket.Dial(ctxT(t), ws, &websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		t.Fatalf("dial %s: %v", ws, err)
	}
	p := &peer{conn: conn, resp: resp, msgs: make(chan frame, 64), done: make(chan struct{})}
	if read {
		go p.read()
	} else {
		close(p.done)
	}
	t.Cleanup(func() {
		conn.CloseNow()
		<-p.done
	})
	return p
}

func (p *peer) read() {
	defer close(p.done)
	for {
		typ, data, err := p.conn.Read(context.Background())
		if err != nil {
			p.err = err
			return
		}
		p.msgs <- frame{typ, data}
	}
}

// next is the next message the peer received.
func (p *peer) next(t *testing.T) frame {
	t.Helper()
	select {
	case f := <-p.msgs:
		return f
	case <-p.done:
		t.Fatalf("connection closed while waiting for a message: %v", p.err)
	case <-time.After(waitFor):
		t.Fatalf("no message within %s", waitFor)
	}
	return frame{}
}

// nextJSON is the next message as a JSON object.
func (p *peer) nextJSON(t *testing.T) map[string]any {
	t.Helper()
	f := p.next(t)
	var m map[string]any
	if f.typ != websocket.MessageText || json.Unmarshal(f.data, &m) != nil {
		t.Fatalf("got %v %q, want a JSON text message", f.typ, f.data)
	}
	return m
}

// expectJSON reads the next message and checks the given fields.
func (p *peer) expectJSON(t *testing.T, want map[string]any) map[string]any {
	t.Helper()
	got := p.nextJSON(t)
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Fatalf("message %v: %s is %#v, want %#v", got, k, got[k], v)
		}
	}
	return got
}

func (p *peer) send(t *testing.T, typ websocket.MessageType, data string) {
	t.Helper()
	if err := p.conn.Write(ctxT(t), typ, []byte(data)); err != nil {
		t.Fatalf("write %q: %v", data, err)
	}
}

// closed waits for the connection to end and returns its close code.
func (p *peer) closed(t *testing.T, within time.Duration) websocket.StatusCode {
	t.Helper()
	select {
	case <-p.done:
		return websocket.CloseStatus(p.err)
	case <-time.After(within):
		t.Fatalf("the connection was not closed within %s", within)
	}
	return 0
}

func TestThePlainWSExampleEchoesAndBroadcastsToItsRoom(t *testing.T) {
	srv := startApp(t, wsExample, "LAB_NODE_NAME=ws-1")

	echo := dialWS(t, srv.URL, "/echo", true)
	echo.send(t, websocket.MessageText, "héllo")
	if f := echo.next(t); f.typ != websocket.MessageText || string(f.data) != "héllo" {
		t.Fatalf("echo: got %v %q, want text \"héllo\"", f.typ, f.data)
	}
	echo.send(t, websocket.MessageBinary, "\x00\x01\xff")
	if f := echo.next(t); f.typ != websocket.MessageBinary || string(f.data) != "\x00\x01\xff" {
		t.Fatalf("echo: got %v %q, want the same binary back", f.typ, f.data)
	}

	a := dialWS(t, srv.URL, "/room", true, "nope", "chat.v1")
	if got := a.conn.Subprotocol(); got != "chat.v1" {
		t.Fatalf("subprotocol: got %q, want chat.v1 (the one offered that the server speaks)", got)
	}
	if got := a.resp.Header.Get("X-Lab-Node"); got != "ws-1" {
		t.Fatalf("X-Lab-Node on the 101: got %q, want ws-1", got)
	}
	aID := a.expectJSON(t, map[string]any{"type": "welcome", "node": "ws-1", "room": "lobby", "protocol": "chat.v1", "members": 1.0})["id"]
	b := dialWS(t, srv.URL, "/room", true)
	bID := b.expectJSON(t, map[string]any{"type": "welcome", "protocol": "", "members": 2.0})["id"]
	a.expectJSON(t, map[string]any{"type": "joined", "id": bID, "members": 2.0})

	a.send(t, websocket.MessageText, `{"type":"broadcast","data":{"n":1}}`)
	for _, p := range []*peer{a, b} {
		p.expectJSON(t, map[string]any{"type": "broadcast", "from": aID, "node": "ws-1", "data": map[string]any{"n": 1.0}})
	}

	other := dialWS(t, srv.URL, "/room/other", true)
	other.expectJSON(t, map[string]any{"type": "welcome", "room": "other", "members": 1.0})

	// Bad input gets an error and the connection stays open.
	for _, bad := range []struct {
		typ        websocket.MessageType
		data, says string
	}{
		{websocket.MessageText, "nope", `invalid JSON "nope"`},
		{websocket.MessageText, `{"type":"dance"}`, `unknown type "dance": want broadcast or ping`},
		{websocket.MessageBinary, "\x01", "binary messages are not supported here"},
	} {
		b.send(t, bad.typ, bad.data)
		if got := b.expectJSON(t, map[string]any{"type": "error"}); !strings.Contains(fmt.Sprint(got["error"]), bad.says) {
			t.Fatalf("error for %q: got %q, want it to say %q", bad.data, got["error"], bad.says)
		}
	}
	b.send(t, websocket.MessageText, `{"type":"ping"}`)
	b.expectJSON(t, map[string]any{"type": "pong"})

	b.conn.Close(websocket.StatusNormalClosure, "")
	a.expectJSON(t, map[string]any{"type": "left", "id": bID, "members": 1.0})
}

func TestThePlainWSExampleRefusesWhatItDoesNotServe(t *testing.T) {
	srv := startApp(t, wsExample)
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	for _, tc := range []struct {
		name, path string
		header     http.Header
		status     int
	}{
		{"an unknown path", "/chat", nil, http.StatusNotFound},
		{"a page of another origin", "/room", http.Header{"Origin": {"http://evil.example"}}, http.StatusForbidden},
	} {
		conn, resp, err := websocket.Dial(ctxT(t), ws+tc.path, &websocket.DialOptions{HTTPHeader: tc.header})
		if err == nil {
			conn.CloseNow()
			t.Fatalf("%s: the upgrade succeeded, want %d", tc.name, tc.status)
		}
		if resp == nil || resp.StatusCode != tc.status {
			t.Fatalf("%s: got %v (%v), want %d", tc.name, resp, err, tc.status)
		}
	}
	big := dialWS(t, srv.URL, "/echo", true)
	big.send(t, websocket.MessageText, strings.Repeat("x", 64<<10+1))
	if code := big.closed(t, waitFor); code != websocket.StatusMessageTooBig {
		t.Fatalf("a message over 64 KiB: closed with %v, want 1009", code)
	}
}

// TestThePlainWSHeartbeatTerminatesAPeerThatStoppedAnswering: a client that
// reads answers the server's pings and stays; one that never reads (its
// network is gone) is terminated after a missed ping, with no close frame,
// and its room hears that it left.
func TestThePlainWSHeartbeatTerminatesAPeerThatStoppedAnswering(t *testing.T) {
	srv := startApp(t, wsExample, "HEARTBEAT_MS=200")
	alive := dialWS(t, srv.URL, "/room", true)
	alive.expectJSON(t, map[string]any{"type": "welcome"})
	deaf := dialWS(t, srv.URL, "/room", false)
	deafID := alive.expectJSON(t, map[string]any{"type": "joined", "members": 2.0})["id"]

	alive.expectJSON(t, map[string]any{"type": "left", "id": deafID, "members": 1.0})
	srv.waitOutput(t, "terminated a client that did not answer the last ping")
	for {
		_, _, err := deaf.conn.Read(ctxT(t)) // the welcome, then the end
		if err != nil {
			if code := websocket.CloseStatus(err); code != -1 {
				t.Fatalf("the deaf client's end: got close %v, want none (terminated: a browser reports 1006)", code)
			}
			break
		}
	}
	alive.send(t, websocket.MessageText, `{"type":"ping"}`)
	alive.expectJSON(t, map[string]any{"type": "pong"})
}

// TestSIGTERMKeepsThePlainWSExampleServingForTheGraceThenCloses1001: health
// fails at once, the sockets keep working for SHUTDOWN_GRACE_MS, then each
// gets 1001 "node stopping" and the process exits 0.
func TestSIGTERMKeepsThePlainWSExampleServingForTheGraceThenCloses1001(t *testing.T) {
	const grace = time.Second
	srv := startApp(t, wsExample, "SHUTDOWN_GRACE_MS=1000")
	room := dialWS(t, srv.URL, "/room", true)
	room.expectJSON(t, map[string]any{"type": "welcome"})
	echo := dialWS(t, srv.URL, "/echo", true)

	sent := time.Now()
	srv.signal(t, syscall.SIGTERM)
	srv.waitOutput(t, "SIGTERM: /healthz answers 503")
	if code, body := srv.health(t); code != http.StatusServiceUnavailable || body["status"] != "draining" {
		t.Fatalf("/healthz during the grace: got %d %v, want 503 draining", code, body)
	}
	echo.send(t, websocket.MessageText, "still here")
	if f := echo.next(t); string(f.data) != "still here" {
		t.Fatalf("echo during the grace: got %q, want \"still here\"", f.data)
	}
	for _, p := range []*peer{room, echo} {
		if code := p.closed(t, grace+waitFor); code != websocket.StatusGoingAway {
			t.Fatalf("close: got %v (%v), want 1001 going away", code, p.err)
		}
		var ce websocket.CloseError
		if !errors.As(p.err, &ce) || ce.Reason != "node stopping" {
			t.Fatalf("close reason: got %v, want \"node stopping\"", p.err)
		}
	}
	if took := time.Since(sent); took < grace {
		t.Fatalf("clients closed %s after SIGTERM, before the grace of %s", took, grace)
	}
	if code := srv.wait(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: got %d, want 0; output:\n%s", code, srv.output())
	}
}

// TestASecondSignalEndsTheGraceAtOnce: an operator who does not want to
// wait out a long grace signals again and the clients get their 1001 now.
func TestASecondSignalEndsTheGraceAtOnce(t *testing.T) {
	srv := startApp(t, wsExample, "SHUTDOWN_GRACE_MS=3600000")
	c := dialWS(t, srv.URL, "/echo", true)
	srv.signal(t, syscall.SIGTERM)
	srv.waitOutput(t, "SIGTERM: /healthz answers 503")
	// Another signal: the same one within a second is npm's copy of a
	// group's SIGTERM, one stop (TestASIGTERMToNpmStartsWholeGroupIsOneStopWithItsGrace).
	srv.signal(t, syscall.SIGINT)
	srv.waitOutput(t, "SIGINT again: closing now")
	if code := c.closed(t, waitFor); code != websocket.StatusGoingAway {
		t.Fatalf("close: got %v (%v), want 1001", code, c.err)
	}
	if code := srv.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0", code)
	}
}

func TestThePlainWSExampleNamesABadSetting(t *testing.T) {
	for _, tc := range []struct{ env, says string }{
		{"PORT=http", `PORT="http": want a whole number 0-65535`},
		{"HEARTBEAT_MS=0", `HEARTBEAT_MS="0": want a whole number 1-3600000`},
		{"SHUTDOWN_GRACE_MS=1s", `SHUTDOWN_GRACE_MS="1s": want a whole number 0-3600000`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			a := launch(t, wsExample, tc.env)
			if code := a.wait(t); code != 2 {
				t.Fatalf("exit code: got %d, want 2; output:\n%s", code, a.output())
			}
			<-a.readDone
			if out := a.output(); !strings.Contains(out, tc.says) {
				t.Fatalf("output: got %q, want it to say %q", out, tc.says)
			}
		})
	}
}
