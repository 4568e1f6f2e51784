package faultlink_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/node"
)

// The faults seen from the balancer and from a WebSocket client: the hops
// of a lab, built by hand.

type hops struct {
	bus        *events.Bus
	sub        *events.Subscription
	b          *balancer.Balancer
	client     *faultlink.Link // between clients and the balancer
	node       *faultlink.Link // between the balancer and node-1
	idle       time.Duration
	hcInterval time.Duration
}

// startHops starts node-1 (echo), a link in front of it, a balancer whose
// server is that link, and a client-side link in front of the balancer.
func startHops(t *testing.T, clk quartz.Clock) *hops {
	t.Helper()
	nd, err := node.Start(context.Background(), node.Config{Name: "node-1", Mode: node.ModeEcho})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	h := &hops{bus: events.New(), idle: 10 * time.Second, hcInterval: 2 * time.Second}
	h.sub = h.bus.Subscribe(10000)
	t.Cleanup(h.sub.Close)
	h.node = startLink(t, faultlink.Config{Name: "node-1", Upstream: nd.Addr(), Clock: clk, Events: h.bus})
	h.b, err = balancer.Start(context.Background(), config.Config{
		Listener: config.Listener{Addr: "127.0.0.1:0", IdleTimeout: config.Duration(h.idle)},
		ServerGroup: config.ServerGroup{
			Servers: []config.Server{{Name: "node-1", URL: "http://" + h.node.Addr()}},
			HealthCheck: config.HealthCheck{Path: "/healthz", Interval: config.Duration(h.hcInterval),
				Timeout: config.Duration(time.Second), UnhealthyThreshold: 2},
		},
	}, balancer.Options{Clock: clk, Events: h.bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.b.Close() })
	h.client = startLink(t, faultlink.Config{Name: "client", Upstream: strings.TrimPrefix(h.b.URL(), "http://"),
		ClientSide: true, Clock: clk, Events: h.bus})
	return h
}

func (h *hops) waitEvent(t *testing.T, match func(events.Event) bool) events.Event {
	t.Helper()
	for {
		select {
		case e, ok := <-h.sub.C():
			if !ok {
				t.Fatalf("events dropped: %v", h.sub.Err())
			}
			if match(e) {
				return e
			}
		case <-time.After(chattest.WaitFor):
			t.Fatalf("timed out waiting for an event; balancer status: %+v", h.b.Status())
		}
	}
}

func kind(k events.Kind) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == k }
}

// dialWS opens a WebSocket to the echo node through the client link and
// checks that it echoes.
func (h *hops) dialWS(t *testing.T) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(chattest.Ctx(t), "ws://"+h.client.Addr()+"/echo", nil)
	if err != nil {
		t.Fatalf("dial through the links: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := c.Write(chattest.Ctx(t), websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(chattest.Ctx(t)); err != nil || string(p) != "hi" {
		t.Fatalf("echo through the links: got %q, %v", p, err)
	}
	h.waitEvent(t, kind(events.ConnOpened))
	return c
}

func TestABlackHoledNodeFailsItsHealthChecksAndTheIdleTimeoutFires(t *testing.T) {
	clk := quartz.NewMock(t)
	h := startHops(t, clk)
	c := h.dialWS(t)
	if err := h.node.Set(faultlink.Faults{BlackHole: true}); err != nil {
		t.Fatal(err)
	}
	// The client speaks; the node never hears it and nothing comes back.
	if err := c.Write(chattest.Ctx(t), websocket.MessageText, []byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string { return "the message never reached the black hole" }, func() bool { return h.node.Stats().DroppedUp > 0 })

	for round := 1; round <= 2; round++ {
		clocktest.Advance(t, clk, h.hcInterval-time.Second*time.Duration(round-1)) // the probe goes out into the hole
		clocktest.Advance(t, clk, time.Second)
		e := h.waitEvent(t, kind(events.BackendCheck))
		t.Logf("check %d at %s: %s", round, clk.Now().Format("05.000"), e)
		if e.Reason != "failed" || e.Detail != "no answer within 1s" {
			t.Fatalf("check %d: got %s, want failed: no answer within 1s", round, e)
		}
	}
	if e := h.waitEvent(t, kind(events.BackendHealth)); e.Backend != "node-1" || e.Reason != "unhealthy" {
		t.Fatalf("got %s, want node-1 unhealthy", e)
	}
	if n := len(h.b.Status().Connections); n != 1 {
		t.Fatalf("%d tunnels open before the idle timeout, want 1", n)
	}
	clocktest.Advance(t, clk, h.idle-2*h.hcInterval-time.Second) // 10 s since the client spoke
	e := h.waitEvent(t, kind(events.ConnClosed))
	if e.Reason != balancer.ReasonIdleTimeout {
		t.Fatalf("got %s, want the tunnel closed by idle_timeout", e)
	}
}

func TestAResetReachesAWebSocketClientAsAbnormalClosureWithinASecond(t *testing.T) {
	h := startHops(t, nil)
	c := h.dialWS(t)
	start := time.Now()
	if n := h.client.Reset(); n != 1 {
		t.Fatalf("reset %d connections, want 1", n)
	}
	_, _, err := c.Read(chattest.Ctx(t))
	took := time.Since(start)
	t.Logf("the client saw %q after %s", err, took)
	// No close frame came: coder/websocket reports status -1, a browser
	// reports 1006 (abnormal closure).
	if st := websocket.CloseStatus(err); st != -1 || !isReset(err) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("got %v (close status %d), want a connection reset with no close frame", err, st)
	}
	if took > time.Second {
		t.Fatalf("the client saw the reset after %s, want within 1s", took)
	}
	if e := h.waitEvent(t, kind(events.ConnClosed)); e.Reason != balancer.ReasonClientReset {
		t.Fatalf("the balancer saw %s, want client_reset", e)
	}
}

func TestADroppedNATMappingLeavesTheBalancerUnawareUntilItsIdleTimeout(t *testing.T) {
	clk := quartz.NewMock(t)
	h := startHops(t, clk)
	c := h.dialWS(t)
	readCtx := c.CloseRead(chattest.Ctx(t)) // reads pongs; ends when the connection does
	if err := c.Ping(chattest.Ctx(t)); err != nil {
		t.Fatalf("heartbeat before the NAT drop: %v", err)
	}
	if n, err := h.client.DropMappings(); n != 1 || err != nil {
		t.Fatalf("DropMappings: %d, %v; want 1", n, err)
	}
	// The client's next heartbeat vanishes; the balancer hears nothing.
	pingCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond) // wall clock: the client's own heartbeat timeout
	defer cancel()
	pinged := make(chan error, 1)
	go func() { pinged <- c.Ping(pingCtx) }()
	eventually(t, func() string { return "the ping was not dropped" }, func() bool { return h.client.Stats().DroppedUp > 0 })
	if n := len(h.b.Status().Connections); n != 1 {
		t.Fatalf("the balancer counts %d tunnels open, want 1: it cannot know", n)
	}
	clocktest.Advance(t, clk, h.idle-time.Millisecond)
	if n := len(h.b.Status().Connections); n != 1 {
		t.Fatalf("1ms before the idle timeout the balancer counts %d tunnels, want 1", n)
	}
	clocktest.Advance(t, clk, time.Millisecond)
	if e := h.waitEvent(t, kind(events.ConnClosed)); e.Reason != balancer.ReasonIdleTimeout {
		t.Fatalf("got %s, want idle_timeout", e)
	}
	// The balancer's goodbye goes nowhere: the client learns only from its
	// own heartbeat.
	if err := <-pinged; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the client's heartbeat: got %v, want no pong (deadline exceeded)", err)
	}
	select {
	case <-readCtx.Done():
		t.Fatal("the client saw its connection end; the NAT drop should hide that")
	default:
	}
	if st := h.client.Stats(); st.Open != 1 || st.HalfOpen != 1 {
		t.Fatalf("client link: %d open, %d half-open; want the client's side still open", st.Open, st.HalfOpen)
	}
}
