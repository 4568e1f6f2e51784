package balancer_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = chattest.WaitFor

var ctxT = chattest.Ctx

// echoNodes starts n echo nodes named node-1..node-n.
func echoNodes(t *testing.T, n int) []*node.Node {
	t.Helper()
	var out []*node.Node
	for i := 1; i <= n; i++ {
		nd, err := node.Start(context.Background(), node.Config{Name: fmt.Sprintf("node-%d", i), Mode: node.ModeEcho})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		out = append(out, nd)
	}
	return out
}

func servers(nodes []*node.Node, weights ...int) []config.Server {
	var out []config.Server
	for i, n := range nodes {
		s := config.Server{Name: n.Name(), URL: n.URL()}
		if i < len(weights) {
			w := weights[i]
			s.Weight = &w
		}
		out = append(out, s)
	}
	return out
}

// rig is a balancer under test with its event stream.
type rig struct {
	b       *balancer.Balancer
	sub     *events.Subscription
	clk     quartz.Clock
	backlog []events.Event // received, not yet matched by waitEvent
}

// start starts a balancer on cfg and clk, served by the event loop unless
// a front door is given.
func start(t *testing.T, cfg config.Config, clk quartz.Clock, door ...balancer.FrontDoor) *rig {
	t.Helper()
	bus := events.New()
	sub := bus.Subscribe(100000)
	t.Cleanup(sub.Close) // after the balancer's close, which runs first
	opts := balancer.Options{Clock: clk, Events: bus}
	if len(door) > 0 {
		opts.FrontDoor = door[0]
	}
	return &rig{b: balancertest.Start(t, cfg, opts), sub: sub, clk: clk}
}

func noChecks() config.HealthCheck { return config.HealthCheck{Disabled: true} }

// waitEvent returns the earliest event not yet taken that matches; events
// it passes over stay for later waits.
func (r *rig) waitEvent(t *testing.T, match func(events.Event) bool) events.Event {
	t.Helper()
	for i, e := range r.backlog {
		if match(e) {
			r.backlog = append(r.backlog[:i], r.backlog[i+1:]...)
			return e
		}
	}
	ctx := ctxT(t)
	for {
		select {
		case e, ok := <-r.sub.C():
			if !ok {
				t.Fatalf("events dropped: %v", r.sub.Err())
			}
			if match(e) {
				return e
			}
			r.backlog = append(r.backlog, e)
		case <-ctx.Done():
			t.Fatalf("timed out waiting for an event; seen meanwhile: %v", r.backlog)
		}
	}
}

func kind(k events.Kind) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == k }
}

// wsConn is a WebSocket client through the balancer.
type wsConn struct {
	*websocket.Conn
	node string
}

func dialWS(t *testing.T, url string) *wsConn {
	t.Helper()
	c, resp, err := websocket.Dial(ctxT(t), strings.Replace(url, "http", "ws", 1)+"/echo", nil)
	if err != nil {
		t.Fatalf("dial through the balancer: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsConn{Conn: c, node: resp.Header.Get("X-Lab-Node")}
}

// echo sends text and expects it back.
func (c *wsConn) echo(t *testing.T, text string) {
	t.Helper()
	if err := c.Write(ctxT(t), websocket.MessageText, []byte(text)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_, p, err := c.Read(ctxT(t))
	if err != nil || string(p) != text {
		t.Fatalf("echo: got %q, %v, want %q", p, err, text)
	}
}

// advance is clocktest.Advance, short for these tests.
func advance(t *testing.T, clk *quartz.Mock, d time.Duration) {
	t.Helper()
	clocktest.Advance(t, clk, d)
}

func getStatus(t *testing.T, r *rig) balancer.Status {
	t.Helper()
	return r.b.Status()
}

func httpGet(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type eventT = events.Event

const (
	opened = events.ConnOpened
	closed = events.ConnClosed
)
