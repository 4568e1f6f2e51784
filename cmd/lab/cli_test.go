package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// checkUsageError checks for exit 2 and one stderr-style line naming want.
func checkUsageError(t *testing.T, out string, code int, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "lab: ") {
		t.Fatalf("got exit %d, output %q; want exit 2 and one line", code, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("got %q, want it to name %q", out, w)
		}
	}
}

func TestMisspeltCommandsExit2WithASuggestion(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"ctl", "stauts"}, []string{`unknown command "stauts" for "lab ctl"`, `did you mean "status"?`}},
		{[]string{"ctl", "--admin", "127.0.0.1:1", "relaod", "x.yaml"}, []string{`unknown command "relaod"`, `did you mean "reload"?`}},
		{[]string{"scenario", "rn", "idle-timeout"}, []string{`unknown command "rn" for "lab scenario"`, `did you mean "run"?`}},
		{[]string{"ctl", "frobnicate"}, []string{`unknown command "frobnicate"`, `"lab ctl --help" lists the commands`}},
		{[]string{"stauts"}, []string{`unknown command "stauts" for "lab"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code := runOnce(t, tt.args...)
			checkUsageError(t, out, code, tt.want...)
		})
	}
	if out, code := runOnce(t, "ctl"); code != 0 || !strings.Contains(out, "lab ctl status") {
		t.Fatalf("lab ctl alone: exit %d, %q; want its help and exit 0", code, out)
	}
}

func TestZeroFlagsAreErrorsNotDefaults(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"up", "--nodes", "0"}, []string{"--nodes 0: want at least 1"}},
		{[]string{"up", "--nodes", "-3"}, []string{"--nodes -3"}},
		{[]string{"up", "--idle-timeout", "0s"}, []string{"--idle-timeout 0s: want a positive duration"}},
		{[]string{"up", "--ping-interval", "0s", "--nodes", "0"}, []string{"--ping-interval 0s", "--nodes 0"}},
		{[]string{"node", "--ping-interval", "0s"}, []string{"--ping-interval 0s"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code := runOnce(t, tt.args...)
			checkUsageError(t, out, code, tt.want...)
		})
	}
}

// TestCtlSpeaksJSONAndTakesHostPort: lab ctl --admin takes host:port as lab
// up --admin does, and --json prints the API's JSON for every command,
// errors included.
func TestCtlSpeaksJSONAndTakesHostPort(t *testing.T) {
	u := startUp(t, "--nodes", "1")
	addr := strings.TrimPrefix(u.admin, "http://")
	ctl := func(args ...string) (string, int) {
		t.Helper()
		return runOnce(t, append([]string{"ctl", "--admin", addr}, args...)...)
	}
	if out, code := ctl("status"); code != 0 || !strings.Contains(out, "BACKEND") {
		t.Fatalf("ctl --admin %s status: exit %d\n%s", addr, code, out)
	}
	jsonOf := func(out string, code, wantCode int) map[string]any {
		t.Helper()
		var v map[string]any
		if code != wantCode || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("got exit %d and %q; want exit %d and JSON", code, out, wantCode)
		}
		return v
	}
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, "listener: {idle_timeout: 30s}\n")
	if v := jsonOf(runJSON(t, "ctl", "--admin", addr, "--json", "reload", cfg)); v["generation"] != 2.0 {
		t.Fatalf("reload --json: %v, want generation 2", v)
	}
	if v := jsonOf(runJSON(t, "ctl", "--admin", addr, "node", "node-1", "slow", "1s", "--json")); v["name"] != "node-1" {
		t.Fatalf("node --json: %v, want node-1's state", v)
	}
	if v := jsonOf(runJSON(t, "ctl", "--admin", addr, "--json", "status")); v["balancer"] == nil {
		t.Fatalf("status --json: %v", v)
	}
	writeFile(t, cfg, "listener: {idle_timeout: forever}\n")
	v := jsonOf(runJSONCode(t, 2, "ctl", "--admin", addr, "--json", "reload", cfg))
	if p, _ := v["problems"].([]any); len(p) == 0 {
		t.Fatalf("a rejected reload --json: %v, want the problems", v)
	}
	v = jsonOf(runJSONCode(t, 2, "ctl", "--admin", addr, "--json", "node", "node-9", "kill"))
	if e, _ := v["error"].(string); !strings.Contains(e, `no node "node-9"`) {
		t.Fatalf("an unknown node --json: %v", v)
	}
	ev := run(t, "ctl", "--admin", addr, "--json", "events")
	// The stream prints nothing before an event: cause one until it shows
	// (health checks may come first: every line is one JSON event).
	var line string
	for i := 0; v["kind"] != "node.fault" && i < 30; i++ {
		if out, code := ctl("node", "node-1", "slow", "1ms"); code != 0 {
			t.Fatalf("slow: %d %s", code, out)
		}
		select {
		case line = <-ev.lines:
			v = nil
			if json.Unmarshal([]byte(line), &v) != nil {
				t.Fatalf("events --json printed %q, want one JSON event a line", line)
			}
		case <-time.After(500 * time.Millisecond):
		}
	}
	if v["kind"] != "node.fault" {
		t.Fatalf("events --json printed %q last, want a node.fault event", line)
	}
	for _, bad := range []string{"ftp://" + addr, addr + "/api", "http://"} {
		out, code := ctl("--admin", bad, "status")
		checkUsageError(t, out, code, "--admin", "want host:port")
	}
	u.stop()
}

// runJSON runs lab and returns its stdout only, and the exit code.
func runJSON(t *testing.T, args ...string) (string, int, int) {
	t.Helper()
	out, code := runStdout(t, args...)
	return out, code, 0
}

func runJSONCode(t *testing.T, want int, args ...string) (string, int, int) {
	t.Helper()
	out, code := runStdout(t, args...)
	return out, code, want
}

func runStdout(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(labBin, args...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestUpHintsNameTheAdminAddressItStartedWith: run as printed, the hint
// reaches this lab, not whatever listens on 127.0.0.1:8081.
func TestUpHintsNameTheAdminAddressItStartedWith(t *testing.T) {
	u := startUp(t)
	addr := strings.TrimPrefix(u.admin, "http://")
	if !strings.Contains(u.output(), "ctl --admin "+addr+" node node-1 kill") {
		t.Fatalf("the summary's hint does not name --admin %s:\n%s", addr, u.output())
	}
	u.stop()
}

func TestUpWithAnAdminToken(t *testing.T) {
	const token = "tok-0123456789abcdef"
	u := startUp(t, "--admin-token", token, "--nodes", "1")
	if !strings.Contains(u.output(), u.admin+"/#token="+token) {
		t.Fatalf("the summary does not give the dashboard's URL with its token:\n%s", u.output())
	}
	if resp, _ := get(t, u.admin+"/api/status"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status without the token: %d, want 401", resp.StatusCode)
	}
	out, code := u.ctl(t, "status")
	checkUsageError(t, out, code, "needs its token", "LAB_ADMIN_TOKEN")
	cmd := exec.Command(labBin, "ctl", "--admin", u.admin, "status")
	cmd.Env = append(os.Environ(), "LAB_ADMIN_TOKEN="+token)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "BACKEND") {
		t.Fatalf("ctl status with LAB_ADMIN_TOKEN: %v\n%s", err, b)
	}
	u.stop()

	// From the environment, as lab ctl takes it.
	t.Setenv("LAB_ADMIN_TOKEN", token)
	u2 := startUp(t, "--nodes", "1")
	if resp, _ := get(t, u2.admin+"/api/status"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status without the token from LAB_ADMIN_TOKEN: %d, want 401", resp.StatusCode)
	}
	u2.stop()
}

func TestAnAdminAddressOffLoopbackNeedsAToken(t *testing.T) {
	for _, cmd := range [][]string{
		{"up", "--nodes", "1", "--node-port", "0", "--listen", "127.0.0.1:0", "--admin", "0.0.0.0:0"},
		{"balancer", "--config", writeTemp(t, "listener: {addr: '127.0.0.1:0'}\nserver_group: {servers: [{name: a, url: 'http://127.0.0.1:1'}]}\n"), "--admin", ":0"},
	} {
		t.Run(cmd[0], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			c := exec.CommandContext(ctx, labBin, cmd...)
			c.Env = append(os.Environ(), "LAB_ADMIN_TOKEN=")
			out, err := c.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			checkUsageError(t, string(out), code, "needs a token", "--admin-token", "LAB_ADMIN_TOKEN")
		})
	}
}

func writeTemp(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.yaml")
	writeFile(t, p, s)
	return p
}

// TestUpAllowOriginLetsAPageOfAnotherOriginChat: like lab node, lab up
// takes --allow-origin; without it a foreign Origin gets 403.
func TestUpAllowOriginLetsAPageOfAnotherOriginChat(t *testing.T) {
	u := startUp(t, "--nodes", "1", "--allow-origin", "localhost:3000")
	dialFrom := func(origin string) int {
		t.Helper()
		h := http.Header{"Origin": {origin}}
		c, resp, err := websocket.Dial(ctxT(t), strings.Replace(u.balancer, "http", "ws", 1)+"/ws", &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			c.CloseNow()
			return resp.StatusCode
		}
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if code := dialFrom("http://localhost:3000"); code != http.StatusSwitchingProtocols {
		t.Fatalf("an allowed origin: got %d, want 101", code)
	}
	if code := dialFrom("http://elsewhere.example"); code != http.StatusForbidden {
		t.Fatalf("another origin: got %d, want 403", code)
	}
	u.stop()
}

// TestUpWithServersOfItsOwnSaysTheNodesAreNotInTheGroup: a config that
// lists its own servers gets the balancer's traffic; the summary says the
// lab's nodes get none, and gives no hint to kill one.
func TestUpWithServersOfItsOwnSaysTheNodesAreNotInTheGroup(t *testing.T) {
	app := freePort(t)
	cfg := writeTemp(t, "server_group:\n  servers: [{name: my-app, url: 'http://"+app+"'}]\n")
	p := run(t, "up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--node-port", "0", "--nodes", "1", "--config", cfg)
	p.waitLine(`Events:$`)
	out := p.output()
	if !regexp.MustCompile(`(?m)^  server +http://` + regexp.QuoteMeta(app) + ` +my-app`).MatchString(out) {
		t.Errorf("the summary does not list the config's server:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^  node-1 .*not in the balancer's server group`).MatchString(out) {
		t.Errorf("the summary does not say node-1 is outside the group:\n%s", out)
	}
	if strings.Contains(out, "node node-1 kill") {
		t.Errorf("the summary suggests killing node-1, which carries no balancer traffic:\n%s", out)
	}
	p.stop()
}

func TestJUnitPathIsCheckedBeforeAnythingRuns(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ path, want string }{
		{filepath.Join(dir, "missing", "report.xml"), "cannot write there"},
		{dir, "is a directory"},
	}
	for _, tt := range tests {
		out, code := runOnce(t, "scenario", "run", "--junit", tt.path, "idle-timeout")
		checkUsageError(t, out, code, "--junit "+tt.path, tt.want)
		if strings.Contains(out, "PASS") {
			t.Fatalf("a scenario ran before the bad --junit path was refused:\n%s", out)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left behind in %s: %v", dir, entries)
	}
}

func TestVersionPrintsTheModuleVersionAndRevision(t *testing.T) {
	out, code := runOnce(t, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	want := regexp.MustCompile(`^lab \S+ \(module github\.com/wslab/wslab\)\nrevision ([0-9a-f]{7,}|unknown: .*)\n` + regexp.QuoteMeta(runtime.Version()) + ` \w+/\w+\n$`)
	if !want.MatchString(out) {
		t.Fatalf("lab version printed %q, want version and module, revision, Go", out)
	}
}

func TestRecoveryFlagsThatCannotApplyAreRefusedByName(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--max-disconnection", "30s"}, "--max-disconnection 30s needs --recovery"},
		{[]string{"up", "--recovery", "--node-cmd", "node server.js"}, "--recovery is for the lab's own chat nodes"},
		{[]string{"up", "--recovery", "--node-url", "http://127.0.0.1:1"}, "--recovery is for the lab's own chat nodes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code := runOnce(t, tt.args...)
			checkUsageError(t, out, code, tt.want)
		})
	}
}
