//go:build unix

package examples_test

import (
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/sioclienttest"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
	"github.com/wslab/wslab/store"
)

const chatExample = "socketio-chat"

// chatRedis is the lab's embedded Redis (miniredis), which the example's
// Redis adapter and node-redis client work against, and a go-redis client
// to look inside it.
func chatRedis(t *testing.T) (*store.Embedded, *redis.Client) {
	t.Helper()
	r, err := store.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: r.Addr(), DisableIdentity: true})
	t.Cleanup(func() {
		rc.Close()
		r.Close()
	})
	return r, rc
}

// startChats starts one example server per name on r, side by side (a
// node process takes seconds to load on a busy machine).
func startChats(t *testing.T, r *store.Embedded, names []string, env ...string) []*app {
	t.Helper()
	apps := make([]*app, len(names))
	for i, name := range names {
		apps[i] = launch(t, chatExample, append([]string{"LAB_NODE_NAME=" + name, "REDIS_URL=" + r.URL()}, env...)...)
	}
	for _, a := range apps {
		a.ready(t)
	}
	return apps
}

func startChat(t *testing.T, r *store.Embedded, name string, env ...string) *app {
	t.Helper()
	return startChats(t, r, []string{name}, env...)[0]
}

func dialChat(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctxT(t), client.Options{URL: url})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// next is the client's next event, whatever its name.
func next(t *testing.T, c *client.Client) client.Event {
	t.Helper()
	ev, err := c.Next(ctxT(t))
	if err != nil {
		t.Fatalf("waiting for an event: %v", err)
	}
	return ev
}

func expectEvent(t *testing.T, c *client.Client, name, text string) {
	t.Helper()
	if ev := next(t, c); ev.Name != name || ev.Text != text {
		t.Fatalf("got event %s %q, want %s %q", ev.Name, ev.Text, name, text)
	}
}

func emit(t *testing.T, c *client.Client, event, text string) {
	t.Helper()
	if err := c.Emit(ctxT(t), event, text); err != nil {
		t.Fatalf("emit %s %q: %v", event, text, err)
	}
}

// greeted reads what every client gets first: the node's name, then the
// tutorial's welcome.
func greeted(t *testing.T, c *client.Client, nodeName string) {
	t.Helper()
	if got := c.Node(); got != nodeName {
		t.Fatalf("X-Lab-Node on the 101: got %q, want %q", got, nodeName)
	}
	expectEvent(t, c, "node", nodeName)
	expectEvent(t, c, "message", "Welcome to the chatroom!")
}

func TestTheSocketIOExampleChatsAcrossTwoServersWithTheNodesTexts(t *testing.T) {
	r, rc := chatRedis(t)
	apps := startChats(t, r, []string{"node-1", "node-2"})
	one, two := apps[0], apps[1]
	a, b := dialChat(t, one.URL), dialChat(t, two.URL)
	greeted(t, a, "node-1")
	greeted(t, b, "node-2")

	emit(t, a, "message", "too early")
	expectEvent(t, a, "message", node.TextNoUsername)
	emit(t, a, "set_username", "A")
	expectEvent(t, a, "message", "Your username is set to A")
	if got, err := rc.HGet(ctxT(t), "session:"+a.SID, "username").Result(); err != nil || got != "A" {
		t.Fatalf("session:%s username: got %q (%v), want \"A\"", a.SID, got, err)
	}
	emit(t, b, "set_username", "B")
	expectEvent(t, b, "message", "Your username is set to B")

	emit(t, a, "message", "hi from node-1")
	expectEvent(t, a, "message", "A: hi from node-1")
	expectEvent(t, b, "message", "A: hi from node-1") // through Redis
	emit(t, b, "message", "hi from node-2")
	expectEvent(t, b, "message", "B: hi from node-2")
	expectEvent(t, a, "message", "B: hi from node-2")

	if code, body := one.health(t); code != http.StatusOK || body["node"] != "node-1" || body["sessions"] != 1.0 || body["redis"] != "ok" {
		t.Fatalf("node-1 /healthz: got %d %v, want 200 with node node-1, 1 session, redis ok", code, body)
	}

	a.Close()
	expectEvent(t, b, "message", "A left the chatroom.")
	if n, err := rc.Exists(ctxT(t), "session:"+a.SID).Result(); err != nil || n != 0 {
		t.Fatalf("session:%s after A left: exists=%d (%v), want deleted", a.SID, n, err)
	}
}

// TestTheSocketIOExampleAnswersBadInputAsTheLabsNodesDo sends the same
// packets to a lab chat node and to the example and wants the same answers.
func TestTheSocketIOExampleAnswersBadInputAsTheLabsNodesDo(t *testing.T) {
	r, _ := chatRedis(t)
	ex := startChat(t, r, "example")
	labNode, err := node.Start(ctxT(t), node.Config{Name: "lab", RedisURL: r.URL(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { labNode.Close() })

	packets := []struct{ name, packet string }{
		{"message before a username", `42["message","hi"]`},
		{"empty username", `42["set_username",""]`},
		{"username of spaces", `42["set_username","  \t "]`},
		{"username with a control character", `42["set_username","a\u0007b"]`},
		{"username with a bidi override", `42["set_username","x\u202ey"]`},
		{"username of 33 characters", `42["set_username","` + strings.Repeat("é", 33) + `"]`},
		{"username that is null", `42["set_username",null]`},
		{"username that is an object", `42["set_username",{"a":1}]`},
		{"username that is a number", `42["set_username",7]`},
		{"username that is a boolean", `42["set_username",true]`},
		{"message that is a number", `42["message",1.5]`},
		{"message that is a list", `42["message",["x"]]`},
		{"message of 2001 characters", `42["message","` + strings.Repeat("m", 2001) + `"]`},
		{"an event nobody handles, then a message", `42["dance","now"]`},
		{"message of 2000 characters", `42["message","` + strings.Repeat("m", 2000) + `"]`},
	}
	ours, theirs := dialChat(t, ex.URL), dialChat(t, labNode.URL())
	greeted(t, ours, "example")
	greeted(t, theirs, "lab")
	for _, p := range packets {
		var got [2]string
		for i, c := range []*client.Client{ours, theirs} {
			if err := c.Conn().Write(ctxT(t), websocket.MessageText, []byte(p.packet)); err != nil {
				t.Fatalf("%s: write: %v", p.name, err)
			}
			if p.name == "an event nobody handles, then a message" {
				emit(t, c, "message", "still there")
			}
			msg, err := c.NextMessage(ctxT(t))
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			got[i] = msg
		}
		if got[0] != got[1] {
			t.Errorf("%s: the example says %q, the lab's node says %q", p.name, got[0], got[1])
		}
	}
}

// TestTheRealSocketIOClientChatsAcrossTwoExampleServers plays the chat of
// node/sioclient_test.go with the unmodified socket.io-client against the
// example: the same lines as against the lab's nodes.
func TestTheRealSocketIOClientChatsAcrossTwoExampleServers(t *testing.T) {
	nodeBin(t, chatExample) // the example's packages, as for every test of it
	bin := sioclienttest.Node(t)
	r, _ := chatRedis(t)
	// A short heartbeat so the client's pongs are exercised.
	apps := startChats(t, r, []string{"node-1", "node-2"}, "PING_INTERVAL_MS=50")
	out := sioclienttest.Run(t, bin, "chat.mjs", apps[0].URL, apps[1].URL)
	chattest.CheckChatMJS(t, out, "websocket")
}

// TestSIGTERMKeepsTheSocketIOExampleServingForTheGraceThenCloses1001 is the
// app's side of a rolling deploy: health fails at once, chat (and new
// connections) go on for SHUTDOWN_GRACE_MS, then every client gets 1001 —
// a close socket.io-client reconnects after — and the others see them leave.
func TestSIGTERMKeepsTheSocketIOExampleServingForTheGraceThenCloses1001(t *testing.T) {
	const grace = time.Second
	r, _ := chatRedis(t)
	apps := startChats(t, r, []string{"node-1", "node-2"}, "SHUTDOWN_GRACE_MS=1000")
	one, two := apps[0], apps[1]
	a, b := dialChat(t, one.URL), dialChat(t, two.URL)
	greeted(t, a, "node-1")
	greeted(t, b, "node-2")
	emit(t, a, "set_username", "A")
	expectEvent(t, a, "message", "Your username is set to A")
	emit(t, b, "set_username", "B")
	expectEvent(t, b, "message", "Your username is set to B")

	sent := time.Now()
	one.signal(t, syscall.SIGTERM)
	one.waitOutput(t, "SIGTERM: /healthz answers 503")
	if code, body := one.health(t); code != http.StatusServiceUnavailable || body["status"] != "draining" {
		t.Fatalf("/healthz during the grace: got %d %v, want 503 draining", code, body)
	}
	emit(t, a, "message", "still here")
	expectEvent(t, b, "message", "A: still here")
	late := dialChat(t, one.URL) // the balancer may still send new clients
	greeted(t, late, "node-1")

	for _, c := range []*client.Client{a, late} {
		select {
		case <-c.Done():
		case <-time.After(grace + waitFor):
			t.Fatalf("no close within the grace (%s) and %s", grace, waitFor)
		}
		if code := websocket.CloseStatus(c.Err()); code != websocket.StatusGoingAway {
			t.Fatalf("close: got %v (%v), want 1001 going away", code, c.Err())
		}
	}
	if took := time.Since(sent); took < grace {
		t.Fatalf("clients closed %s after SIGTERM, before the grace of %s", took, grace)
	}
	expectEvent(t, b, "message", "A left the chatroom.")
	if code := one.wait(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: got %d, want 0; output:\n%s", code, one.output())
	}
}

// TestTheSocketIOExampleNamesWhatStopsItFromStarting: a bad setting exits
// 2 and an unreachable Redis exits 1, each with a line saying which.
func TestTheSocketIOExampleNamesWhatStopsItFromStarting(t *testing.T) {
	nodeBin(t, chatExample)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String() // nobody listens there once l is closed
	l.Close()
	for _, tc := range []struct {
		name string
		env  []string
		code int
		says string
	}{
		{"a port that is not a number", []string{"PORT=eighty", "REDIS_URL=redis://" + closed}, 2, `PORT="eighty": want a whole number 0-65535`},
		{"a negative grace", []string{"SHUTDOWN_GRACE_MS=-1", "REDIS_URL=redis://" + closed}, 2, `SHUTDOWN_GRACE_MS="-1": want a whole number`},
		{"a Redis URL that is not one", []string{"REDIS_URL=localhost:6379"}, 2, `REDIS_URL="localhost:6379": want redis://host:port/db`},
		{"a Redis nobody answers", []string{"REDIS_URL=redis://" + closed + "/0"}, 1, "cannot reach Redis at redis://" + closed + "/0 (REDIS_URL)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := launch(t, chatExample, tc.env...)
			if code := a.wait(t); code != tc.code {
				t.Fatalf("exit code: got %d, want %d; output:\n%s", code, tc.code, a.output())
			}
			<-a.readDone
			if out := a.output(); !strings.Contains(out, tc.says) {
				t.Fatalf("output: got %q, want it to say %q", out, tc.says)
			}
		})
	}
}

// TestTheSocketIOExampleSaysWhenRedisIsAwayAndChatsOnWhenItIsBack: while
// Redis is away a message gets the nodes' "unreachable" answer and
// /healthz says so; when an empty Redis comes back on the same address the
// apps reconnect and resubscribe, and the named users chat on across them
// (each app keeps the name Redis last confirmed).
func TestTheSocketIOExampleSaysWhenRedisIsAwayAndChatsOnWhenItIsBack(t *testing.T) {
	r, err := store.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	addr := r.Addr()
	t.Cleanup(func() { r.Close() })
	apps := startChats(t, r, []string{"node-1", "node-2"})
	a, b := dialChat(t, apps[0].URL), dialChat(t, apps[1].URL)
	greeted(t, a, "node-1")
	greeted(t, b, "node-2")
	emit(t, a, "set_username", "A")
	expectEvent(t, a, "message", "Your username is set to A")

	r.Close()
	apps[0].waitOutput(t, "REDIS UNREACHABLE")
	emit(t, a, "message", "anyone?")
	expectEvent(t, a, "message", "Failed to send the message: the chat store (Redis) is unreachable.")
	if code, body := apps[0].health(t); code != http.StatusOK || body["redis"] != "unreachable" {
		t.Fatalf("/healthz while Redis is away: got %d %v, want 200 with redis unreachable", code, body)
	}

	r, err = store.StartEmbedded(addr) // empty: the session hashes are gone
	if err != nil {
		t.Fatalf("restart the embedded Redis on %s: %v", addr, err)
	}
	for _, a := range apps {
		a.waitOutput(t, "redis reachable again")
	}
	emit(t, a, "message", "back")
	expectEvent(t, a, "message", "A: back")
	expectEvent(t, b, "message", "A: back")
}
