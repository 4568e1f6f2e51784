package balancer_test

import (
	"testing"

	"github.com/wslab/wslab/balancer/config"
)

func spread(conns []*wsConn) map[string]int {
	m := map[string]int{}
	for _, c := range conns {
		m[c.node]++
	}
	return m
}

func TestPolicies(t *testing.T) {
	nodes := echoNodes(t, 3)
	t.Run("round_robin 2/2/2", func(t *testing.T) {
		r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, nil)
		var cs []*wsConn
		for range 6 {
			cs = append(cs, dialWS(t, r.b.URL()))
		}
		if got := spread(cs); got["node-1"] != 2 || got["node-2"] != 2 || got["node-3"] != 2 {
			t.Fatalf("got %v, want 2/2/2", got)
		}
	})
	t.Run("weights 2:1 give 4:2", func(t *testing.T) {
		r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes[:2], 2, 1), HealthCheck: noChecks()}}, nil)
		var cs []*wsConn
		for range 6 {
			cs = append(cs, dialWS(t, r.b.URL()))
		}
		if got := spread(cs); got["node-1"] != 4 || got["node-2"] != 2 {
			t.Fatalf("got %v, want node-1: 4, node-2: 2", got)
		}
	})
	t.Run("weight 0 takes nothing", func(t *testing.T) {
		r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes[:2], 1, 0), HealthCheck: noChecks()}}, nil)
		for range 3 {
			if c := dialWS(t, r.b.URL()); c.node != "node-1" {
				t.Fatalf("got %s, want node-1 (node-2 has weight 0)", c.node)
			}
		}
	})
	t.Run("least_conn fills the emptiest", func(t *testing.T) {
		r := start(t, config.Config{ServerGroup: config.ServerGroup{Policy: config.LeastConn, Servers: servers(nodes), HealthCheck: noChecks()}}, nil)
		var cs []*wsConn
		for range 6 {
			cs = append(cs, dialWS(t, r.b.URL()))
		}
		// Close both connections on node-2: it is now the emptiest.
		for _, c := range cs {
			if c.node == "node-2" {
				c.CloseNow()
				r.waitEvent(t, func(e eventT) bool { return e.Kind == closed && e.Backend == "node-2" })
			}
		}
		for range 2 {
			if c := dialWS(t, r.b.URL()); c.node != "node-2" {
				t.Fatalf("got %s, want node-2, the emptiest", c.node)
			}
		}
	})
	t.Run("source_hash keeps a client on one backend", func(t *testing.T) {
		r := start(t, config.Config{ServerGroup: config.ServerGroup{Policy: config.SourceHash, Servers: servers(nodes), HealthCheck: noChecks()}}, nil)
		first := dialWS(t, r.b.URL()).node
		for range 5 {
			if c := dialWS(t, r.b.URL()); c.node != first {
				t.Fatalf("got %s, want %s every time for one client IP", c.node, first)
			}
		}
	})
}
