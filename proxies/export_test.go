package proxies_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/proxies"
	"github.com/wslab/wslab/scenarios"
)

// needProxy skips the test when kind is not installed here; CI installs
// all three (.ci/run).
func needProxy(t *testing.T, kind proxies.Kind) {
	t.Helper()
	if _, err := proxies.Binary(kind); err != nil {
		t.Skipf("%v (.ci/run installs it)", err)
	}
}

// shapeConfig is the balancer config a lab of the shape runs: its
// document, its profile, its nodes as servers checked on /healthz.
func shapeConfig(sh scenarios.Shape) config.Config {
	doc := sh.Balancer
	if doc.Profile == "" {
		doc.Profile = sh.Profile
	}
	nodes := sh.Nodes + len(sh.NodeList)
	if nodes == 0 {
		nodes = 2
	}
	var defaults config.Config
	for i := range nodes {
		defaults.ServerGroup.Servers = append(defaults.ServerGroup.Servers,
			config.Server{Name: fmt.Sprintf("node-%d", i+1), URL: fmt.Sprintf("http://127.0.0.1:%d", 9001+i)})
	}
	defaults.ServerGroup.HealthCheck.Path = "/healthz"
	return config.Compose(config.Config{}, doc, defaults, nil)
}

func TestEveryBuiltinScenariosLabExportsAConfigTheProxyItselfAccepts(t *testing.T) {
	all, err := scenarios.Builtins()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range proxies.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			needProxy(t, kind)
			for _, sc := range all {
				t.Run(sc.Name, func(t *testing.T) {
					site := proxies.Site{Dir: t.TempDir(), AdminAddr: "127.0.0.1:2999"}
					text, _, err := proxies.Render(kind, shapeConfig(sc.Lab), site)
					if err != nil {
						t.Fatalf("render: %v", err)
					}
					file := proxies.ConfigFile(kind, site)
					if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := proxies.Check(ctx, kind, file, site); err != nil {
						t.Errorf("got %v, want the config accepted; it was:\n%s", err, text)
					}
				})
			}
		})
	}
}

func TestAConfigTheProxyRejectsIsOneLineNamingTheProxyAndItsOwnError(t *testing.T) {
	bad := map[proxies.Kind]string{
		proxies.Nginx:   "events {}\nhttp { bogus_directive on; }\n",
		proxies.HAProxy: "global\n    bogus-keyword\n",
		proxies.Caddy:   ":1 {\n\tbogus_directive\n}\n",
	}
	want := map[proxies.Kind]string{proxies.Nginx: "bogus_directive", proxies.HAProxy: "bogus-keyword", proxies.Caddy: "bogus_directive"}
	for _, kind := range proxies.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			needProxy(t, kind)
			site := proxies.Site{Dir: t.TempDir()}
			file := filepath.Join(site.Dir, "bad.conf")
			if err := os.WriteFile(file, []byte(bad[kind]), 0o600); err != nil {
				t.Fatal(err)
			}
			err := proxies.Check(context.Background(), kind, file, site)
			if err == nil {
				t.Fatal("got no error, want the proxy's rejection")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, string(kind)+" rejects") || !strings.Contains(msg, want[kind]) {
				t.Errorf("got %q, want one line starting %q that quotes %q", msg, string(kind)+" rejects", want[kind])
			}
		})
	}
}

func TestWhatAProxyCannotExpressIsRefusedOrWarnedAboutByName(t *testing.T) {
	weight := 2
	lifetime := config.Duration(time.Hour)
	servers := []config.Server{{Name: "a", URL: "http://127.0.0.1:9001", Weight: &weight}, {Name: "b", URL: "http://127.0.0.1:9002"}}
	tests := []struct {
		name    string
		kind    proxies.Kind
		cfg     config.Config
		refused string // a part of the error; "" for none
		warned  string // a part of a warning
	}{
		{name: "nginx has no active health checks", kind: proxies.Nginx, warned: "nginx: server_group.health_check: nginx OSS has no active health checks"},
		{name: "nginx 1.22 has no sticky cookie", kind: proxies.Nginx, cfg: config.Config{ServerGroup: config.ServerGroup{Stickiness: config.Stickiness{Type: "lb_cookie"}}}, refused: "nginx: server_group.stickiness.type: lb_cookie"},
		{name: "caddy 2.6 has no weights", kind: proxies.Caddy, refused: "caddy: server_group.servers: a: weight 2: Caddy 2.6 has no weighted_round_robin"},
		{name: "caddy 2.6 closes websockets on reload", kind: proxies.Caddy, cfg: config.Config{ServerGroup: config.ServerGroup{Servers: servers[1:]}}, warned: "stream_close_delay"},
		{name: "no proxy caps a tunnel's lifetime", kind: proxies.HAProxy, cfg: config.Config{Listener: config.Listener{MaxLifetime: &lifetime}}, refused: "haproxy: listener.max_lifetime"},
		{name: "haproxy follows an app cookie", kind: proxies.HAProxy, cfg: config.Config{ServerGroup: config.ServerGroup{Stickiness: config.Stickiness{Type: "app_cookie", CookieName: "io"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.ServerGroup.Servers == nil {
				tt.cfg.ServerGroup.Servers = servers
			}
			_, warns, err := proxies.Render(tt.kind, tt.cfg, proxies.Site{Dir: "/tmp/x"})
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("got %v, want no refusal", err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("got %v, want a refusal with %q", err, tt.refused)
			}
			if tt.warned == "" {
				return
			}
			var all []string
			for _, w := range warns {
				all = append(all, w.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.warned) {
				t.Errorf("got warnings %q, want one with %q", all, tt.warned)
			}
		})
	}
}
