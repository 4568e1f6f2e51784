package balancer_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

func TestWatchedFileHotReloads(t *testing.T) {
	nodes := echoNodes(t, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "lab.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	one := "server_group:\n  health_check: {disabled: true}\n  servers:\n    - {name: node-1, url: " + nodes[0].URL() + "}\n"
	write(one)
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener.Addr = "127.0.0.1:0"
	r := start(t, cfg, nil)
	c := dialWS(t, r.b.URL())
	watch, err := config.WatchFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watch.Run(ctxT(t), r.b, func(_ uint64, err error) { results <- err })
	}()
	t.Cleanup(func() { <-done })
	result := func() error {
		t.Helper()
		select {
		case err := <-results:
			return err
		case <-ctxT(t).Done():
			t.Fatal("the save was not picked up")
			return nil
		}
	}

	write("listener: {idle_timeout: 5s}\n" + one + "    - {name: node-2, url: " + nodes[1].URL() + "}\n")
	if err := result(); err != nil {
		t.Fatalf("saving a good edit: %v", err)
	}
	if e := r.waitEvent(t, func(e eventT) bool { return e.Kind == events.ConfigApplied && e.Generation > 1 }); e.Generation != 2 {
		t.Fatalf("got %+v, want generation 2 applied", e)
	}
	write("listener: {idle_timeout: forever}\n")
	if err := result(); err == nil || !strings.Contains(err.Error(), `"forever" is not a duration`) {
		t.Fatalf("saving a bad edit: %v, want the problem reported", err)
	}
	if r.b.Generation() != 2 {
		t.Fatalf("generation %d after a bad edit, want 2", r.b.Generation())
	}
	c.echo(t, "not dropped by either edit")
}

func TestIdleKeepAliveHTTPIsClosed(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 1)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, clk)
	c, err := net.Dial("tcp", r.b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	trap := clk.Trap().AfterFunc("http-idle")
	defer trap.Close()
	c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n"))
	trap.MustWait(ctxT(t)).MustRelease(ctxT(t)) // the response is out; the connection idles
	advance(t, clk, config.DefaultIdleTimeout)
	c.SetReadDeadline(time.Now().Add(waitFor)) // the test's bound only
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("idle keep-alive connection still open after the idle timeout")
			}
			return
		}
	}
}

func TestWebSocketHealthCheck(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 1)
	hc := config.HealthCheck{Type: "websocket", Path: "/"}
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: hc}}, clk)
	if got := tick(t, r, clk, config.DefaultHealthInterval, 1); got["node-1"] != "ok" {
		t.Fatalf("websocket check: %v, want ok", got)
	}
	nodes[0].Kill()
	if got := tick(t, r, clk, config.DefaultHealthInterval, 1); got["node-1"] != "failed" {
		t.Fatalf("websocket check of a dead node: %v, want failed", got)
	}
}

func TestNoHealthyBackendIs503(t *testing.T) {
	r := start(t, config.Config{}, nil) // an empty server group
	resp := httpGet(t, r.b.URL()+"/")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", resp.StatusCode)
	}
	status, body := raw(t, r.b.Addr(), "GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if status != "503 Service Unavailable" || !strings.Contains(body, "no healthy backend") {
		t.Fatalf("upgrade: %s %q, want 503 naming the cause", status, body)
	}
}
