package balancer_test

import (
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// tick advances the mock clock one health-check interval and waits for
// both backends' results, so each round finishes before the next.
func tick(t *testing.T, r *rig, clk *quartz.Mock, d time.Duration, checks int) map[string]string {
	t.Helper()
	advance(t, clk, d)
	got := map[string]string{}
	for len(got) < checks {
		e := r.waitEvent(t, kind(events.BackendCheck))
		got[e.Backend] = e.Reason
	}
	return got
}

func TestHealthChecks(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 2)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes)}}, clk)
	interval := config.DefaultHealthInterval

	if got := tick(t, r, clk, interval, 2); got["node-1"] != "ok" || got["node-2"] != "ok" {
		t.Fatalf("first round: %v, want both ok", got)
	}
	if err := nodes[1].Kill(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if got := tick(t, r, clk, interval, 2); got["node-2"] != "failed" {
			t.Fatalf("round %d after the kill: %v, want node-2 failed", i, got)
		}
		st := r.b.Status().Backends[1].State
		if want := map[bool]string{true: "unhealthy", false: "healthy"}[i == 3]; st != want {
			t.Fatalf("after %d failed checks node-2 is %s, want %s", i, st, want)
		}
	}
	e := r.waitEvent(t, kind(events.BackendHealth))
	if e.Backend != "node-2" || e.Reason != "unhealthy" {
		t.Fatalf("got %+v, want node-2 unhealthy", e)
	}
	for range 4 {
		if c := dialWS(t, r.b.URL()); c.node != "node-1" {
			t.Fatalf("new connection went to %s, want node-1 while node-2 is down", c.node)
		}
	}

	if err := nodes[1].Start(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tick(t, r, clk, interval, 2)
	}
	if e := r.waitEvent(t, kind(events.BackendHealth)); e.Backend != "node-2" || e.Reason != "healthy" {
		t.Fatalf("got %+v, want node-2 healthy after 3 good checks", e)
	}
	nodes2 := map[string]int{}
	for range 4 {
		nodes2[dialWS(t, r.b.URL()).node]++
	}
	if nodes2["node-2"] == 0 {
		t.Fatalf("node-2 is healthy again but got no new connection: %v", nodes2)
	}
}

// TestHungBackendTimesOut: a backend that accepts and never answers fails
// each check at exactly the timeout, on the balancer's clock.
func TestHungBackendTimesOut(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 1)
	hc := config.HealthCheck{Interval: config.Duration(2 * time.Second), Timeout: config.Duration(time.Second), UnhealthyThreshold: 2}
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: hc}}, clk)
	if err := nodes[0].Hang(); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		advance(t, clk, 2*time.Second) // the probe goes out; no answer comes
		advance(t, clk, time.Second-time.Millisecond)
		if last := r.b.Status().Backends[0].LastCheck; round == 1 && last != "" {
			t.Fatalf("check decided before its timeout: %q", last)
		}
		advance(t, clk, time.Millisecond)
		e := r.waitEvent(t, kind(events.BackendCheck))
		if e.Reason != "failed" || e.Detail != "no answer within 1s" {
			t.Fatalf("round %d: %+v, want a timeout at exactly 1s", round, e)
		}
		advance(t, clk, time.Second) // to the next interval
	}
	if e := r.waitEvent(t, kind(events.BackendHealth)); e.Reason != "unhealthy" {
		t.Fatalf("got %+v, want unhealthy", e)
	}
	nodes[0].Start()
}

func TestRefusedBackendIsSkipped(t *testing.T) {
	nodes := echoNodes(t, 2)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, nil)
	if err := nodes[1].Kill(); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		c := dialWS(t, r.b.URL()) // no error seen by the client
		if c.node != "node-1" {
			t.Fatalf("got %s, want node-1", c.node)
		}
	}
	if f := r.b.Status().Backends[1].Failures; f == 0 {
		t.Fatal("refused dials to node-2 were not counted as failures")
	}
	if resp := httpGet(t, r.b.URL()+"/healthz"); resp.StatusCode != 200 || resp.Header.Get("X-Lab-Node") != "node-1" {
		t.Fatalf("plain HTTP: %d from %q, want 200 from node-1", resp.StatusCode, resp.Header.Get("X-Lab-Node"))
	}
	nodes[0].Kill()
	resp := httpGet(t, r.b.URL()+"/")
	if resp.StatusCode != 502 {
		t.Fatalf("every backend refused: got %d, want 502", resp.StatusCode)
	}
}
