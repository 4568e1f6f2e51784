package node_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
)

func getHealth(ctx context.Context, url string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return nil
}

func waitClosed(t *testing.T, c *client.Client) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-ctxT(t).Done():
		t.Fatal("client still open")
		return nil
	}
}

func TestKillDropsWithoutCloseFrameAndRestarts(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	b := joinAs(t, n2.URL(), client.SocketIO, "B")
	a := joinAs(t, n1.URL(), client.SocketIO, "A")
	addr := n1.Addr()

	if err := n1.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := websocket.CloseStatus(waitClosed(t, a)); got != -1 {
		t.Fatalf("close status seen by the client: got %d, want -1 (no close frame)", got)
	}
	if e := w.waitEvent(t, closedEvent(a.SID)); e.Reason != node.ReasonKilled {
		t.Fatalf("close reason: got %q, want %q", e.Reason, node.ReasonKilled)
	}
	if err := getHealth(ctxT(t), n1.URL()); err == nil {
		t.Fatal("killed node still answers /healthz")
	}
	// A crashed process announces nothing: B's next message is its own.
	emit(t, b, "message", "still here")
	expect(t, b, "B: still here")
	// ... and cleans nothing up: A's session hash is orphaned in Redis.
	if _, ok := session(t, w, a.SID); !ok {
		t.Fatal("a crashed node's session hash disappeared; only a graceful leave deletes it")
	}

	if err := n1.Start(); err != nil {
		t.Fatal(err)
	}
	if n1.Addr() != addr {
		t.Fatalf("restarted on %s, want the same address %s", n1.Addr(), addr)
	}
	a2 := joinAs(t, n1.URL(), client.SocketIO, "A")
	emit(t, a2, "message", "back")
	expect(t, b, "A: back")
}

func TestStopSendsGoingAwayAndAnnouncesLeave(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	b := joinAs(t, n2.URL(), client.SocketIO, "B")
	a := joinAs(t, n1.URL(), client.JSON, "A")
	if err := n1.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := websocket.CloseStatus(waitClosed(t, a)); got != websocket.StatusGoingAway {
		t.Fatalf("close status: got %d, want 1001", got)
	}
	expect(t, b, "A left the chatroom.")
	if n1.Listening() {
		t.Fatal("stopped node still listening")
	}
	if err := n1.Restart(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	joinAs(t, n1.URL(), client.SocketIO, "A2")
}

func TestHangAnswersNothingUntilStart(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	b := joinAs(t, n2.URL(), client.SocketIO, "B")
	a := joinAs(t, n1.URL(), client.SocketIO, "A")
	if err := n1.Hang(); err != nil {
		t.Fatal(err)
	}
	// Proving a negative needs a bound: these would answer in a millisecond.
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := getHealth(short, n1.URL()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("/healthz of a hung node: got %v, want a timeout", err)
	}
	if _, err := client.Dial(short, client.Options{URL: n1.URL()}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handshake with a hung node: got %v, want a timeout", err)
	}
	pending := make(chan error, 1)
	go func() { pending <- getHealth(ctxT(t), n1.URL()) }()
	emit(t, a, "message", "stuck") // read by the kernel, not handled

	if err := n1.Start(); err != nil {
		t.Fatal(err)
	}
	if err := <-pending; err != nil {
		t.Fatalf("request made during the hang: %v, want it answered after Start", err)
	}
	expect(t, b, "A: stuck")
}

// advance is clocktest.Advance, short for these tests.
func advance(t *testing.T, clk *quartz.Mock, d time.Duration) {
	t.Helper()
	clocktest.Advance(t, clk, d)
}

func TestSlowDelaysEveryMessageOnTheClock(t *testing.T) {
	w := newWorld(t)
	clk := quartz.NewMock(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", Clock: clk})
	a := joinAs(t, n1.URL(), client.SocketIO, "A")
	b := joinAs(t, n1.URL(), client.SocketIO, "B")

	trap := clk.Trap().NewTimer("slow")
	defer trap.Close()
	if err := n1.Slow(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	emit(t, a, "message", "hi")
	for range 2 { // one delivery to A, one to B
		call := trap.MustWait(ctxT(t))
		if call.Duration != 5*time.Second {
			t.Fatalf("delivery delayed by %s, want 5s", call.Duration)
		}
		call.MustRelease(ctxT(t))
	}
	advance(t, clk, 5*time.Second-time.Millisecond)
	if a.Pending()+b.Pending() != 0 {
		t.Fatal("message delivered before its delay")
	}
	advance(t, clk, time.Millisecond)
	expect(t, a, "A: hi")
	expect(t, b, "A: hi")
}

// TestMissedPongEndsSession: a client that stops answering pings is cut
// after ping interval + ping timeout and announced as left once; a client
// that answers stays for ten minutes.
func TestMissedPongEndsSession(t *testing.T) {
	w := newWorld(t)
	clk := quartz.NewMock(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", Clock: clk})
	b := joinAs(t, n1.URL(), client.SocketIO, "B")
	a, err := client.Dial(ctxT(t), client.Options{URL: n1.URL(), NoPong: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.CloseNow()
	expect(t, a, node.TextWelcome)
	emit(t, a, "set_username", "A")
	expect(t, a, "Your username is set to A")

	rearm := clk.Trap().AfterFunc("ping")
	defer rearm.Close()
	advance(t, clk, node.DefaultPingInterval) // both pinged; only B answers
	rearm.MustWait(ctxT(t)).MustRelease(ctxT(t))
	advance(t, clk, node.DefaultPingTimeout-time.Millisecond)
	select {
	case <-a.Done():
		t.Fatal("A cut before the ping timeout")
	default:
	}
	advance(t, clk, time.Millisecond)
	e := w.waitEvent(t, closedEvent(a.SID))
	if e.Reason != node.ReasonPingTimeout {
		t.Fatalf("reason: got %q, want %q", e.Reason, node.ReasonPingTimeout)
	}
	expect(t, b, "A left the chatroom.")

	start := clk.Now()
	for clk.Since(start) < 10*time.Minute {
		next, _ := clk.Peek() // B's next ping
		advance(t, clk, next)
		rearm.MustWait(ctxT(t)).MustRelease(ctxT(t)) // B answered
	}
	emit(t, b, "message", "ten minutes later")
	expect(t, b, "B: ten minutes later")
}

// TestStopWithAGraceFailsHealthAndServesOnUntilTheGraceIsOver: a node
// with a stop grace is an app that drains on SIGTERM — /healthz answers
// 503 at once, open and new connections are served for the grace, then
// everyone gets 1001.
func TestStopWithAGraceFailsHealthAndServesOnUntilTheGraceIsOver(t *testing.T) {
	w := newWorld(t)
	clk := quartz.NewMock(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", StopGrace: 10 * time.Second, Clock: clk})
	a := joinAs(t, n1.URL(), client.SocketIO, "A")
	if err := n1.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := getHealth(ctxT(t), n1.URL()); err == nil || err.Error() != "503 Service Unavailable" {
		t.Fatalf("/healthz within the stop grace: got %v, want 503 Service Unavailable", err)
	}
	if st := n1.State(); !st.Stopping || !st.Listening {
		t.Fatalf("state within the stop grace: %+v, want stopping and listening", st)
	}
	late := joinAs(t, n1.URL(), client.SocketIO, "Late") // still served
	emit(t, a, "message", "still here")
	expect(t, a, "A: still here")
	expect(t, late, "A: still here")

	clocktest.Advance(t, clk, 10*time.Second-time.Millisecond)
	emit(t, late, "message", "a millisecond left")
	expect(t, a, "Late: a millisecond left")
	clocktest.Advance(t, clk, time.Millisecond)
	for _, c := range []*client.Client{a, late} {
		if got := websocket.CloseStatus(waitClosed(t, c)); got != websocket.StatusGoingAway {
			t.Fatalf("close status at the end of the grace: got %d, want 1001", got)
		}
	}
	if n1.Listening() || n1.State().Stopping {
		t.Fatalf("after the grace: %+v, want stopped", n1.State())
	}
	if err := n1.Start(); err != nil {
		t.Fatal(err)
	}
	if err := getHealth(ctxT(t), n1.URL()); err != nil {
		t.Fatalf("/healthz after start: %v, want 200", err)
	}
}

// TestAStopWithinTheGraceClosesAtOnce: a second SIGTERM, as the example
// app takes it.
func TestAStopWithinTheGraceClosesAtOnce(t *testing.T) {
	w := newWorld(t)
	clk := quartz.NewMock(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", StopGrace: time.Minute, Clock: clk})
	a := joinAs(t, n1.URL(), client.SocketIO, "A")
	for range 2 {
		if err := n1.Stop(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if got := websocket.CloseStatus(waitClosed(t, a)); got != websocket.StatusGoingAway {
		t.Fatalf("close status after a second stop: got %d, want 1001", got)
	}
	if n1.Listening() {
		t.Fatal("still listening after a second stop")
	}
}
