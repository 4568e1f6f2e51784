package balancer_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
)

// TestHotReloadDropsNothing: changing the idle timeout and adding a backend
// while clients are open drops none; new connections get generation 2, old
// ones keep generation 1, their backend and their idle timeout.
func TestHotReloadDropsNothing(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 3)
	cfg := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes[:2]), HealthCheck: noChecks()}}
	r := start(t, cfg, clk)
	var old []*wsConn
	for range 4 {
		old = append(old, dialWS(t, r.b.URL()))
		r.waitEvent(t, kind(opened))
	}
	before := r.b.Status()

	cfg.Listener.Addr = r.b.Addr()
	cfg.Listener.IdleTimeout = config.Duration(5 * time.Second)
	cfg.ServerGroup.Servers = servers(nodes)
	gen, err := r.b.Reload(cfg)
	if err != nil || gen != 2 {
		t.Fatalf("reload: got generation %d, %v, want 2", gen, err)
	}
	for _, c := range old {
		c.echo(t, "still here")
	}
	var fresh []*wsConn
	for range 3 {
		fresh = append(fresh, dialWS(t, r.b.URL()))
		if e := r.waitEvent(t, kind(opened)); e.Generation != 2 {
			t.Fatalf("new connection: generation %d, want 2", e.Generation)
		}
	}
	if got := spread(fresh); got["node-3"] == 0 {
		t.Fatalf("new connections %v never reached the added node-3", got)
	}
	after := r.b.Status()
	for i, c := range before.Connections {
		a := after.Connections[i]
		if a.ID != c.ID || a.Backend != c.Backend || a.Generation != 1 {
			t.Fatalf("connection %s: after reload %+v, want backend %s generation 1", c.ID, a, c.Backend)
		}
	}
	// Live state survived: node-1 keeps counting from where it was.
	if after.Backends[0].Total < before.Backends[0].Total {
		t.Fatalf("node-1 total went from %d to %d across the reload", before.Backends[0].Total, after.Backends[0].Total)
	}

	// 5 s of silence: only generation 2 connections time out.
	advance(t, clk, 5*time.Second)
	for range fresh {
		if e := r.waitEvent(t, kind(closed)); e.Generation != 2 || e.Reason != balancer.ReasonIdleTimeout {
			t.Fatalf("got %+v, want a generation 2 connection closed by idle_timeout", e)
		}
	}
	for _, c := range old {
		c.echo(t, "old generation, old timeout")
	}
}

func TestInvalidReloadIsRejectedWhole(t *testing.T) {
	nodes := echoNodes(t, 1)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, nil)
	c := dialWS(t, r.b.URL())
	bad := `
listener:
  addr: ` + r.b.Addr() + `
  idle_timeout: -5s
  idle_timout: 30s
server_group:
  servers:
    - {name: node-1, url: ` + nodes[0].URL() + `}
    - {name: node-1, url: "htp://127.0.0.1:9002"}
`
	_, err := r.b.ReloadYAML([]byte(bad))
	var rej *balancer.RejectedError
	if !errors.As(err, &rej) || rej.Generation != 1 {
		t.Fatalf("got %v, want a RejectedError keeping generation 1", err)
	}
	for _, want := range []string{
		"line 5: listener.idle_timout: unknown field",
		"line 4: listener.idle_timeout: -5s is out of range 1s-4000s",
		`server_group.servers[1].name: "node-1" is already the name of servers[0]`,
		`server_group.servers[1].url: "htp://127.0.0.1:9002" has scheme "htp"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	e := r.waitEvent(t, kind("config.rejected"))
	if !strings.Contains(e.Detail, "idle_timout") {
		t.Fatalf("rejection event: %q, want the problems in it", e.Detail)
	}
	if r.b.Generation() != 1 {
		t.Fatalf("generation %d after a rejected reload, want 1", r.b.Generation())
	}
	c.echo(t, "traffic continues")
	dialWS(t, r.b.URL()).echo(t, "new connections too")

	_, err = r.b.ReloadYAML([]byte("listener: [unclosed"))
	if err == nil || !strings.Contains(err.Error(), "not valid YAML") {
		t.Fatalf("got %v, want a YAML syntax error", err)
	}
	cfg := r.b.Config()
	cfg.Listener.Addr = "127.0.0.1:1"
	if _, err := r.b.Reload(cfg); err == nil || !strings.Contains(err.Error(), "listener.addr: cannot change") {
		t.Fatalf("got %v, want the listener address refused on reload", err)
	}
}
