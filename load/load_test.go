package load_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/load"
)

func echo(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(load.EchoHandler(name))
	t.Cleanup(s.Close)
	return s
}

func run(t *testing.T, cfg load.Config) load.Report {
	t.Helper()
	rep, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failures != 0 {
		t.Fatalf("%d failures, first: %s", rep.Failures, rep.FirstFailure)
	}
	return rep
}

func TestEchoModesThroughTheBalancer(t *testing.T) {
	e1, e2 := echo(t, "echo-1"), echo(t, "echo-2")
	b := balancertest.Start(t, config.Config{
		Listener: config.Listener{Addr: "127.0.0.1:0"},
		ServerGroup: config.ServerGroup{Servers: []config.Server{
			{Name: "echo-1", URL: e1.URL}, {Name: "echo-2", URL: e2.URL}}},
	}, balancer.Options{})

	rep := run(t, load.Config{URL: b.URL() + "/", Mode: load.RTT, Conns: 10, Messages: 50})
	if rep.Messages != 500 || rep.P50 <= 0 || rep.P50 > rep.P99 || rep.P99 > rep.Max {
		t.Fatalf("rtt: %d messages, p50 %s p99 %s max %s", rep.Messages, rep.P50, rep.P99, rep.Max)
	}
	inBars := 0
	for _, b := range rep.Histogram {
		inBars += b.Count
	}
	if n := len(rep.Histogram); inBars != 500 || n != 10 || rep.Histogram[n-1].UpTo != rep.Max {
		t.Fatalf("rtt histogram %v: got %d samples in it, want 500 in 10 bars up to the max %s", rep.Histogram, inBars, rep.Max)
	}
	if rep.PerBackend["echo-1"] != 5 || rep.PerBackend["echo-2"] != 5 {
		t.Fatalf("spread %v, want 5/5", rep.PerBackend)
	}
	rep = run(t, load.Config{URL: b.URL() + "/", Mode: load.Flood, Conns: 4, Window: 8, Size: 1024, Duration: 300 * time.Millisecond})
	if rep.Messages == 0 || rep.MsgsPerSec <= 0 || rep.MBPerSec <= 0 {
		t.Fatalf("flood: %+v", rep)
	}
	rep = run(t, load.Config{URL: b.URL() + "/", Mode: load.Hold, Conns: 20, Duration: 200 * time.Millisecond})
	if rep.Handshakes != 20 || rep.Messages != 20 {
		t.Fatalf("hold: %d opened, %d answered after the hold; want 20 and 20", rep.Handshakes, rep.Messages)
	}
}

func TestHoldReportsConnectionsLostWhileHeld(t *testing.T) {
	e := echo(t, "echo")
	b := balancertest.Start(t, config.Config{
		Listener:    config.Listener{Addr: "127.0.0.1:0", IdleTimeout: config.Duration(time.Second)},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "echo", URL: e.URL}}},
	}, balancer.Options{})
	// Held longer than the balancer's idle timeout: every connection is cut.
	rep, err := load.Run(context.Background(), load.Config{URL: b.URL(), Mode: load.Hold, Conns: 3, Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failures != 3 || !strings.Contains(rep.FirstFailure, "closed while held") {
		t.Fatalf("got %d failures (%s), want 3 connections closed while held", rep.Failures, rep.FirstFailure)
	}
}

func TestChatFanOut(t *testing.T) {
	l, err := lab.Start(context.Background(), lab.Config{Balancer: config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep := run(t, load.Config{URL: l.Balancer.URL(), Mode: load.Chat, Conns: 4, Duration: 1500 * time.Millisecond})
	// Each of 4 users speaks at least once and is heard by all 4.
	if rep.Messages < 16 || rep.PerBackend["node-1"] != 2 || rep.PerBackend["node-2"] != 2 || rep.P50 <= 0 {
		t.Fatalf("chat: %d deliveries, spread %v, p50 %s", rep.Messages, rep.PerBackend, rep.P50)
	}
}

func TestBadConfig(t *testing.T) {
	_, err := load.Run(context.Background(), load.Config{URL: "ftp://x", Mode: "burst", Conns: -1})
	for _, want := range []string{`url: "ftp://x"`, `mode: "burst" is not rtt, flood, hold or chat`, "conns: -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	for _, c := range []struct {
		cfg  load.Config
		want string
	}{
		{load.Config{URL: "ws://x", Mode: load.Chat, Transport: "xhr"}, `transport: "xhr" is not websocket, polling or default`},
		{load.Config{URL: "ws://x", Mode: load.RTT, Transport: load.Polling}, "transport: only chat mode speaks Socket.IO; rtt mode sends raw WebSocket frames"},
	} {
		if _, err := load.Run(context.Background(), c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("transport %q in %s mode: got error %v, want %q", c.cfg.Transport, c.cfg.Mode, err, c.want)
		}
	}
}

// Pointed at a page rather than a WebSocket endpoint, the tool says so and
// says where to point it.
func TestNotAWebSocketEndpointIsNamed(t *testing.T) {
	page := httptest.NewServer(http.NotFoundHandler())
	defer page.Close()
	_, err := load.Run(context.Background(), load.Config{URL: page.URL + "/", Mode: load.Hold, Conns: 2, Duration: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "GET / answered 404 Not Found, not 101 Switching Protocols") || !strings.Contains(err.Error(), "/ws") {
		t.Fatalf("got %v, want the answer named and /ws suggested", err)
	}
}

// The echo server is an app like any other behind a balancer: the cloud
// ALBs' default health check (GET /, 200-399) finds it up.
func TestEchoServerPassesTheDefaultHealthCheck(t *testing.T) {
	clk := quartz.NewMock(t)
	b := balancertest.Start(t, config.Config{
		Listener:    config.Listener{Addr: "127.0.0.1:0"},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "echo-1", URL: echo(t, "echo-1").URL}}},
	}, balancer.Options{Clock: clk})
	clocktest.CheckRounds(t, clk, b, config.DefaultHealthInterval, config.DefaultUnhealthyThreshold)
	if st := b.Status().Backends[0]; st.Health != balancer.Healthy {
		t.Fatalf("echo server after 3 default checks: %s (%s), want healthy", st.Health, st.LastCheck)
	}
}
