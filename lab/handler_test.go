package lab_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/lab"
)

// echoApp is a user's WebSocket app as the lab gets it: an echo on /ws
// that says goodbye with 1001 when the lab stops it (unless deaf to it),
// and a health check.
type echoApp struct {
	starts     atomic.Int32
	clock      atomic.Pointer[quartz.Clock]
	ignoreStop bool
}

func (a *echoApp) handler(env lab.HandlerEnv) http.Handler {
	a.starts.Add(1)
	a.clock.Store(&env.Clock)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		if !a.ignoreStop {
			go func() {
				select {
				case <-env.Stopping:
					c.Close(websocket.StatusGoingAway, "server stopping")
				case <-ctx.Done():
				}
			}()
		}
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, data); err != nil {
				return
			}
		}
	})
	return mux
}

// startHandlerLab starts a lab of one handler node and no balancer.
func startHandlerLab(t *testing.T, spec lab.NodeSpec, clock quartz.Clock) *lab.Lab {
	t.Helper()
	l, err := lab.Start(chattest.Ctx(t), lab.Config{Nodes: 1, Node: spec, NoBalancer: true, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func dialEcho(t *testing.T, l *lab.Lab) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(l.Nodes()[0].URL(), "http") + "/ws"
	c, _, err := websocket.Dial(chattest.Ctx(t), url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func echoes(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	if err := c.Write(chattest.Ctx(t), websocket.MessageText, []byte(text)); err != nil {
		t.Fatalf("write %q: %v", text, err)
	}
	if _, got, err := c.Read(chattest.Ctx(t)); err != nil || string(got) != text {
		t.Fatalf("got %q (%v), want the echo %q", got, err, text)
	}
}

// closeCode reads until the connection ends and returns its close code,
// -1 when it ended without a close frame.
func closeCode(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	for {
		if _, _, err := c.Read(chattest.Ctx(t)); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("the connection is still open, want it closed")
			}
			return websocket.CloseStatus(err)
		}
	}
}

func fault(t *testing.T, l *lab.Lab, f string, d time.Duration) string {
	t.Helper()
	did, err := l.Fault(chattest.Ctx(t), "node-1", f, d)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return did
}

func TestAHandlerNodeServesTheUsersHandlerOnTheLabsMockClock(t *testing.T) {
	app := &echoApp{}
	mock := quartz.NewMock(t)
	l := startHandlerLab(t, lab.NodeSpec{NewHandler: app.handler}, mock)
	if c := l.Clocking(); c.Real {
		t.Fatalf("got %s, want the mock clock", c)
	}
	if got := *app.clock.Load(); got != quartz.Clock(mock) {
		t.Fatalf("the handler got clock %T, want the lab's mock", got)
	}
	if k := l.Nodes()[0].Kind(); k != lab.KindHandler {
		t.Fatalf("got kind %s, want handler", k)
	}
	echoes(t, dialEcho(t, l), "hi")
}

func TestAPlainHandlerPutsTheLabOnTheRealClockAndSaysWhy(t *testing.T) {
	app := &echoApp{}
	l := startHandlerLab(t, lab.NodeSpec{Handler: app.handler(lab.HandlerEnv{Clock: quartz.NewReal()})}, quartz.NewMock(t))
	c := l.Clocking()
	if !c.Real || !strings.Contains(c.Why, "node-1 is a handler node given as an http.Handler") || !strings.Contains(c.Why, "NewHandler") {
		t.Fatalf("got %q, want the real clock because node-1 keeps its own time, naming NewHandler", c)
	}
	echoes(t, dialEcho(t, l), "hi")
}

func TestKillingAHandlerNodeDropsItsWebSocketsAndStartBringsItBackOnTheSamePort(t *testing.T) {
	app := &echoApp{}
	l := startHandlerLab(t, lab.NodeSpec{NewHandler: app.handler}, quartz.NewMock(t))
	url := l.Nodes()[0].URL()
	c := dialEcho(t, l)
	echoes(t, c, "before")
	did := fault(t, l, "kill", 0)
	if want := "1 upgraded connection dropped without a close frame"; !strings.Contains(did, want) {
		t.Errorf("kill said %q, want it to contain %q", did, want)
	}
	if code := closeCode(t, c); code != -1 {
		t.Fatalf("got close code %d, want none (1006 to a browser)", code)
	}
	if st := l.Nodes()[0].State(); st.Listening || st.Note != "killed" {
		t.Fatalf("after kill: listening %v, note %q; want not listening, killed", st.Listening, st.Note)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("a killed handler node still answers, want connection refused")
	}
	fault(t, l, "start", 0)
	if got := l.Nodes()[0].URL(); got != url {
		t.Fatalf("after start the node is at %s, want the same %s", got, url)
	}
	echoes(t, dialEcho(t, l), "after")
	if n := app.starts.Load(); n != 2 {
		t.Fatalf("NewHandler was called %d times, want 2: a start builds the handler anew, as a restarted process starts afresh", n)
	}
}

func TestStoppingAHandlerNodeLetsTheHandlerSayGoingAway(t *testing.T) {
	app := &echoApp{}
	l := startHandlerLab(t, lab.NodeSpec{NewHandler: app.handler}, quartz.NewMock(t))
	c := dialEcho(t, l)
	echoes(t, c, "hi")
	done := make(chan string, 1)
	go func() { did, _ := l.Fault(context.Background(), "node-1", "stop", 0); done <- did }()
	if code := closeCode(t, c); code != websocket.StatusGoingAway {
		t.Fatalf("got close code %d, want 1001 from the handler", code)
	}
	if did, want := <-done, "closed 1 of 1 upgraded connection"; !strings.Contains(did, want) || strings.Contains(did, "dropped") {
		t.Fatalf("stop said %q, want it to contain %q and drop nothing", did, want)
	}
}

func TestAHandlerThatIgnoresStopIsCutAfterTheStopGrace(t *testing.T) {
	app := &echoApp{ignoreStop: true}
	l := startHandlerLab(t, lab.NodeSpec{NewHandler: app.handler, StopGrace: 100 * time.Millisecond}, quartz.NewMock(t))
	c := dialEcho(t, l)
	echoes(t, c, "hi")
	did := fault(t, l, "stop", 0)
	if want := "dropped the other 1 without a close frame after the 100ms stop grace"; !strings.Contains(did, want) {
		t.Errorf("stop said %q, want it to contain %q", did, want)
	}
	if code := closeCode(t, c); code != -1 {
		t.Fatalf("got close code %d, want none: the lab cannot write a close frame for the handler", code)
	}
}

func TestRestartingAHandlerNodeServesAgainOnTheSamePort(t *testing.T) {
	app := &echoApp{}
	l := startHandlerLab(t, lab.NodeSpec{NewHandler: app.handler}, quartz.NewMock(t))
	url := l.Nodes()[0].URL()
	c := dialEcho(t, l)
	done := make(chan error, 1)
	go func() { _, err := l.Fault(context.Background(), "node-1", "restart", 0); done <- err }()
	if code := closeCode(t, c); code != websocket.StatusGoingAway {
		t.Fatalf("got close code %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("restart: %v", err)
	}
	echoes(t, dialEcho(t, l), "again")
	if got := l.Nodes()[0].URL(); got != url {
		t.Fatalf("after restart at %s, want %s", got, url)
	}
}

func TestAHungHandlerNodeAnswersNothingUntilStart(t *testing.T) {
	app := &echoApp{}
	l := startHandlerLab(t, lab.NodeSpec{NewHandler: app.handler}, quartz.NewMock(t))
	c := dialEcho(t, l)
	fault(t, l, "hang", 0)
	if !l.Nodes()[0].State().Hung {
		t.Fatal("State().Hung is false after hang")
	}
	if err := c.Write(chattest.Ctx(t), websocket.MessageText, []byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	// Proving that nothing comes takes a wait; 200ms of wall time is
	// plenty on loopback, where the echo takes well under a millisecond.
	ctx, cancel := context.WithTimeout(chattest.Ctx(t), 200*time.Millisecond)
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	if _, err := hc.Get(l.Nodes()[0].URL() + "/healthz"); err == nil {
		t.Error("a hung handler node answered a health check, want a timeout")
	}
	reply := make(chan string, 1)
	go func() {
		_, got, _ := c.Read(chattest.Ctx(t))
		reply <- string(got)
	}()
	select {
	case got := <-reply:
		t.Fatalf("a hung node echoed %q, want nothing until start", got)
	case <-ctx.Done():
	}
	cancel()
	fault(t, l, "start", 0)
	if got := <-reply; got != "anyone?" {
		t.Fatalf("after start got %q, want the echo held by the hang", got)
	}
}

func TestASlowHandlerNodeHoldsEveryMessageForTheDelayOnTheLabsClock(t *testing.T) {
	app := &echoApp{}
	mock := quartz.NewMock(t)
	trap := mock.Trap().NewTimer("lab", "handler", "slow")
	defer trap.Close()
	l := startHandlerLab(t, lab.NodeSpec{NewHandler: app.handler}, mock)
	c := dialEcho(t, l)
	did := fault(t, l, "slow", 2*time.Second)
	if want := "every write to an upgraded connection goes out 2s late"; !strings.Contains(did, want) {
		t.Errorf("slow said %q, want it to contain %q", did, want)
	}
	if err := c.Write(chattest.Ctx(t), websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	call := trap.MustWait(chattest.Ctx(t))
	if call.Duration != 2*time.Second {
		t.Fatalf("the echo is held %s, want 2s", call.Duration)
	}
	call.MustRelease(chattest.Ctx(t))
	reply := make(chan string, 1)
	go func() {
		_, got, _ := c.Read(chattest.Ctx(t))
		reply <- string(got)
	}()
	mock.Advance(2*time.Second - time.Millisecond).MustWait(chattest.Ctx(t))
	select {
	case got := <-reply:
		t.Fatalf("got %q 1ms before the delay ran out, want nothing yet", got)
	default:
	}
	mock.Advance(time.Millisecond).MustWait(chattest.Ctx(t))
	if got := <-reply; got != "hi" {
		t.Fatalf("got %q, want the echo once 2s passed", got)
	}
	fault(t, l, "slow", 0)
	echoes(t, c, "fast again")
}

func TestAHandlerNodeSpecIsCheckedLikeEveryOther(t *testing.T) {
	app := &echoApp{}
	for _, tc := range []struct {
		name string
		spec lab.NodeSpec
		want string
	}{
		{"handler and command", lab.NodeSpec{NewHandler: app.handler, Command: "node server.js"}, "node.handler: a node is either a Go handler"},
		{"both kinds of handler", lab.NodeSpec{NewHandler: app.handler, Handler: http.NotFoundHandler()}, "node.handler: give NewHandler"},
		{"a mode", lab.NodeSpec{NewHandler: app.handler, Mode: "echo"}, `node.mode: "echo" is for the lab's own nodes`},
		{"a hook", lab.NodeSpec{NewHandler: app.handler, KillCmd: "true"}, "node.kill_cmd: only a command or url node takes it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lab.Start(chattest.Ctx(t), lab.Config{Nodes: 1, Node: tc.spec, NoBalancer: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
