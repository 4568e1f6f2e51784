package main_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScenarioRunAllBuiltins(t *testing.T) {
	list, code := runOnce(t, "scenario", "list")
	if code != 0 {
		t.Fatalf("scenario list: exit %d: %s", code, list)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		names = append(names, strings.Fields(l)[0])
	}
	if len(names) < 9 {
		t.Fatalf("%d built-ins listed, want 9:\n%s", len(names), list)
	}
	junit := filepath.Join(t.TempDir(), "report.xml")
	// Every built-in, the real-time variants too: longer than runOnce's
	// wait under load.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, labBin, append([]string{"scenario", "run", "--junit", junit}, names...)...)
	outb, _ := cmd.CombinedOutput()
	out, code := string(outb), cmd.ProcessState.ExitCode()
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), fmt.Sprintf("%d passed, 0 failed", len(names))) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	data, _ := os.ReadFile(junit)
	if err := xml.Unmarshal(data, &suite); err != nil || suite.Tests != len(names) || suite.Failures != 0 {
		t.Fatalf("junit report: %+v, %v\n%s", suite, err, data)
	}
	show, _ := runOnce(t, "scenario", "show", "drain")
	if !strings.Contains(show, "deregistration_delay: 300s") {
		t.Fatalf("scenario show drain:\n%s", show)
	}
}

// TestScenarioRunEndsWithWhatEachClientSaw: after its verdict, a run
// prints per client the closes with their codes, the time disconnected and
// the reconnect attempts; --json carries the same.
func TestScenarioRunEndsWithWhatEachClientSaw(t *testing.T) {
	out, code := runOnce(t, "scenario", "run", "node-failure")
	want := "  client alice: closes 1006 at +0.000s; disconnected 1.197s; reconnect attempts 1 (1 connected); messages lost 0, duplicated 0\n" +
		"  client bob: closes none; disconnected 0.000s; reconnect attempts 0; messages lost 0, duplicated 0\n"
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("exit %d:\n%s\nwant it to contain:\n%s", code, out, want)
	}
	out, code = runOnce(t, "scenario", "run", "--json", "node-failure")
	var results []struct {
		Clients []struct {
			Client       string
			Closes       []struct{ Code int }
			Disconnected int64 `json:"disconnected_ns"`
			Attempts     int   `json:"reconnect_attempts"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &results) != nil || len(results[0].Clients) != 2 {
		t.Fatalf("--json: exit %d:\n%s", code, out)
	}
	if a := results[0].Clients[0]; a.Client != "alice" || len(a.Closes) != 1 || a.Closes[0].Code != 1006 || a.Disconnected != 1197e6 || a.Attempts != 1 {
		t.Fatalf("--json: alice is %+v, want one 1006 close, 1.197 s disconnected, 1 attempt", a)
	}
}

func TestScenarioFailureExits1AndMalformedExits2(t *testing.T) {
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.yaml")
	writeFile(t, wrong, "name: wrong\nlab: {nodes: 1}\nsteps:\n  - connect: {client: alice, protocol: chat_ws}\n  - advance: 61s\n  - expect_open: {client: alice}\n")
	out, code := runOnce(t, "scenario", "run", wrong)
	if code != 1 || !strings.Contains(out, "FAIL wrong") || !strings.Contains(out, "step 3 (expect_open, line 6) at +61.000s: alice is open; observed: closed at +60.000s with 1006 (idle_timeout)") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	out, code = runOnce(t, "scenario", "run", "--json", wrong)
	var results []struct {
		Passed  bool
		Failure struct{ Observed string }
	}
	if code != 1 || json.Unmarshal([]byte(out), &results) != nil || results[0].Passed || results[0].Failure.Observed != "closed at +60.000s with 1006 (idle_timeout)" {
		t.Fatalf("--json: exit %d:\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "name: bad\nsteps:\n  - connect: {client: a}\n  - teleport: a\n")
	out, code = runOnce(t, "scenario", "run", bad)
	if code != 2 || !strings.Contains(out, bad+":4: unknown step \"teleport\"") {
		t.Fatalf("malformed: exit %d: %s", code, out)
	}
	out, code = runOnce(t, "scenario", "run", "no-such-scenario")
	if code != 2 || !strings.Contains(out, "built-ins: bad-reload") {
		t.Fatalf("unknown name: exit %d: %s", code, out)
	}
}

func TestScenarioListLinesUpItsDescriptionsWhateverTheLongestName(t *testing.T) {
	list, code := runOnce(t, "scenario", "list")
	if code != 0 {
		t.Fatalf("scenario list: exit %d: %s", code, list)
	}
	col := -1
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		name := strings.Fields(l)[0]
		at := len(name) + strings.IndexFunc(l[len(name):], func(r rune) bool { return r != ' ' })
		if col == -1 {
			col = at
		}
		if at != col || at < len(name)+2 {
			t.Fatalf("description of %s starts at column %d, want %d (two spaces after the longest name):\n%s", name, at, col, list)
		}
	}
}
