package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wslab/wslab/lab"
)

func TestExportPrintsTheProxysConfigFromTheLabsBalancerConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(file, []byte("listener: {idle_timeout: 30s}\nserver_group: {policy: least_conn}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"nginx":   {"proxy_read_timeout 30s;", "least_conn;", "server 127.0.0.1:9001", "server 127.0.0.1:9003", "warning: nginx: server_group.health_check: nginx OSS has no active health checks"},
		"haproxy": {"timeout tunnel 30s", "balance leastconn", "server node-3 127.0.0.1:9003 weight 1 check", "http-check send meth GET uri /healthz"},
		"caddy":   {"read_timeout 30s", "lb_policy least_conn", "reverse_proxy 127.0.0.1:9001 127.0.0.1:9002 127.0.0.1:9003", "auto_https off"},
	}
	for kind, parts := range want {
		t.Run(kind, func(t *testing.T) {
			out, code := runOnce(t, "export", kind, "--config", file, "--nodes", "3")
			if code != 0 {
				t.Fatalf("lab export %s: exit %d, %s", kind, code, out)
			}
			for _, p := range parts {
				if !strings.Contains(out, p) {
					t.Errorf("lab export %s: got\n%s\nwant it to contain %q", kind, out, p)
				}
			}
		})
	}
}

func TestExportRefusesWhatTheProxyCannotExpressByName(t *testing.T) {
	file := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(file, []byte("server_group: {stickiness: {type: lb_cookie}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runOnce(t, "export", "nginx", "--config", file)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 2 || !strings.HasPrefix(lines[len(lines)-1], "lab: nginx: server_group.stickiness.type: lb_cookie") {
		t.Fatalf("got exit %d, %q; want exit 2 and a last line naming nginx and the field", code, out)
	}
	out, code = runOnce(t, "export", "traefik")
	checkUsageError(t, out, code, `"traefik" is not nginx, haproxy or caddy`)
}

func TestUpRefusesProxyFlagsThatDoNotGoTogether(t *testing.T) {
	out, code := runOnce(t, "up", "--balancer", "envoy")
	checkUsageError(t, out, code, `--balancer: "envoy" is not wslab, nginx, haproxy or caddy`)
	out, code = runOnce(t, "scenario", "run", "--balancer", "envoy", "chat-across-nodes")
	checkUsageError(t, out, code, `--balancer: "envoy" is not wslab, nginx, haproxy or caddy`)
	out, code = runOnce(t, "up", "--balancer-config", "nginx.conf")
	checkUsageError(t, out, code, "--balancer-config is a config for nginx, haproxy or caddy: add --balancer nginx")
}

func TestUpWithAProxyThatIsNotInstalledSaysSoInOneLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, labBin, "up", "--balancer", "caddy", "--listen", freePort(t), "--admin", freePort(t), "--node-port", "0")
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("got %v, %s; want exit 2", err, out)
	}
	checkUsageError(t, string(out), ee.ExitCode(), "caddy is not installed", "apt-get install caddy")
}

func TestUpWithHAProxyServesShowsItsOwnFiguresAndStopsItOnCtrlC(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy is not installed (.ci/run installs it)")
	}
	u := startUpWithin(t, proxyStart, "--balancer", "haproxy", "--idle-timeout", "5s")
	if resp, body := get(t, u.balancer+"/"); resp.StatusCode != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("GET / through haproxy: got %s, want the chat page", resp.Status)
	}
	st := u.status(t)
	if st.Proxy == nil || st.Proxy.Kind != "haproxy" || len(st.Proxy.Servers) != 2 || st.Proxy.PID == 0 {
		t.Fatalf("status: got proxy %+v, want haproxy with its own figures for 2 servers", st.Proxy)
	}
	if out, code := u.ctl(t, "status"); code != 0 || !strings.Contains(out, "haproxy's own figures (show stat)") || !strings.Contains(out, "node-2") {
		t.Fatalf("lab ctl status: exit %d, %s; want haproxy's own figures", code, out)
	}
	u.stop()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if left, ok := lab.AwaitGroupGone(ctx, st.Proxy.PID); !ok {
		t.Fatalf("haproxy's processes %v are left after Ctrl-C", left)
	}
}
