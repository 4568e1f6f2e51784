package balancer_test

import (
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
)

// TestDrainAfterDeregistrationDelay: a backend removed by a reload keeps
// its tunnels for the deregistration delay, then they close as drained.
func TestDrainAfterDeregistrationDelay(t *testing.T) {
	for _, closeFrame := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "close frame 1001"}[closeFrame]
		t.Run(name, func(t *testing.T) {
			clk := quartz.NewMock(t)
			nodes := echoNodes(t, 2)
			cfg := balancer.Config{
				Listener: balancer.ListenerConfig{IdleTimeout: balancer.Duration(4000 * time.Second)},
				ServerGroup: balancer.ServerGroupConfig{
					Servers: servers(nodes), HealthCheck: noChecks(),
					Drain: balancer.DrainConfig{CloseFrame: closeFrame},
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
