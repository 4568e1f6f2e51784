package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wslab/wslab/internal/browsertest"
)

// TestDashboardShowsTheProxyAtTheFrontDoor: with nginx, HAProxy or Caddy
// in the balancer's place (lab up --balancer), the dashboard has a card
// for it: which program and version, where it listens, its pid, the
// config it reads and the reloads applied (one more after lab ctl
// reload), and HAProxy's own figures for its servers — or why the others
// have none.
func TestDashboardShowsTheProxyAtTheFrontDoor(t *testing.T) {
	for _, kind := range []string{"nginx", "haproxy", "caddy"} {
		t.Run(kind, func(t *testing.T) {
			b := browsertest.New(t)
			if _, err := exec.LookPath(kind); err != nil {
				t.Skipf("%s is not installed (.ci/run installs it): no front door to show", kind)
			}
			u := startUpForPage(t, "--balancer", kind)
			p := b.Open("dashboard", u.admin+"/")
			p.WaitFor(`document.getElementById("stream").textContent === "live" && !document.getElementById("front-door").hidden`)
			fig := func(name string) string {
				return browsertest.Eval[string](p, `document.querySelector('#fd-figures dd[data-stat="`+name+`"]').textContent`)
			}
			if got := fig("proxy"); got != kind {
				t.Errorf("proxy: got %q, want %q", got, kind)
			}
			if got := fig("version"); !regexpMatch(`^\d+\.\d+\.\d+`, got) {
				t.Errorf("version: got %q, want the program's own, such as 1.22.1", got)
			}
			if got, want := fig("listen"), strings.TrimPrefix(u.balancer, "http://"); got != want {
				t.Errorf("listen: got %q, want %q", got, want)
			}
			pid, _ := strconv.Atoi(fig("pid"))
			if cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err != nil || !strings.Contains(string(cmd), kind) {
				t.Errorf("pid: got %q, want the pid of %s's running process (/proc: %q, %v)", fig("pid"), kind, cmd, err)
			}
			cfgFile, _, _ := strings.Cut(fig("config"), " (written by the lab)")
			if _, err := os.Stat(cfgFile); err != nil || cfgFile == fig("config") {
				t.Errorf("config: got %q, want the file the lab wrote for %s, which exists (%v)", fig("config"), kind, err)
			}
			if got := fig("reloads"); got != "0 applied · generation 1" {
				t.Errorf("reloads: got %q, want none yet", got)
			}
			if kind == "haproxy" {
				p.WaitFor(`Array.from(document.querySelectorAll("#fd-servers tbody tr")).map(function (r) { return r.children[0].textContent + " " + r.children[1].textContent; }).join(", ") === "node-1 UP, node-2 UP"`)
			} else {
				if !browsertest.Eval[bool](p, `document.getElementById("fd-servers").hidden`) {
					t.Errorf("%s: a table of server figures it does not have", kind)
				}
				if got := browsertest.Eval[string](p, `document.getElementById("fd-note").textContent`); !strings.Contains(got, "exposes") {
					t.Errorf("%s's figures: got %q, want why there are none", kind, got)
				}
			}
			reload := filepath.Join(t.TempDir(), "lab.yaml")
			writeFile(t, reload, "listener:\n  idle_timeout: 45s\n")
			if out, code := u.ctl(t, "reload", reload); code != 0 {
				t.Fatalf("reload: exit %d, %q", code, out)
			}
			p.WaitFor(`document.querySelector('#fd-figures dd[data-stat="reloads"]').textContent === "1 applied · generation 2"`)
			if got := fig("idle timeout"); got != "45s" {
				t.Errorf("idle timeout after the reload: got %q, want 45s", got)
			}
			p.Screenshot("testdata/screenshots", "dashboard-front-door-"+kind)
		})
	}
}
