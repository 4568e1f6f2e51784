//go:build unix

package examples_test

import (
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/internal/browsertest"
)

// TestTheSocketIOExampleRidesAStopBehindTheLabsBalancer runs the example
// behind the lab's balancer with the config it ships (balancer.yaml) and
// stops one server as a rolling deploy does: its health check fails, new
// clients go to the other server, its own clients get 1001 through the
// balancer after the grace, reconnect to the survivor and chat on.
func TestTheSocketIOExampleRidesAStopBehindTheLabsBalancer(t *testing.T) {
	lb, url, sub := chatBehindBalancer(t)

	a, b := dialChat(t, lb.URL()), dialChat(t, lb.URL())
	if a.Node() == b.Node() {
		t.Fatalf("least_conn put both clients on %s, want one on each", a.Node())
	}
	victim, survivor := a.Node(), b.Node()
	greeted(t, a, victim)
	greeted(t, b, survivor)
	emit(t, a, "set_username", "A")
	expectEvent(t, a, "message", "Your username is set to A")
	emit(t, b, "set_username", "B")
	expectEvent(t, b, "message", "Your username is set to B")

	sent := time.Now()
	url[victim].signal(t, syscall.SIGTERM)
	waitEvent(t, sub, func(e events.Event) bool {
		return e.Kind == events.BackendHealth && e.Backend == victim && e.Reason == "unhealthy"
	}, victim+" unhealthy")
	late := dialChat(t, lb.URL())
	greeted(t, late, survivor) // the balancer sends nobody new to a server that is going

	select {
	case <-a.Done():
	case <-time.After(waitFor):
		t.Fatalf("A got no close within %s of SIGTERM", waitFor)
	}
	if code := websocket.CloseStatus(a.Err()); code != websocket.StatusGoingAway {
		t.Fatalf("A's close through the balancer: got %v (%v), want 1001", code, a.Err())
	}
	if took := time.Since(sent); took < 1500*time.Millisecond {
		t.Fatalf("A was closed %s after SIGTERM, before the app's grace of 1.5s", took)
	}
	expectEvent(t, b, "message", "A left the chatroom.")

	again := dialChat(t, lb.URL()) // what socket.io-client does after a 1001
	greeted(t, again, survivor)
	emit(t, again, "set_username", "A")
	expectEvent(t, again, "message", "Your username is set to A")
	emit(t, again, "message", "back")
	expectEvent(t, b, "message", "A: back")
	if code := url[victim].wait(t); code != 0 {
		t.Fatalf("%s exit code: got %d, want 0", victim, code)
	}
}

// chatBehindBalancer starts app-1 and app-2 (grace 1.5 s) on one Redis and
// the lab's balancer in front of them, configured by the balancer.yaml the
// example ships (with the test's ports and a quicker health check). It
// returns the balancer, the apps by name and the balancer's events.
func chatBehindBalancer(t *testing.T) (*balancer.Balancer, map[string]*app, *events.Subscription) {
	t.Helper()
	r, _ := chatRedis(t)
	apps := startChats(t, r, []string{"app-1", "app-2"}, "SHUTDOWN_GRACE_MS=1500")
	url := map[string]*app{"app-1": apps[0], "app-2": apps[1]}

	raw, err := os.ReadFile("socketio-chat/balancer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("socketio-chat/balancer.yaml: %v", err)
	}
	cfg.Listener.Addr = "127.0.0.1:0"
	cfg.ServerGroup.HealthCheck.Interval = config.Duration(200 * time.Millisecond)
	for i, s := range cfg.ServerGroup.Servers {
		cfg.ServerGroup.Servers[i].URL = url[s.Name].URL
	}
	bus := events.New()
	sub := bus.Subscribe(10000)
	t.Cleanup(sub.Close)
	lb, err := balancer.Start(ctxT(t), cfg, balancer.Options{Events: bus, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	return lb, url, sub
}

// TestTwoBrowserTabsChatAcrossTheExampleAndOneRidesAStop opens the lab's
// chat page, served by the example behind the balancer, in two headless
// Chromium tabs (the config's least_conn puts the second on the other
// app: its page's own requests would make round robin a toss-up), chats
// across the apps, and stops the first tab's app: the tab shows the 1001,
// reconnects to the other app, and the other tab sees it leave.
func TestTwoBrowserTabsChatAcrossTheExampleAndOneRidesAStop(t *testing.T) {
	nodeBin(t, chatExample)
	b := browsertest.New(t)
	lb, url, _ := chatBehindBalancer(t)

	alice := b.Open("alice", lb.URL()+"/")
	alice.WaitText("status", "Connected to app-")
	bob := b.Open("bob", lb.URL()+"/")
	bob.WaitText("status", "Connected to app-")
	aliceNode := strings.TrimPrefix(browsertest.Eval[string](alice, `document.getElementById("status").textContent`), "Connected to ")
	bobNode := strings.TrimPrefix(browsertest.Eval[string](bob, `document.getElementById("status").textContent`), "Connected to ")
	if aliceNode == bobNode {
		t.Fatalf("both tabs on %s, want one on each app", aliceNode)
	}
	for _, u := range []struct {
		p    *browsertest.Page
		name string
	}{{alice, "alice"}, {bob, "bob"}} {
		u.p.Type("username", u.name)
		u.p.Click("setUsername")
		u.p.WaitText("messages", "Your username is set to "+u.name)
	}
	alice.Type("myMessage", "hello from "+aliceNode)
	alice.Click("send")
	bob.WaitText("messages", "alice: hello from "+aliceNode)

	url[aliceNode].signal(t, syscall.SIGTERM)
	alice.WaitText("status", "(code 1001, node stopping)")
	bob.WaitText("messages", "alice left the chatroom.")
	alice.WaitText("status", "Connected to "+bobNode)
	alice.WaitText("messages", "Reconnected: this is a new session")
	alice.Screenshot("testdata/screenshots", "example-tab-after-stop")
}

// waitEvent reads events until one matches.
func waitEvent(t *testing.T, sub *events.Subscription, match func(events.Event) bool, what string) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case e, ok := <-sub.C():
			if !ok {
				t.Fatalf("waiting for %s: the subscription ended: %v", what, sub.Err())
			}
			if match(e) {
				return
			}
		case <-deadline:
			t.Fatalf("no event %s within %s", what, waitFor)
		}
	}
}

// TestTheExamplesOwnPageChatsOnTheRealSocketIOClient: the page the example
// serves when the lab's is not beside it (PAGE_DIR=public, as in a copy of
// the example elsewhere) runs the socket.io client the server hands out;
// two tabs on two apps chat.
func TestTheExamplesOwnPageChatsOnTheRealSocketIOClient(t *testing.T) {
	nodeBin(t, chatExample)
	b := browsertest.New(t)
	r, _ := chatRedis(t)
	apps := startChats(t, r, []string{"app-1", "app-2"}, "PAGE_DIR=public")
	alice := b.Open("alice", apps[0].URL+"/")
	bob := b.Open("bob", apps[1].URL+"/")
	alice.WaitText("status", "Connected to app-1")
	bob.WaitText("status", "Connected to app-2")
	for _, u := range []struct {
		p    *browsertest.Page
		name string
	}{{alice, "alice"}, {bob, "bob"}} {
		u.p.WaitText("messages", "Welcome to the chatroom!")
		u.p.Type("username", u.name)
		u.p.Click("setUsername")
		u.p.WaitText("messages", "Your username is set to "+u.name)
	}
	bob.Type("myMessage", "hi alice")
	bob.Click("send")
	alice.WaitText("messages", "bob: hi alice")
}
