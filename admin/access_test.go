package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/dashboard"
	"github.com/wslab/wslab/lab"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startLab starts a lab on free loopback ports with its admin API.
func startLab(t *testing.T, cfg lab.Config) *lab.Lab {
	t.Helper()
	cfg.Balancer.Listener.Addr = "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

const newConfig = "listener: {idle_timeout: 5s}\n"

// call sends one request to the admin API with the given headers ("Host"
// sets the Host header) and returns the status code and body.
func call(t *testing.T, l *lab.Lab, method, path, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, l.Admin.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func checkGeneration(t *testing.T, l *lab.Lab, want uint64) {
	t.Helper()
	if g := l.Balancer.Status().Generation; g != want {
		t.Fatalf("got config generation %d, want %d", g, want)
	}
}

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

func TestARebindingPageCannotReloadTheConfig(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 1})
	evil := "evil.example:" + portOf(l.Admin.Addr())
	code, body := call(t, l, "PUT", "/api/config", newConfig, map[string]string{"Host": evil, "Origin": "http://" + evil})
	if code != http.StatusMisdirectedRequest || !strings.Contains(body, `host \"`+evil+`\" is not served here`) {
		t.Fatalf("PUT /api/config with Host %s: got %d %s, want 421 naming the host", evil, code, body)
	}
	checkGeneration(t, l, 1)
}

func TestTheAdminAPIAnswersOnlyItsOwnHostNames(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 1, AdminHosts: []string{"lab.internal", "*.lab.example"}})
	port := portOf(l.Admin.Addr())
	tests := []struct {
		name, host string
		want       int
	}{
		{"the listen address", "127.0.0.1:" + port, 200},
		{"localhost", "localhost:" + port, 200},
		{"a name under localhost", "app.localhost:" + port, 200},
		{"IPv6 loopback", "[::1]:" + port, 200},
		{"another loopback address", "127.0.0.2:" + port, 200},
		{"a name given with --admin-host", "lab.internal:" + port, 200},
		{"a name matching a pattern", "a.lab.example:" + port, 200},
		{"a name given, in capitals", "LAB.INTERNAL", 200},
		{"a foreign name", "evil.example:" + port, 421},
		{"a foreign name ending like a given one", "evil-lab.internal:" + port, 421},
		{"localhost as a subdomain of a foreign name", "localhost.evil.example:" + port, 421},
		{"an address the API does not listen on", "10.1.2.3:" + port, 421},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := call(t, l, "GET", "/api/status", "", map[string]string{"Host": tt.host}); code != tt.want {
				t.Fatalf("GET /api/status with Host %s: got %d %s, want %d", tt.host, code, body, tt.want)
			}
		})
	}
}

func TestRequestsFromOtherSitesAreRefused(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 1, Dashboard: dashboard.Handler()})
	tests := []struct {
		name, method, path string
		headers            map[string]string
		want               int
	}{
		{"a cross-site read", "GET", "/api/status", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, 403},
		{"a cross-site event stream", "GET", "/api/events", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, 403},
		{"cross-site metrics", "GET", "/metrics", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, 403},
		{"a cross-site reload", "PUT", "/api/config", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"a cross-site navigation to the API", "GET", "/api/status", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, 403},
		{"a same-site reload", "PUT", "/api/config", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}, 403},
		{"a reload from another origin, no Sec-Fetch-Site", "PUT", "/api/config", map[string]string{"Origin": "http://127.0.0.1:1"}, 403},
		{"a same-origin read", "GET", "/api/status", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"a typed address", "GET", "/api/status", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"a link from another site to the dashboard", "GET", "/", map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, 200},
		{"the dashboard's own reload", "POST", "/api/config/validate", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.method != "GET" {
				body = newConfig
			}
			code, out := call(t, l, tt.method, tt.path, body, tt.headers)
			if code != tt.want {
				t.Fatalf("%s %s with %v: got %d %s, want %d", tt.method, tt.path, tt.headers, code, out, tt.want)
			}
			if code == 403 && !strings.Contains(out, "refused") {
				t.Fatalf("403 without a reason: %s", out)
			}
		})
	}
	checkGeneration(t, l, 1)
}

func TestANonLoopbackAdminAddressNeedsAToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		_, err := admin.Start(admin.Config{Addr: addr})
		var tr *admin.TokenRequiredError
		if !errors.As(err, &tr) || tr.Addr != addr {
			t.Fatalf("admin on %s without a token: got %v, want a TokenRequiredError naming it", addr, err)
		}
	}
}

func TestATokenGuardsTheAPIButNotTheDashboardPage(t *testing.T) {
	const token = "s3cret-token-of-the-lab"
	l := startLab(t, lab.Config{Nodes: 1, AdminToken: token, Dashboard: dashboard.Handler()})
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no token", "GET", "/api/status", "", 401},
		{"a wrong token", "GET", "/api/status", "Bearer s3cret-token-of-the-lap", 401},
		{"a prefix of the token", "GET", "/api/status", "Bearer s3cret", 401},
		{"not a bearer", "GET", "/api/status", "Basic " + token, 401},
		{"a reload without it", "PUT", "/api/config", "", 401},
		{"metrics without it", "GET", "/metrics", "", 401},
		{"the token", "GET", "/api/status", "Bearer " + token, 200},
		{"metrics with it", "GET", "/metrics", "Bearer " + token, 200},
		{"the dashboard page", "GET", "/", "", 200},
		{"the dashboard's script", "GET", "/app.js", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.auth != "" {
				h["Authorization"] = tt.auth
			}
			body := ""
			if tt.method == "PUT" {
				body = newConfig
			}
			code, out := call(t, l, tt.method, tt.path, body, h)
			if code != tt.want {
				t.Fatalf("%s %s with %q: got %d %s, want %d", tt.method, tt.path, tt.auth, code, out, tt.want)
			}
		})
	}
	checkGeneration(t, l, 1)

	t.Run("the event stream takes it in the query", func(t *testing.T) {
		if code, _ := call(t, l, "GET", "/api/events?access_token=wrong", "", nil); code != 401 {
			t.Fatalf("events with a wrong access_token: got %d, want 401", code)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", l.Admin.URL()+"/api/events?access_token="+token, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("events with the access_token: got %d, want 200", resp.StatusCode)
		}
	})
	t.Run("the query is not taken elsewhere", func(t *testing.T) {
		if code, _ := call(t, l, "GET", "/api/status?access_token="+token, "", nil); code != 401 {
			t.Fatalf("status with access_token: got %d, want 401", code)
		}
	})
	t.Run("a reload with the token", func(t *testing.T) {
		code, out := call(t, l, "PUT", "/api/config", newConfig, map[string]string{"Authorization": "Bearer " + token})
		var ok struct{ Generation uint64 }
		if code != 200 || json.Unmarshal([]byte(out), &ok) != nil || ok.Generation != 2 {
			t.Fatalf("PUT with the token: got %d %s, want generation 2", code, out)
		}
	})
}

var _ = config.DefaultAddr
