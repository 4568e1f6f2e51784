package balancer_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

func TestReloadWithoutServersKeepsTheRunningOnes(t *testing.T) {
	nodes := echoNodes(t, 2)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, quartz.NewMock(t))
	c := dialWS(t, r.b.URL())
	r.waitEvent(t, kind(opened))

	// The README tour's file: only an idle timeout, then edited.
	for _, doc := range []string{"listener: {idle_timeout: 30s}\n", "listener: {idle_timeout: 45s}\n"} {
		if _, err := r.b.ReloadYAML([]byte(doc)); err != nil {
			t.Fatalf("reload %q: %v", doc, err)
		}
		if got := r.b.Config().ServerGroup.Servers; len(got) != 2 {
			t.Fatalf("after %q: servers %v, want node-1 and node-2 kept", doc, got)
		}
	}
	for _, b := range r.b.Status().Backends {
		if b.State != "healthy" {
			t.Fatalf("backend %s is %s after reloads that did not name servers, want healthy", b.Name, b.State)
		}
	}
	c.echo(t, "still served")
	for range 2 {
		dialWS(t, r.b.URL()).echo(t, "new connections still placed")
	}
	for _, e := range r.backlog {
		if e.Kind == events.BackendDrain {
			t.Fatalf("a backend drained: %v", e)
		}
	}
}

func TestAnEmptyGroupOrAnEmptyDocumentIsNeverApplied(t *testing.T) {
	nodes := echoNodes(t, 2)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, quartz.NewMock(t))
	tests := []struct {
		name, doc, want string
	}{
		{"servers: []", "server_group: {servers: []}\n", "line 1: server_group.servers: [] would leave the group empty: a server group needs at least one server; take one out with weight: 0 or state: drain"},
		{"empty file", "", "the config is empty"},
		{"white space only", "  \n\t\n", "the config is empty"},
		{"comments only", "# listener: {idle_timeout: 5s}\n", "the config is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.b.ReloadYAML([]byte(tt.doc))
			var rej *balancer.RejectedError
			if !errors.As(err, &rej) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a rejection saying %q", err, tt.want)
			}
			if g := r.b.Generation(); g != 1 {
				t.Fatalf("generation %d applied, want 1 kept", g)
			}
		})
	}
	if _, err := r.b.Patch([]byte("server_group: {servers: []}")); err == nil || r.b.Generation() != 1 {
		t.Fatalf("a patch emptying the group: got %v, generation %d; want rejected", err, r.b.Generation())
	}
}

func TestPutReplacesTheDocumentAndPatchMergesIntoIt(t *testing.T) {
	nodes := echoNodes(t, 2)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, quartz.NewMock(t))
	if _, err := r.b.ReloadYAML([]byte("listener: {idle_timeout: 30s}\nserver_group: {policy: least_conn}\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.b.Patch([]byte(`{"server_group": {"deregistration_delay": "10s"}}`)); err != nil {
		t.Fatal(err)
	}
	cfg := r.b.Config()
	if cfg.Listener.IdleTimeout != config.Duration(30*time.Second) || cfg.ServerGroup.Policy != "least_conn" ||
		*cfg.ServerGroup.DeregistrationDelay != config.Duration(10*time.Second) || len(cfg.ServerGroup.Servers) != 2 {
		t.Fatalf("after a patch: %+v, want idle 30s and least_conn kept, delay 10s, both servers", cfg)
	}
	// A patch names the line of its own problems.
	_, err := r.b.Patch([]byte("server_group:\n  policy: random\n"))
	if err == nil || !strings.Contains(err.Error(), `line 2: server_group.policy: "random"`) {
		t.Fatalf("bad patch: got %v, want the problem on line 2", err)
	}
	// PUT replaces: what the new document leaves out is back to defaults.
	if _, err := r.b.ReloadYAML([]byte("listener: {idle_timeout: 20s}\n")); err != nil {
		t.Fatal(err)
	}
	if p := r.b.Config().ServerGroup.Policy; p != "round_robin" {
		t.Fatalf("after PUT without a policy: %s, want round_robin", p)
	}
}

func TestFlagsWinOverEveryDocument(t *testing.T) {
	nodes := echoNodes(t, 2)
	var flags config.Config
	flags.Listener.IdleTimeout = config.Duration(10 * time.Second)
	defaults := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes)}}
	defaults.ServerGroup.HealthCheck.Path = "/healthz"
	doc := config.Config{Listener: config.Listener{Addr: "127.0.0.1:0", IdleTimeout: config.Duration(60 * time.Second)}}
	b, err := balancer.Start(ctxT(t), doc, balancer.Options{Clock: quartz.NewMock(t), Overrides: flags, Defaults: defaults})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	check := func(when string) {
		t.Helper()
		cfg := b.Config()
		if cfg.Listener.IdleTimeout != flags.Listener.IdleTimeout || cfg.ServerGroup.HealthCheck.Path != "/healthz" || len(cfg.ServerGroup.Servers) != 2 {
			t.Fatalf("%s: idle %s, health path %s, %d servers; want the flag's 10s, the defaults' /healthz, 2 servers",
				when, cfg.Listener.IdleTimeout, cfg.ServerGroup.HealthCheck.Path, len(cfg.ServerGroup.Servers))
		}
	}
	check("at start")
	if _, err := b.ReloadYAML([]byte("listener: {idle_timeout: 30s}\nserver_group: {policy: least_conn}\n")); err != nil {
		t.Fatal(err)
	}
	check("after a reload")
	if p := b.Config().ServerGroup.Policy; p != "least_conn" {
		t.Fatalf("the document's policy: got %s, want least_conn", p)
	}
}

// TestReloadStormUnderHeldTunnels saves a watched file 100 times the ways
// editors do — write in place, truncate then write, delete and recreate,
// write a temporary file and rename it — while 1,000 tunnels are held. No
// empty group or empty file is ever applied, no tunnel drops, and the last
// content is what runs.
func TestReloadStormUnderHeldTunnels(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 1,000 tunnels")
	}
	addr := balancertest.EchoBackend(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "lab.yaml")
	doc := func(i int) []byte {
		return fmt.Appendf(nil, "listener: {idle_timeout: %ds}\n", 100+i)
	}
	cfg := config.Config{ServerGroup: config.ServerGroup{
		Servers:     []config.Server{{Name: "echo", URL: addr}},
		HealthCheck: noChecks(),
	}}
	r := start(t, cfg, quartz.NewMock(t))
	if err := os.WriteFile(path, doc(0), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := config.WatchFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := contextWithCancel(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, r.b, nil)
	}()
	defer func() { stop(); <-done }()

	const tunnels = 1000
	conns := make([]tunnelEnd, tunnels)
	for i := range conns {
		c, br := openTunnel(t, r.b.Addr())
		r.waitEvent(t, kind(opened))
		defer c.Close()
		conns[i] = tunnelEnd{c, br}
	}
	// Saves paced like a fast editor, in four ways: every few milliseconds,
	// and every tenth after a pause longer than the watcher's quiet period,
	// so that some saves apply while the next ones are being written.
	for i := 1; i <= 100; i++ {
		pause := 3 * time.Millisecond
		if i%10 == 0 {
			pause = 300 * time.Millisecond
		}
		<-time.After(pause) // an editor's pace, not a wait for the code under test
		saveLikeAnEditor(t, path, i%4, doc(i), i%20 == 1)
	}
	lastWrite := time.Now()
	want := config.Duration(200 * time.Second) // doc(100)
	deadline := time.Now().Add(waitFor)
	for r.b.Config().Listener.IdleTimeout != want {
		e := r.waitEvent(t, func(e events.Event) bool { return e.Kind == events.ConfigApplied || e.Kind == events.ConfigRejected })
		if e.Kind == events.ConfigRejected {
			t.Fatalf("a save was rejected: %s", e.Detail)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last save was never applied; running %s", r.b.Config().Listener.IdleTimeout)
		}
	}
	if took := time.Since(lastWrite); took > time.Second {
		t.Fatalf("the last save took %s to apply, want under 1s", took)
	}
	for _, e := range r.backlog {
		if e.Kind == events.BackendDrain || e.Kind == events.ConnClosed || e.Kind == events.ConfigRejected ||
			e.Kind == events.ConfigApplied && strings.Contains(e.Detail, "servers []") {
			t.Fatalf("the storm reached the group or a tunnel: %v", e)
		}
	}
	st := r.b.Status()
	if len(st.Connections) != tunnels || st.Backends[0].State != "healthy" {
		t.Fatalf("after the storm: %d tunnels, backend %s; want %d and healthy", len(st.Connections), st.Backends[0].State, tunnels)
	}
	for i := 0; i < tunnels; i += 97 {
		echoBack(t, conns[i].c, conns[i].br, "still here")
	}
	t.Logf("%d saves, %d generations applied, 0 tunnels dropped", 100, r.b.Generation()-1)
}

type tunnelEnd struct {
	c  net.Conn
	br *bufio.Reader
}

// contextWithCancel lives as long as the test, however long that is (the
// watcher must outlast every wait of a slow run).
func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}

// saveLikeAnEditor writes data to path in one of the ways editors save.
// The slow truncate leaves the file empty for longer than the watcher's
// quiet period, as a slow or interrupted save would.
func saveLikeAnEditor(t *testing.T, path string, way int, data []byte, slow bool) {
	t.Helper()
	var err error
	switch way {
	case 0: // in place: open with O_TRUNC, write
		err = os.WriteFile(path, data, 0o644)
	case 1: // truncate, a pause, then write
		if err = os.Truncate(path, 0); err == nil {
			if slow {
				<-time.After(250 * time.Millisecond) // an editor's pace, not a wait for the code under test
			}
			err = os.WriteFile(path, data, 0o644)
		}
	case 2: // delete and recreate
		if err = os.Remove(path); err == nil {
			err = os.WriteFile(path, data, 0o644)
		}
	case 3: // write a temporary file, rename it over
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}
