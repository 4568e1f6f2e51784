package balancer_test

import (
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
)

// TestIdleTimeout: a silent tunnel is cut at exactly the idle timeout; one
// that exchanges a byte every 30 s lives for ten minutes.
func TestIdleTimeout(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 1)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, clk)
	quiet := dialWS(t, r.b.URL())
	quietID := r.waitEvent(t, kind(opened)).Conn
	busy := dialWS(t, r.b.URL())
	r.waitEvent(t, kind(opened))

	advance(t, clk, 59900*time.Millisecond)
	if n := len(r.b.Status().Connections); n != 2 {
		t.Fatalf("at 59.9 s: %d connections open, want 2", n)
	}
	busy.echo(t, "x") // activity at 59.9 s keeps busy going
	advance(t, clk, 100*time.Millisecond)
	e := r.waitEvent(t, kind(closed))
	if e.Conn != quietID || e.Reason != balancer.ReasonIdleTimeout {
		t.Fatalf("at 60 s: got %s closed (%s), want %s closed by idle_timeout", e.Conn, e.Reason, quietID)
	}
	if _, _, err := quiet.Read(ctxT(t)); websocket.CloseStatus(err) != -1 {
		t.Fatalf("quiet client: got %v, want the connection closed", err)
	}

	for range 20 { // ten minutes, a byte every 30 s
		advance(t, clk, 30*time.Second)
		busy.echo(t, "x")
	}
	if st := r.b.Status(); len(st.Connections) != 1 {
		t.Fatalf("after 10 min: %d connections, want the busy one", len(st.Connections))
	}
}
