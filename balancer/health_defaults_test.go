package balancer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// app is someone else's HTTP server: it answers only the paths and methods
// it knows, like the tutorial's Flask app (/ and /socket.io/, no /healthz).
func app(t *testing.T, answer func(method, path string) int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(answer(r.Method, r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func flaskLike(method, path string) int {
	if path == "/" {
		return http.StatusOK
	}
	return http.StatusNotFound
}

// healthAfter runs three rounds of checks against one app and returns its
// state.
func healthAfter(t *testing.T, url string, hc config.HealthCheck) (string, *rig) {
	t.Helper()
	clk := quartz.NewMock(t)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{
		Servers: []config.Server{{Name: "app", URL: url}}, HealthCheck: hc,
	}}, clk)
	for range config.DefaultUnhealthyThreshold {
		tick(t, r, clk, config.DefaultHealthInterval, 1)
	}
	return r.b.Status().Backends[0].State, r
}

func TestDefaultHealthCheckIsTheCloudALBs(t *testing.T) {
	tests := []struct {
		name   string
		answer func(method, path string) int
		hc     config.HealthCheck
		want   string
	}{
		{"an app without /healthz is healthy on GET /", flaskLike, config.HealthCheck{}, "healthy"},
		{"a redirect counts as up", func(string, string) int { return http.StatusFound }, config.HealthCheck{}, "healthy"},
		{"401 is not in 200-399", func(string, string) int { return http.StatusUnauthorized }, config.HealthCheck{}, "unhealthy"},
		{"success_codes widen it", func(string, string) int { return http.StatusUnauthorized }, config.HealthCheck{SuccessCodes: "200-299,401"}, "healthy"},
		{"success_codes narrow it", func(string, string) int { return http.StatusNoContent }, config.HealthCheck{SuccessCodes: "200"}, "unhealthy"},
		{"an app that answers only HEAD, checked with HEAD", headOnly, config.HealthCheck{Method: "HEAD"}, "healthy"},
		{"an app that answers only HEAD, checked with GET", headOnly, config.HealthCheck{}, "unhealthy"},
		{"a path of its own", func(_, p string) int { return map[bool]int{true: 200, false: 404}[p == "/up"] }, config.HealthCheck{Path: "/up"}, "healthy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := healthAfter(t, app(t, tt.answer), tt.hc); got != tt.want {
				t.Fatalf("after 3 checks: %s, want %s", got, tt.want)
			}
		})
	}
}

func headOnly(method, _ string) int {
	if method == http.MethodHead {
		return http.StatusOK
	}
	return http.StatusMethodNotAllowed
}

func TestEveryBackendUnhealthyIsSaidOnceWithTheFix(t *testing.T) {
	url := app(t, func(string, string) int { return http.StatusNotFound })
	state, r := healthAfter(t, url, config.HealthCheck{Path: "/healthz"})
	if state != "unhealthy" {
		t.Fatalf("app is %s, want unhealthy", state)
	}
	e := r.waitEvent(t, kind(events.GroupHealth))
	for _, want := range []string{"every backend is unhealthy", "new requests get 503", "app: status 404 on GET /healthz", "health_check.path", "fail_open: true"} {
		if !strings.Contains(e.Detail, want) {
			t.Errorf("the warning lacks %q: %s", want, e.Detail)
		}
	}
	if e.Reason != "all_unhealthy" {
		t.Errorf("reason %q, want all_unhealthy", e.Reason)
	}
	clk := r.clk.(*quartz.Mock)
	for range 3 {
		tick(t, r, clk, config.DefaultHealthInterval, 1)
	}
	for _, e := range r.backlog {
		if e.Kind == events.GroupHealth {
			t.Fatalf("said twice: %v", e)
		}
	}
	if resp := httpGet(t, r.b.URL()+"/"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET through the balancer: %d, want 503", resp.StatusCode)
	}
}

func TestFailOpenRoutesToUnhealthyBackends(t *testing.T) {
	url := app(t, func(_, p string) int { return map[bool]int{true: 200, false: 404}[p == "/page"] })
	state, r := healthAfter(t, url, config.HealthCheck{Path: "/healthz", FailOpen: true})
	if state != "unhealthy" {
		t.Fatalf("app is %s, want unhealthy", state)
	}
	if e := r.waitEvent(t, kind(events.GroupHealth)); !strings.Contains(e.Detail, "fail_open: new requests go to all of them") {
		t.Fatalf("warning: %s, want it to say fail_open routes to all", e.Detail)
	}
	if resp := httpGet(t, r.b.URL()+"/page"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /page through a fail-open balancer: %d, want the app's 200", resp.StatusCode)
	}
}
