package main_test

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/node/client"
	"github.com/wslab/wslab/store"
)

var (
	ctxT   = chattest.Ctx
	expect = chattest.Expect
)

func dial(t *testing.T, url string) *client.Client { return chattest.Dial(t, url, client.SocketIO) }

// fastChecks is a config that finds a dead node within half a second.
const fastChecks = "server_group:\n  health_check: {interval: 100ms, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2}\n"

func TestUpServesTheChatAndCtlKillsANode(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	u := startUp(t, "--config", cfg)
	resp, body := get(t, u.balancer+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, "Online Chatroom") {
		t.Fatalf("chat page through the balancer: %d", resp.StatusCode)
	}
	a, b := dial(t, u.balancer), dial(t, u.balancer)
	if a.Node() == b.Node() {
		t.Fatalf("two users both on %s, want round robin over two nodes", a.Node())
	}
	if a.Node() != "node-1" {
		a, b = b, a
	}
	u.waitLine(`balancer\s+c2 opened: .* → node-\d \(generation 1\)`)
	expect(t, a, "Welcome to the chatroom!")
	expect(t, b, "Welcome to the chatroom!")
	a.Emit(ctxT(t), "set_username", "A")
	expect(t, a, "Your username is set to A")
	b.Emit(ctxT(t), "set_username", "B")
	expect(t, b, "Your username is set to B")
	a.Emit(ctxT(t), "message", "hi")
	expect(t, b, "A: hi")

	out, code := u.ctl(t, "node", "node-1", "kill")
	if code != 0 || !strings.Contains(out, "node-1 kill: now down") {
		t.Fatalf("lab ctl kill: %d %q", code, out)
	}
	select {
	case <-a.Done():
		if s := websocket.CloseStatus(a.Err()); s != -1 {
			t.Fatalf("A saw close status %d, want an abrupt close (-1)", s)
		}
	case <-ctxT(t).Done():
		t.Fatal("A's connection survived the kill")
	}
	u.waitLine(`node-1\s+fault: kill`)
	u.waitLine(`balancer\s+c\d closed: BACKEND_(FIN|RESET) on node-1`)
	u.waitLine(`balancer\s+node-1 is now UNHEALTHY`)
	st := u.status(t)
	if st.Balancer.Backends[0].State != "unhealthy" || st.Nodes[0].Listening {
		t.Fatalf("status after kill: %+v %+v", st.Balancer.Backends[0], st.Nodes[0])
	}
	for range 3 {
		if c := dial(t, u.balancer); c.Node() != "node-2" {
			t.Fatalf("new connection went to %s while node-1 is down", c.Node())
		}
	}
	if out, code := u.ctl(t, "node", "node-1", "start"); code != 0 {
		t.Fatalf("lab ctl start: %d %q", code, out)
	}
	u.waitLine(`balancer\s+node-1 is now HEALTHY`)
	out, _ = u.ctl(t, "status")
	if !strings.Contains(out, "node-1   healthy") {
		t.Fatalf("lab ctl status:\n%s", out)
	}
	u.stop()
}

func TestWatchedConfigReloadsWithoutDrops(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, "listener: {idle_timeout: 60s}\n")
	u := startUp(t, "--config", cfg)
	c := dial(t, u.balancer)
	expect(t, c, "Welcome to the chatroom!")

	// The README tour's step 4: a file without servers keeps the lab's
	// nodes in the group, healthy and serving.
	writeFile(t, cfg, "listener: {idle_timeout: 5s}\n")
	u.waitLine(`config generation 2 applied: .*idle timeout 5s, servers \[node-1 node-2\]`)
	for _, b := range u.status(t).Balancer.Backends {
		if b.State != "healthy" {
			t.Fatalf("after the reload %s is %s, want healthy", b.Name, b.State)
		}
	}
	writeFile(t, cfg, "listener: {idle_timeout: soon, idel: 1}\nserver_group: {policy: random}\n")
	m := u.waitLine(`config REJECTED, generation 2 keeps serving: (.*)`)
	for _, want := range []string{`"soon" is not a duration`, "listener.idel: unknown field", `"random" is not round_robin`} {
		if !strings.Contains(m[1], want) {
			t.Errorf("rejection line lacks %q: %s", want, m[1])
		}
	}
	st := u.status(t)
	if st.Balancer.Generation != 2 || len(st.Balancer.Connections) != 1 || st.Balancer.Connections[0].Generation != 1 {
		t.Fatalf("after the edits: generation %d, connections %+v; want 2 and the old one kept at generation 1", st.Balancer.Generation, st.Balancer.Connections)
	}
	// lab ctl status lists it, with nothing waiting for a slow reader.
	if out, _ := u.ctl(t, "status"); !regexp.MustCompile(`(?m)^ID +CLIENT +BACKEND +GEN +AGE +IDLE +BACKLOG$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+st.Balancer.Connections[0].ID+` +127\.0\.0\.1:\d+ +node-\d +1 .* 0 B$`).MatchString(out) {
		t.Fatalf("lab ctl status does not list the connection with its backlog:\n%s", out)
	}
	c.Emit(ctxT(t), "message", "still here")
	expect(t, c, "Failed to send the message. Specify a username first.")
	expect(t, dial(t, u.balancer), "Welcome to the chatroom!") // new connections still placed
	u.stop()
}

func TestFlagsWinOverTheFileAtEveryReload(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, "listener: {idle_timeout: 60s}\n")
	u := startUp(t, "--config", cfg, "--idle-timeout", "20s")
	writeFile(t, cfg, "listener: {idle_timeout: 5s}\nserver_group: {policy: least_conn}\n")
	u.waitLine(`config generation 2 applied: .*policy least_conn, idle timeout 20s, servers \[node-1 node-2\]`)
	u.stop()
}

// TestSIGHUPReloads: SIGHUP reloads the config file even when it did not
// change (which the file watcher skips), for lab up and lab balancer.
func TestSIGHUPReloads(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, "listener: {idle_timeout: 60s}\n")
	u := startUp(t, "--config", cfg)
	u.cmd.Process.Signal(syscall.SIGHUP)
	u.waitLine(`config generation 2 applied`)
	u.stop()

	n := freePort(t)
	bcfg := filepath.Join(t.TempDir(), "balancer.yaml")
	writeFile(t, bcfg, "listener: {addr: '"+freePort(t)+"'}\nserver_group:\n  servers: [{name: n, url: 'http://"+n+"'}]\n")
	b := run(t, "balancer", "--config", bcfg, "--admin", freePort(t))
	b.waitLine(`^watching `)
	b.cmd.Process.Signal(syscall.SIGHUP)
	b.waitLine(`config generation 2 applied`)
	b.stop()
}

func TestMetricsMatchStatus(t *testing.T) {
	u := startUp(t)
	for range 3 {
		dial(t, u.balancer)
	}
	resp, body := get(t, u.admin+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text format: %v", err)
	}
	st := u.status(t)
	active := map[string]float64{}
	for _, m := range families["wslab_balancer_active_tunnels"].GetMetric() {
		active[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	for _, be := range st.Balancer.Backends {
		if active[be.Name] != float64(be.Active) {
			t.Errorf("%s: metrics say %v active, status says %d", be.Name, active[be.Name], be.Active)
		}
	}
	if g := families["wslab_balancer_config_generation"].GetMetric()[0].GetGauge().GetValue(); g != float64(st.Balancer.Generation) {
		t.Errorf("generation: metrics %v, status %d", g, st.Balancer.Generation)
	}
	if len(families["wslab_node_sessions"].GetMetric()) != 2 {
		t.Errorf("want wslab_node_sessions for both nodes")
	}
	u.stop()
}

// TestMultiProcessLab: lab balancer in front of two lab node processes that
// share one Redis behaves like lab up.
func TestMultiProcessLab(t *testing.T) {
	redisURL := os.Getenv("LAB_TEST_REDIS_URL")
	if redisURL == "" {
		e, err := store.StartEmbedded("")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		redisURL = e.URL()
	}
	n1, n2, bal, adm := freePort(t), freePort(t), freePort(t), freePort(t)
	run(t, "node", "--listen", n1, "--redis", redisURL, "--name", "node-1").waitLine(`node-1 \(chat\) on`)
	run(t, "node", "--listen", n2, "--redis", redisURL, "--name", "node-2").waitLine(`node-2 \(chat\) on`)
	cfg := filepath.Join(t.TempDir(), "balancer.yaml")
	writeFile(t, cfg, "listener: {addr: '"+bal+"'}\nserver_group:\n  servers:\n    - {name: node-1, url: 'http://"+n1+"'}\n    - {name: node-2, url: 'http://"+n2+"'}\n")
	run(t, "balancer", "--config", cfg, "--admin", adm).waitLine(`^balancer\s+http://`)
	a, b := dial(t, "http://"+bal), dial(t, "http://"+bal)
	if a.Node() == b.Node() {
		t.Fatalf("both on %s", a.Node())
	}
	expect(t, a, "Welcome to the chatroom!")
	expect(t, b, "Welcome to the chatroom!")
	a.Emit(ctxT(t), "set_username", "A")
	expect(t, a, "Your username is set to A")
	a.Emit(ctxT(t), "message", "across processes")
	expect(t, b, "A: across processes")
}

// TestUpWithRealRedis: lab up --redis uses a real redis-server.
func TestUpWithRealRedis(t *testing.T) {
	url := os.Getenv("LAB_TEST_REDIS_URL")
	if url == "" {
		t.Skip("set LAB_TEST_REDIS_URL to a redis-server")
	}
	u := startUp(t, "--redis", url)
	c := dial(t, u.balancer)
	expect(t, c, "Welcome to the chatroom!")
	rc, err := store.Dial(ctxT(t), store.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok, err := rc.Session(ctxT(t), c.SID); err != nil || !ok {
		t.Fatalf("session:%s not in the real Redis: %v", c.SID, err)
	}
	if st := u.status(t); st.Redis != strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0") && !strings.Contains(url, st.Redis) {
		t.Fatalf("status names redis %q, want %s", st.Redis, url)
	}
	u.stop()
}

func TestStartupErrorsExit2WithOneLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dead := freePort(t)
	// One node only: the test can make sure of one free port, not of the
	// port after it, which another test may hold.
	nodePort := strings.Split(freePort(t), ":")[1]
	noServers := filepath.Join(t.TempDir(), "no-servers.yaml")
	writeFile(t, noServers, "listener: {addr: 127.0.0.1:0}\n")
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	writeFile(t, empty, "\n# nothing yet\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"up", "--nodes", "1", "--listen", busy.Addr().String(), "--admin", "127.0.0.1:0", "--node-port", nodePort}, "--listen"},
		{"unknown flag", []string{"up", "--nodez", "3"}, "unknown flag: --nodez"},
		{"missing config", []string{"up", "--config", "/nonexistent/lab.yaml"}, "/nonexistent/lab.yaml"},
		{"unreachable redis", []string{"up", "--nodes", "1", "--redis", "redis://" + dead + "/0", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--node-port", nodePort}, dead},
		{"bad policy", []string{"up", "--policy", "random"}, `server_group.policy: "random"`},
		{"balancer without servers", []string{"balancer", "--config", noServers, "--admin", "127.0.0.1:0"}, "server_group.servers is missing"},
		{"empty config file", []string{"up", "--config", empty}, "the config is empty"},
		{"zero idle timeout", []string{"up", "--idle-timeout", "0s"}, "--idle-timeout 0s: want a positive duration"},
		{"clients without a command", []string{"up", "--clients", "5"}, "--clients: 5 clients of no command; give --client-cmd"},
		{"no clients", []string{"up", "--client-cmd", "true", "--clients", "0"}, "--clients: 0 is out of range 1-500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runOnce(t, tt.args...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "lab: ") || !strings.Contains(out, tt.want) {
				t.Fatalf("got exit %d, output %q; want exit 2 and one line naming %q", code, out, tt.want)
			}
			// Nothing left behind: the nodes' ports are free again.
			l, err := net.Listen("tcp", "127.0.0.1:"+nodePort)
			if err != nil {
				t.Fatalf("node port %s still taken after the failed start: %v", nodePort, err)
			}
			l.Close()
		})
	}
	_ = time.Second
}

func TestCtrlCSaysGoodbyeToEveryConnection(t *testing.T) {
	u := startUp(t, "--shutdown-timeout", "3s")
	var clients []*client.Client
	for range 4 {
		c := dial(t, u.balancer)
		expect(t, c, "Welcome to the chatroom!")
		clients = append(clients, c)
	}
	u.waitLine(`balancer\s+c4 opened`)
	u.stop()
	for i, c := range clients {
		select {
		case <-c.Done():
			if s := websocket.CloseStatus(c.Err()); s != websocket.StatusGoingAway {
				t.Errorf("client %d saw close status %d on Ctrl-C, want 1001 Going Away", i, s)
			}
		case <-ctxT(t).Done():
			t.Fatalf("client %d still open after the lab stopped", i)
		}
	}
	out := u.output()
	for _, want := range []string{
		`shutting down: said goodbye \(close 1001\) to both ends of 4 connections; waiting up to 3s`,
		`every connection closed`,
		// its own line, or, after the first 3 of a second, summed up
		`c\d closed: SHUTDOWN on node-\d, the balancer said goodbye|closed \d+ more connections on .*SHUTDOWN \d`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %q in:\n%s", want, out)
		}
	}
}

func TestUpWithLBCookieStickinessKeepsABrowserOnOneNode(t *testing.T) {
	u := startUp(t, "--stickiness", "lb_cookie")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}
	t.Cleanup(c.CloseIdleConnections)
	seen := map[string]int{}
	for range 4 {
		resp, err := c.Get(u.balancer + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.Header.Get("X-Lab-Node")]++
	}
	if len(seen) != 1 {
		t.Fatalf("with --stickiness lb_cookie: got nodes %v, want one", seen)
	}
	if st := u.status(t).Balancer.Stickiness; st.Type != "lb_cookie" || st.Hits != 3 || st.New != 1 {
		t.Fatalf("status stickiness: got %+v, want lb_cookie, 3 hits, 1 new", st)
	}
	u.stop()
}

// The dashboard's test clients leave before the balancer's goodbye: their
// closes are printed before the shutdown's count, which then adds up (it
// said "no open connections", then printed two closes).
func TestCtrlCPrintsTheTestClientsClosesBeforeTheShutdownsCount(t *testing.T) {
	u := startUp(t, "--nodes", "1")
	resp, err := http.Post(u.admin+"/api/testers?count=2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u.waitLine(`c\d+ opened: `)
	u.waitLine(`c\d+ opened: `)
	u.stop()
	out := u.output()
	closed, shutting := strings.LastIndex(out, "CLIENT_CLOSE_FRAME"), strings.Index(out, "shutting down")
	if closed < 0 || shutting < 0 || closed > shutting {
		t.Fatalf("got output\n%s\nwant the test clients' closes (CLIENT_CLOSE_FRAME) before \"shutting down\"", out)
	}
}
