package main_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// lab ctl events --last and --since show what happened before they ran,
// worded (no node.stopped), and -f keeps following after them.
func TestCtlEventsShowsTheHistoryThenFollows(t *testing.T) {
	u := startUp(t)
	if out, code := u.ctl(t, "node", "node-1", "kill"); code != 0 {
		t.Fatalf("kill: exit %d, %q", code, out)
	}
	out, code := u.ctl(t, "events", "--last", "50")
	if code != 0 || !strings.Contains(out, "node-1    fault: kill: ") ||
		!strings.Contains(out, "node-1    stopped listening: killed, its connections dropped without a close frame\n") {
		t.Fatalf("events --last 50: got exit %d and\n%s\nwant exit 0 and the kill, worded", code, out)
	}
	if strings.Contains(out, "node.stopped") || strings.Contains(out, "backend.check") || strings.Contains(out, "health check of") {
		t.Fatalf("events --last 50: got\n%s\nwant no raw kind and no health checks without -v", out)
	}
	f := run(t, "ctl", "--admin", u.admin, "events", "--since", "5m", "-f")
	f.waitLine(`node-1\s+stopped listening: killed`)
	if out, code := u.ctl(t, "node", "node-2", "slow", "1ms"); code != 0 {
		t.Fatalf("slow: exit %d, %q", code, out)
	}
	f.waitLine(`node-2\s+fault: slow 1ms$`)

	for _, bad := range [][]string{{"--since", "0s"}, {"--last", "-1"}} {
		out, code := u.ctl(t, append([]string{"events"}, bad...)...)
		checkUsageError(t, out, code, bad[0]+" "+bad[1])
	}
}

// -v adds what the terminal leaves out by default: every health check.
func TestCtlEventsVerboseShowsHealthChecks(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	u := startUp(t, "--config", cfg)
	f := run(t, "ctl", "--admin", u.admin, "events", "--last", "1000", "-f", "-v")
	f.waitLine(`balancer\s+health check of node-\d: ok`)
	out, code := u.ctl(t, "events", "--last", "1000")
	if code != 0 || strings.Contains(out, "health check of") {
		t.Fatalf("events --last 1000 without -v: got exit %d and\n%s\nwant no health checks", code, out)
	}
}

// --last N counts the events it shows: a quiet lab checks its backends
// every interval, and those checks, shown only with -v, must not crowd
// out of the last N what happened (here the kill, a minute of checks
// before someone looks).
func TestCtlEventsLastCountsWhatItShowsNotTheHealthChecks(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	u := startUp(t, "--config", cfg)
	if out, code := u.ctl(t, "node", "node-1", "kill"); code != 0 {
		t.Fatalf("kill: exit %d, %q", code, out)
	}
	f := run(t, "ctl", "--admin", u.admin, "events", "-v")
	for range 30 { // 30 checks after the kill: the last 30 events kept are checks
		f.waitLine(`balancer\s+health check of node-1: failed`)
	}
	out, code := u.ctl(t, "events", "--last", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(out, "node-1    stopped listening: killed") || !strings.Contains(out, "node-1 is now UNHEALTHY") {
		t.Fatalf("events --last 2: got exit %d and\n%s\nwant the last two events that are not health checks: the node stopped, and it is unhealthy", code, out)
	}
	out, _ = u.ctl(t, "events", "--last", "2", "-v")
	if n := strings.Count(out, "health check of"); n != 2 {
		t.Fatalf("events --last 2 -v: got\n%s\nwant the two last checks", out)
	}
}
