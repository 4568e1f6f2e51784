package balancer_test

import (
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
)

// TestDrainAfterDeregistrationDelay: a backend removed by a reload keeps
// its tunnels for the deregistration delay, then they close as drained.
func TestDrainAfterDeregistrationDelay(t *testing.T) {
	for _, closeFrame := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "close frame 1001"}[closeFrame]
		t.Run(name, func(t *testing.T) {
			clk := quartz.NewMock(t)
			nodes := echoNodes(t, 2)
			cfg := config.Config{
				Listener: config.Listener{IdleTimeout: config.Duration(4000 * time.Second)},
				ServerGroup: config.ServerGroup{
					Servers: servers(nodes), HealthCheck: noChecks(),
					Drain: config.Drain{CloseFrame: closeFrame},
				},
			}
			r := start(t, cfg, clk)
			stay, leave := dialWS(t, r.b.URL()), dialWS(t, r.b.URL())
			if leave.node != "node-2" {
				t.Fatalf("second client on %s, want node-2", leave.node)
			}
			cfg.Listener.Addr = r.b.Addr()
			cfg.ServerGroup.Servers = servers(nodes[:1])
			if _, err := r.b.Reload(cfg); err != nil {
				t.Fatal(err)
			}
			if c := dialWS(t, r.b.URL()); c.node != "node-1" {
				t.Fatalf("new connection to %s, want node-1 only", c.node)
			}
			if st := r.b.Status(); st.Backends[1].State != "draining" || st.Backends[1].Active != 1 {
				t.Fatalf("removed backend: %+v, want draining with 1 active", st.Backends[1])
			}
			advance(t, clk, 300*time.Second-time.Millisecond)
			leave.echo(t, "still draining")
			advance(t, clk, time.Millisecond)
			e := r.waitEvent(t, kind(closed))
			if e.Backend != "node-2" || e.Reason != balancer.ReasonDrained {
				t.Fatalf("got %+v, want node-2's tunnel closed as drained", e)
			}
			_, _, err := leave.Read(ctxT(t))
			want := websocket.StatusCode(-1)
			if closeFrame {
				want = websocket.StatusGoingAway
			}
			if got := websocket.CloseStatus(err); got != want {
				t.Fatalf("client saw %v (status %d), want status %d", err, got, want)
			}
			stay.echo(t, "node-1 untouched")
		})
	}
}

// TestKeepOpenLeavesADrainedBackendsTunnelsToTheirEnds: with
// drain.keep_open (AWS NLB's default, aws-nlb's profile) the delay ends the
// backend's part in new connections, not the connections it has.
func TestKeepOpenLeavesADrainedBackendsTunnelsToTheirEnds(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 2)
	delay := config.Duration(10 * time.Second)
	cfg := config.Config{
		Listener: config.Listener{IdleTimeout: config.Duration(4000 * time.Second)},
		ServerGroup: config.ServerGroup{
			Servers: servers(nodes), HealthCheck: noChecks(), DeregistrationDelay: &delay,
			Drain: config.Drain{KeepOpen: true},
		},
	}
	r := start(t, cfg, clk)
	dialWS(t, r.b.URL())
	leave := dialWS(t, r.b.URL())
	cfg.ServerGroup.Servers = servers(nodes[:1])
	if _, err := r.b.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	advance(t, clk, time.Minute)
	leave.echo(t, "kept past the delay")
	if e := r.waitEvent(t, func(e eventT) bool { return e.Kind == "backend.drain" && e.Reason == "delay_over" }); e.Backend != "node-2" {
		t.Fatalf("got %+v, want node-2's delay over with its tunnel kept", e)
	}
	for _, e := range r.backlog {
		if e.Kind == closed {
			t.Fatalf("a tunnel closed: %+v", e)
		}
	}
	aws, err := config.FromProfile("aws-nlb")
	if err != nil || !aws.ServerGroup.Drain.KeepOpen {
		t.Fatalf("aws-nlb: keep_open %v (%v), want true: its drain does not cut by default", aws.ServerGroup.Drain.KeepOpen, err)
	}
}
