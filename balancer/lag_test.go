package balancer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

// TestARemovedBackendStillGetsNewConnectionsForTheDeregistrationLag: a
// cloud balancer's nodes route to a deregistered target until the change
// reaches them; deregistration_lag replays that, then the backend leaves
// the rotation and drains as before.
func TestARemovedBackendStillGetsNewConnectionsForTheDeregistrationLag(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 2)
	cfg := config.Config{
		Listener: config.Listener{IdleTimeout: config.Duration(4000 * time.Second)},
		ServerGroup: config.ServerGroup{
			Servers: servers(nodes), HealthCheck: noChecks(), DeregistrationLag: config.Duration(5 * time.Second),
		},
	}
	r := start(t, cfg, clk)
	cfg.Listener.Addr = r.b.Addr()
	cfg.ServerGroup.Servers = servers(nodes[:1])
	if _, err := r.b.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	e := r.waitEvent(t, kind(events.BackendLag))
	if e.Backend != "node-2" || e.Reason != "started" {
		t.Fatalf("got %+v, want node-2's lag started", e)
	}
	got := map[string]int{}
	for range 4 {
		got[dialWS(t, r.b.URL()).node]++
	}
	if got["node-1"] != 2 || got["node-2"] != 2 {
		t.Fatalf("new connections within the lag: %v, want 2 on each (node-2 is still in the rotation)", got)
	}
	if st := r.b.Status().Backends[1]; st.State != "deregistering" || !st.Lagging || !st.Draining {
		t.Fatalf("removed backend within its lag: %+v, want state deregistering, lagging, draining", st)
	}
	advance(t, clk, 5*time.Second)
	e = r.waitEvent(t, kind(events.BackendLag))
	if e.Backend != "node-2" || e.Reason != "over" {
		t.Fatalf("got %+v, want node-2's lag over", e)
	}
	for range 4 {
		if c := dialWS(t, r.b.URL()); c.node != "node-1" {
			t.Fatalf("new connection after the lag went to %s, want node-1", c.node)
		}
	}
	if st := r.b.Status().Backends[1]; st.State != "draining" || st.Lagging || st.Active != 2 {
		t.Fatalf("removed backend after its lag: %+v, want draining with its 2 connections", st)
	}
}

// TestWithoutADeregistrationLagARemovedBackendLeavesAtOnce: the default.
func TestWithoutADeregistrationLagARemovedBackendLeavesAtOnce(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 2)
	cfg := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}
	r := start(t, cfg, clk)
	cfg.Listener.Addr = r.b.Addr()
	cfg.ServerGroup.Servers = servers(nodes[:1])
	if _, err := r.b.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if c := dialWS(t, r.b.URL()); c.node != "node-1" {
			t.Fatalf("new connection went to %s, want node-1", c.node)
		}
	}
	for _, e := range r.backlog {
		if e.Kind == events.BackendLag {
			t.Fatalf("got %+v with no lag configured", e)
		}
	}
}

func TestADeregistrationLagOutOfRangeIsRefusedByName(t *testing.T) {
	cfg := config.Config{ServerGroup: config.ServerGroup{DeregistrationLag: config.Duration(11 * time.Minute)}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "server_group.deregistration_lag: 660s is out of range 0s-600s") {
		t.Fatalf("got %v, want server_group.deregistration_lag: 660s is out of range 0s-600s", err)
	}
}

// TestABackendThatFailsItsHealthChecksStillGetsNewConnectionsForTheLag: a
// node stopping with a grace answers /healthz with 503 and serves on; the
// balancer marks it unhealthy and, for the lag, still sends it clients.
func TestABackendThatFailsItsHealthChecksStillGetsNewConnectionsForTheLag(t *testing.T) {
	clk := quartz.NewMock(t)
	var nodes []*node.Node
	for i := 1; i <= 2; i++ {
		nd, err := node.Start(context.Background(), node.Config{Name: fmt.Sprintf("node-%d", i), Mode: node.ModeEcho, StopGrace: time.Minute, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
	}
	hc := config.HealthCheck{Path: "/healthz", Interval: config.Duration(time.Second), UnhealthyThreshold: 2}
	cfg := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: hc, DeregistrationLag: config.Duration(5 * time.Second)}}
	r := start(t, cfg, clk)
	tick(t, r, clk, time.Second, 2)
	if err := nodes[1].Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tick(t, r, clk, time.Second, 2)
	tick(t, r, clk, time.Second, 2)
	e := r.waitEvent(t, kind(events.BackendLag))
	if e.Backend != "node-2" || e.Reason != "started" || !strings.Contains(e.Detail, "its health checks failed") {
		t.Fatalf("got %+v, want node-2's lag started because its health checks failed", e)
	}
	if st := r.b.Status().Backends[1]; st.Health != "unhealthy" || st.State != "deregistering" {
		t.Fatalf("node-2 within its lag: %+v, want unhealthy and deregistering", st)
	}
	got := map[string]int{}
	for range 4 {
		got[dialWS(t, r.b.URL()).node]++
	}
	if got["node-2"] == 0 {
		t.Fatalf("new connections within the lag: %v, want some on node-2", got)
	}
	for range 3 {
		tick(t, r, clk, time.Second, 2)
	}
	advance(t, clk, 2*time.Second)
	if e := r.waitEvent(t, kind(events.BackendLag)); e.Backend != "node-2" || e.Reason != "over" {
		t.Fatalf("got %+v, want node-2's lag over", e)
	}
	for range 4 {
		if c := dialWS(t, r.b.URL()); c.node != "node-1" {
			t.Fatalf("new connection after the lag went to %s, want node-1", c.node)
		}
	}
}
