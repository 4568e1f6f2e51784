package main_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/proxies"
)

var update = flag.Bool("update", false, "rewrite the README's conformance table")

func TestTheMatrixHelpSaysWhatRunsWhatACellSaysAndWhenItFails(t *testing.T) {
	out, code := runOnce(t, "scenario", "matrix", "--help")
	if code != 0 {
		t.Fatalf("got exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"-realtime", "not applicable", "not installed", "real clock", "stderr", "Ctrl-C", "--balancers", "--markdown", "Exit status", "130"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not mention %q:\n%s", want, out)
		}
	}
}

func TestTheMatrixRefusesABalancerItDoesNotKnowByName(t *testing.T) {
	out, code := runOnce(t, "scenario", "matrix", "--balancers", "wslab,envoy")
	checkUsageError(t, out, code, `--balancers: "envoy" is not wslab, nginx, haproxy or caddy`)
	out, code = runOnce(t, "scenario", "matrix", "--only", "idle-timeout-realtime")
	checkUsageError(t, out, code, `--only: "idle-timeout-realtime" is not a built-in scenario with a row in the matrix`)
}

func TestAMissingProxyIsAColumnSayingNotInstalledAndTheRunStillPasses(t *testing.T) {
	cmd := exec.Command(labBin, "scenario", "matrix", "--only", "chat-across-nodes,bad-reload", "--balancers", "wslab,caddy")
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir()) // no caddy on it
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("got %v, want exit 0 (a proxy that is not installed is the table's content); stderr:\n%s", err, stderr.String())
	}
	want := "bad-reload\n  all    not applicable: it checks the built-in balancer's own config validation; the lab refuses that YAML before any proxy sees it\n" +
		"chat-across-nodes\n  wslab  pass\n  caddy  not installed\n"
	if string(out) != want {
		t.Errorf("got table:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(stderr.String(), "[1/1] chat-across-nodes against wslab") || !strings.Contains(stderr.String(), "caddy: not installed") {
		t.Errorf("got progress on stderr:\n%s\nwant the run counted and caddy said missing", stderr.String())
	}
}

// children are the processes whose parent is pid, and theirs: a proxy the
// lab started is its child (the master) with workers under it.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, st := range stats {
		data, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after ")".
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			out = append(out, child)
			out = append(out, children(t, child)...)
		}
	}
	return out
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

func TestCtrlCStopsTheMatrixAndLeavesNoProxyRunning(t *testing.T) {
	if _, err := proxies.Binary(proxies.HAProxy); err != nil {
		t.Skipf("%v (.ci/run installs it)", err)
	}
	p := run(t, "scenario", "matrix", "--only", "idle-timeout", "--balancers", "haproxy", "-v")
	p.waitLine(`\[1/1\] idle-timeout-realtime against haproxy$`)
	// A client through the front door is connected: HAProxy's master and
	// a worker are up.
	p.waitLine(`^  \+\d+\.\d+s connect \w+ via balancer .*→ node-\d`)
	procs := children(t, p.cmd.Process.Pid)
	if len(procs) < 2 {
		t.Fatalf("got processes %v under lab, want haproxy's master and worker", procs)
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(waitFor):
		t.Fatal("lab scenario matrix did not stop on Ctrl-C")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("got exit %d after Ctrl-C, want 130; output:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), "interrupted") {
		t.Errorf("got output:\n%s\nwant it to say it was interrupted", p.output())
	}
	for _, pid := range procs {
		if alive(pid) {
			t.Errorf("process %d (started under the matrix) still runs after it exited", pid)
		}
	}
}

// TestTheREADMEsConformanceTableIsTheOneTheMatrixMakesNow runs the whole
// matrix (a few minutes; LAB_TEST_MATRIX=1, which .ci/run sets) and
// compares its Markdown with the README's block, so the table cannot rot.
// `LAB_TEST_MATRIX=1 go test ./cmd/lab -run TestTheREADMEsConformance
// -update` rewrites the block.
func TestTheREADMEsConformanceTableIsTheOneTheMatrixMakesNow(t *testing.T) {
	if os.Getenv("LAB_TEST_MATRIX") == "" {
		t.Skip("runs every built-in against every balancer, a few minutes: set LAB_TEST_MATRIX=1 (.ci/run does)")
	}
	for _, k := range proxies.Kinds() {
		if _, err := proxies.Binary(k); err != nil {
			t.Fatalf("%v: the README's table has a column for each proxy", err)
		}
	}
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	begin, end := "<!-- begin conformance -->\n", "<!-- end conformance -->"
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q block", strings.TrimSpace(begin), end)
	}
	cmd := exec.Command(labBin, "scenario", "matrix", "--markdown")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lab scenario matrix --markdown: %v; stderr:\n%s", err, stderr.String())
	}
	got, want := readme[i+len(begin):j], string(out)
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's conformance table differs from what lab scenario matrix --markdown prints now (LAB_TEST_MATRIX=1 go test ./cmd/lab -run TestTheREADMEsConformance -update rewrites it, if the change is meant):\ngot:\n%s\nwant:\n%s", got, want)
}
