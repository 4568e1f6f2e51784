package balancer_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// browser is an HTTP client with a cookie jar, as a browser keeps the
// balancer's cookie between requests and upgrades.
type browser struct {
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{c: &http.Client{Jar: jar, Transport: tr}, base: base}
}

// get fetches path and returns the node that answered and the response.
func (br *browser) get(t *testing.T, path string) (string, *http.Response) {
	t.Helper()
	resp, err := br.c.Get(br.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got %s, want 200", path, resp.Status)
	}
	return resp.Header.Get("X-Lab-Node"), resp
}

// node is the node that answers a GET of /healthz.
func (br *browser) node(t *testing.T) string {
	t.Helper()
	n, _ := br.get(t, "/healthz")
	return n
}

// dial opens a WebSocket through the balancer with the browser's cookies
// and returns the node that took it.
func (br *browser) dial(t *testing.T) string {
	t.Helper()
	c, resp, err := websocket.Dial(ctxT(t), strings.Replace(br.base, "http", "ws", 1)+"/echo", &websocket.DialOptions{HTTPClient: br.c})
	if err != nil {
		t.Fatalf("dial through the balancer: %v", err)
	}
	defer c.CloseNow()
	return resp.Header.Get("X-Lab-Node")
}

func (br *browser) cookie(t *testing.T, name string) string {
	t.Helper()
	u, _ := url.Parse(br.base)
	for _, c := range br.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (br *browser) setCookie(t *testing.T, name, value string) {
	t.Helper()
	u, _ := url.Parse(br.base)
	br.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// sameNode checks that n requests (and n upgrades) all reach want.
func (br *browser) sameNode(t *testing.T, n int, want string) {
	t.Helper()
	for i := range n {
		if got := br.node(t); got != want {
			t.Fatalf("request %d: got node %q, want %q (the cookie's)", i+1, got, want)
		}
		if got := br.dial(t); got != want {
			t.Fatalf("upgrade %d: got node %q, want %q (the cookie's)", i+1, got, want)
		}
	}
}

func lbCookie() config.Stickiness {
	return config.Stickiness{Type: config.StickyLBCookie, Duration: config.Duration(time.Hour)}
}

func other(names []string, not string) string {
	for _, n := range names {
		if n != not {
			return n
		}
	}
	return ""
}

func TestLBCookiePinsASessionAndIsRewrittenWhenItsBackendDies(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		nodes := echoNodes(t, 2)
		cfg := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks(), Stickiness: lbCookie()}}
		r := start(t, cfg, quartz.NewReal(), door)
		br := newBrowser(t, r.b.URL())

		first := br.node(t)
		if br.cookie(t, config.StickyCookie) == "" {
			t.Fatalf("after the first request: no %s cookie in the jar", config.StickyCookie)
		}
		br.sameNode(t, 4, first) // round robin would alternate

		t.Run("a forged cookie is ignored and replaced", func(t *testing.T) {
			good := br.cookie(t, config.StickyCookie)
			forged := []byte(good)
			forged[3] ^= 1 // one bit of the token
			if forged[3] == '-' || forged[3] == '_' {
				forged[3] = 'A'
			}
			br.setCookie(t, config.StickyCookie, string(forged))
			before := r.b.Status().Stickiness.Repicks
			got := br.node(t)
			if e := r.waitEvent(t, kind(events.StickyRepick)); e.Reason != "invalid" || e.Backend != got {
				t.Fatalf("event: got reason %q backend %q, want invalid %s", e.Reason, e.Backend, got)
			}
			if after := r.b.Status().Stickiness.Repicks; after != before+1 {
				t.Fatalf("status repicks: got %d, want %d", after, before+1)
			}
			if c := br.cookie(t, config.StickyCookie); c == string(forged) || c == "" {
				t.Fatalf("the forged cookie was not rewritten: %q", c)
			}
			br.sameNode(t, 3, got)
			first = got
		})

		t.Run("the pinned backend is killed: re-picked and rewritten", func(t *testing.T) {
			pinned := first
			for _, n := range nodes {
				if n.Name() == pinned {
					n.Kill()
				}
			}
			got := br.node(t)
			want := other([]string{nodes[0].Name(), nodes[1].Name()}, pinned)
			if got != want {
				t.Fatalf("after the kill: got node %q, want %q", got, want)
			}
			if e := r.waitEvent(t, kind(events.StickyRepick)); e.Reason != "refused" || e.Backend != want {
				t.Fatalf("event: got reason %q backend %q, want refused %s", e.Reason, e.Backend, want)
			}
			br.sameNode(t, 3, want)
		})
		st := r.b.Status().Stickiness
		if st.Type != config.StickyLBCookie || st.Hits == 0 || st.Repicks != 2 || st.New != 1 {
			t.Fatalf("status: got %+v, want lb_cookie with hits, 2 repicks, 1 new", st)
		}
	})
}

func TestLBCookieIsRewrittenWhenItsBackendDrainsOrIsRemoved(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		nodes := echoNodes(t, 3)
		cfg := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks(), Stickiness: lbCookie()}}
		r := start(t, cfg, quartz.NewReal(), door)
		br := newBrowser(t, r.b.URL())
		pinned := br.node(t)
		cfg.Listener.Addr = r.b.Addr()

		cfg.ServerGroup.Servers = servers(nodes)
		for i := range cfg.ServerGroup.Servers {
			if cfg.ServerGroup.Servers[i].Name == pinned {
				cfg.ServerGroup.Servers[i].State = "drain"
			}
		}
		if _, err := r.b.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		got := br.dial(t)
		if got == pinned {
			t.Fatalf("after draining %s: the upgrade still reached it", pinned)
		}
		if e := r.waitEvent(t, kind(events.StickyRepick)); e.Reason != "unavailable" || !strings.Contains(e.Detail, pinned+" is draining") {
			t.Fatalf("event: got %q %q, want unavailable: %s is draining", e.Reason, e.Detail, pinned)
		}
		br.sameNode(t, 2, got)

		var keep []config.Server
		for _, s := range servers(nodes) {
			if s.Name != got {
				keep = append(keep, s)
			}
		}
		cfg.ServerGroup.Servers = keep
		if _, err := r.b.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		again := br.node(t)
		if again == got {
			t.Fatalf("after removing %s: the request still reached it", got)
		}
		if e := r.waitEvent(t, kind(events.StickyRepick)); e.Reason != "removed" {
			t.Fatalf("event: got reason %q, want removed", e.Reason)
		}
		br.sameNode(t, 2, again)
	})
}

func TestAReloadTurnsStickinessOnAndOff(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		nodes := echoNodes(t, 2)
		cfg := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}
		r := start(t, cfg, quartz.NewReal(), door)
		br := newBrowser(t, r.b.URL())
		if a, b := br.node(t), br.node(t); a == b {
			t.Fatalf("without stickiness, round robin: got %s twice, want both nodes", a)
		}
		if c := br.cookie(t, config.StickyCookie); c != "" {
			t.Fatalf("without stickiness: got cookie %q, want none", c)
		}

		cfg.Listener.Addr = r.b.Addr()
		cfg.ServerGroup.Stickiness = lbCookie()
		if _, err := r.b.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		pinned := br.node(t)
		br.sameNode(t, 3, pinned)

		cfg.ServerGroup.Stickiness = config.Stickiness{Type: config.StickyNone}
		if _, err := r.b.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		if st := r.b.Status().Stickiness; st.Type != config.StickyNone {
			t.Fatalf("status after turning it off: got type %q, want none", st.Type)
		}
		seen := map[string]bool{}
		for range 4 {
			seen[br.node(t)] = true
		}
		if len(seen) != 2 {
			t.Fatalf("stickiness off, the cookie still there: got nodes %v, want both", seen)
		}

		cfg.ServerGroup.Stickiness = lbCookie()
		if _, err := r.b.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		br.sameNode(t, 3, pinned) // the cookie outlives reloads: same key
	})
}

func TestLBCookieExpires(t *testing.T) {
	clk := quartz.NewMock(t)
	nodes := echoNodes(t, 2)
	short := config.Stickiness{Type: config.StickyLBCookie, Duration: config.Duration(time.Second)}
	cfg := config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks(), Stickiness: short}}
	r := start(t, cfg, clk)
	br := newBrowser(t, r.b.URL())
	_, resp := br.get(t, "/healthz")
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=1") || strings.Contains(sc, "SameSite") {
		t.Fatalf("Set-Cookie: got %q, want Max-Age=1 and no SameSite over plain HTTP", sc)
	}
	advance(t, clk, 2*time.Second) // the jar keeps it (real time); the balancer's clock says it expired
	br.node(t)
	if e := r.waitEvent(t, kind(events.StickyRepick)); e.Reason != "expired" {
		t.Fatalf("event: got reason %q, want expired", e.Reason)
	}
}

func TestLBCookieOverTLSHasASameSiteNoneTwin(t *testing.T) {
	nodes := echoNodes(t, 2)
	cfg := config.Config{
		Listener:    config.Listener{TLS: &config.TLS{Addr: "127.0.0.1:0", SelfSigned: true}},
		ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks(), Stickiness: lbCookie()},
	}
	r := start(t, cfg, quartz.NewReal())
	br := newBrowser(t, "https://"+r.b.TLSAddr())
	_, resp := br.get(t, "/healthz")
	var plain, cors *http.Cookie
	for _, c := range resp.Cookies() {
		switch c.Name {
		case config.StickyCookie:
			plain = c
		case config.StickyCookieCORS:
			cors = c
		}
	}
	if plain == nil || cors == nil || plain.Value != cors.Value {
		t.Fatalf("Set-Cookie: got %v, want %s and %s with one value", resp.Header["Set-Cookie"], config.StickyCookie, config.StickyCookieCORS)
	}
	if cors.SameSite != http.SameSiteNoneMode || !cors.Secure || !cors.Partitioned {
		t.Fatalf("%s: got SameSite %v Secure %v Partitioned %v, want None, Secure and Partitioned (browsers that block third-party cookies keep only a partitioned one)",
			config.StickyCookieCORS, cors.SameSite, cors.Secure, cors.Partitioned)
	}
	// A cross-origin request carries only the twin (the first cookie has
	// the browser's default SameSite=Lax): it is followed too.
	pinned, _ := br.get(t, "/healthz")
	only := newBrowser(t, br.base)
	only.setCookie(t, config.StickyCookieCORS, cors.Value)
	for range 3 {
		if got, _ := only.get(t, "/healthz"); got != pinned {
			t.Fatalf("with only %s: got node %q, want %q", config.StickyCookieCORS, got, pinned)
		}
	}
}

// appBackend answers /login by setting the application's cookie io, and
// names itself on every answer.
func appBackend(t *testing.T, name string) config.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Lab-Node", name)
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "io", Value: name + "-session", Path: "/"})
		}
	}))
	t.Cleanup(s.Close)
	return config.Server{Name: name, URL: s.URL}
}

func TestAppCookieFollowsTheApplicationsSession(t *testing.T) {
	cfg := config.Config{ServerGroup: config.ServerGroup{
		Servers:     []config.Server{appBackend(t, "app-1"), appBackend(t, "app-2")},
		HealthCheck: noChecks(),
		Stickiness:  config.Stickiness{Type: config.StickyApp, CookieName: "io"},
	}}
	r := start(t, cfg, quartz.NewReal())
	br := newBrowser(t, r.b.URL())
	if a, b := br.node(t), br.node(t); a == b || br.cookie(t, config.AppStickyCookie) != "" {
		t.Fatalf("before the application's cookie: got %s, %s and cookie %q, want round robin and no cookie", a, b, br.cookie(t, config.AppStickyCookie))
	}
	owner, _ := br.get(t, "/login")
	if br.cookie(t, config.AppStickyCookie) == "" {
		t.Fatalf("after the application set io: no %s cookie", config.AppStickyCookie)
	}
	for i := range 4 {
		if got := br.node(t); got != owner {
			t.Fatalf("request %d: got %q, want %q, which set io", i+1, got, owner)
		}
	}
	// Without the application's cookie the companion alone pins nothing.
	u, _ := url.Parse(br.base)
	br.c.Jar.SetCookies(u, []*http.Cookie{{Name: "io", Value: "", Path: "/", MaxAge: -1}})
	seen := map[string]bool{}
	for range 4 {
		seen[br.node(t)] = true
	}
	if len(seen) != 2 {
		t.Fatalf("without io: got nodes %v, want both", seen)
	}
}

// sickBackend names itself on every answer; its /healthz fails while sick
// is set.
func sickBackend(t *testing.T, name string, sick *atomic.Bool) config.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Lab-Node", name)
		if r.URL.Path == "/healthz" && sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(s.Close)
	return config.Server{Name: name, URL: s.URL}
}

func TestLBCookieIsRewrittenWhenItsBackendTurnsUnhealthy(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		clk := quartz.NewMock(t)
		sick := map[string]*atomic.Bool{"app-1": {}, "app-2": {}}
		cfg := config.Config{ServerGroup: config.ServerGroup{
			Servers:     []config.Server{sickBackend(t, "app-1", sick["app-1"]), sickBackend(t, "app-2", sick["app-2"])},
			HealthCheck: config.HealthCheck{Path: "/healthz"},
			Stickiness:  lbCookie(),
		}}
		r := start(t, cfg, clk, door)
		br := newBrowser(t, r.b.URL())
		pinned, _ := br.get(t, "/")
		sick[pinned].Store(true)
		for range config.DefaultUnhealthyThreshold {
			tick(t, r, clk, config.DefaultHealthInterval, 2)
		}
		if e := r.waitEvent(t, kind(events.BackendHealth)); e.Backend != pinned || e.Reason != "unhealthy" {
			t.Fatalf("got %+v, want %s unhealthy", e, pinned)
		}
		got, _ := br.get(t, "/")
		if got == pinned {
			t.Fatalf("the request still reached %s, which is unhealthy", pinned)
		}
		if e := r.waitEvent(t, kind(events.StickyRepick)); e.Reason != "unavailable" || !strings.Contains(e.Detail, pinned+" is unhealthy") {
			t.Fatalf("event: got %q %q, want unavailable: %s is unhealthy", e.Reason, e.Detail, pinned)
		}
		for range 3 {
			if again, _ := br.get(t, "/"); again != got {
				t.Fatalf("after the re-pick: got %q, want %q (the rewritten cookie's)", again, got)
			}
		}
	})
}

// pollingBackend answers as an Engine.IO server answers long-polling: a
// request without sid opens a session that only this backend knows; one
// with a sid it did not open gets 400 Session ID unknown.
func pollingBackend(t *testing.T, name string) config.Server {
	t.Helper()
	var mu sync.Mutex
	sessions := map[string]bool{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Lab-Node", name)
		mu.Lock()
		defer mu.Unlock()
		sid := r.URL.Query().Get("sid")
		switch {
		case sid == "":
			sid = fmt.Sprintf("%s-%d", name, len(sessions)+1)
			sessions[sid] = true
			fmt.Fprintf(w, `0{"sid":%q}`, sid)
		case !sessions[sid]:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"code":1,"message":"Session ID unknown"}`)
		default:
			io.WriteString(w, "6")
		}
	}))
	t.Cleanup(s.Close)
	return config.Server{Name: name, URL: s.URL}
}

// poll opens a polling session and polls it n times; it returns the first
// answer that is not 200.
func (br *browser) poll(t *testing.T, n int) string {
	t.Helper()
	_, body := br.fetch(t, "/socket.io/?EIO=4&transport=polling")
	sid := strings.TrimSuffix(strings.TrimPrefix(body, `0{"sid":"`), `"}`)
	for range n {
		if code, body := br.fetch(t, "/socket.io/?EIO=4&transport=polling&sid="+sid); code != http.StatusOK {
			return fmt.Sprintf("%d %s", code, body)
		}
	}
	return ""
}

func (br *browser) fetch(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := br.c.Get(br.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLongPollingNeedsStickiness(t *testing.T) {
	cfg := config.Config{ServerGroup: config.ServerGroup{
		Servers:     []config.Server{pollingBackend(t, "eio-1"), pollingBackend(t, "eio-2")},
		HealthCheck: noChecks(),
	}}
	r := start(t, cfg, quartz.NewReal())
	if got := newBrowser(t, r.b.URL()).poll(t, 4); !strings.Contains(got, "400") || !strings.Contains(got, "Session ID unknown") {
		t.Fatalf("round robin without stickiness: got %q, want 400 Session ID unknown", got)
	}
	cfg.Listener.Addr = r.b.Addr()
	cfg.ServerGroup.Stickiness = lbCookie()
	if _, err := r.b.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got := newBrowser(t, r.b.URL()).poll(t, 10); got != "" {
			t.Fatalf("client %d with lb_cookie: got %q, want every poll answered", i+1, got)
		}
	}
}
