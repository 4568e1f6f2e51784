//go:build unix

package main_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/lab"
)

// labNodeCmd runs `lab node` as a command node behind sh -c, a sleep
// beside it: three processes in its group.
func labNodeCmd() string {
	return fmt.Sprintf("%q node --listen 127.0.0.1:{port} --redis {redis_url} --name {name} & sleep 600; wait", labBin)
}

// groupGone fails unless no process of the group is alive within a few
// seconds.
func groupGone(t *testing.T, pgid int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if left, _ := lab.AwaitGroupGone(ctx, pgid); len(left) != 0 {
		t.Fatalf("process group %d: %v still alive, want none", pgid, left)
	}
}

func TestUpRunsYourCommandAsNodesCtlKillsItsGroupAndCtrlCLeavesNothing(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	u := startUp(t, "--config", cfg, "--node-cmd", labNodeCmd(), "--node-health", "/healthz")
	if !regexp.MustCompile(`(?m)^  time\s+real clock: node-1 is a command node`).MatchString(u.output()) {
		t.Fatalf("the summary does not say the lab runs on the real clock:\n%s", u.output())
	}
	st := u.status(t)
	if len(st.Nodes) != 2 {
		t.Fatalf("got %d nodes, want 2", len(st.Nodes))
	}
	var pgids []int
	for _, n := range st.Nodes {
		if n.Kind != "command" || n.PID == 0 || n.Processes != 3 {
			t.Fatalf("node %s: kind %q pid %d with %d processes, want a command node with 3", n.Name, n.Kind, n.PID, n.Processes)
		}
		pgids = append(pgids, n.PID)
	}
	a, b := dial(t, u.balancer), dial(t, u.balancer)
	if a.Node() != "node-1" {
		a, b = b, a
	}
	expect(t, a, "Welcome to the chatroom!")
	expect(t, b, "Welcome to the chatroom!")
	a.Emit(ctxT(t), "set_username", "A")
	expect(t, a, "Your username is set to A")
	b.Emit(ctxT(t), "set_username", "B")
	expect(t, b, "Your username is set to B")
	a.Emit(ctxT(t), "message", "across processes")
	expect(t, b, "A: across processes")

	out, code := u.ctl(t, "node", "node-1", "kill")
	want := fmt.Sprintf("node-1 kill: SIGKILL to process group %d (3 processes); now down", pgids[0])
	if code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("lab ctl kill: %d %q, want %q", code, out, want)
	}
	groupGone(t, pgids[0])
	select {
	case <-a.Done():
		if s := websocket.CloseStatus(a.Err()); s != -1 {
			t.Fatalf("A saw close status %d, want an abrupt close (-1)", s)
		}
	case <-ctxT(t).Done():
		t.Fatal("A's connection survived the kill")
	}
	u.waitLine(fmt.Sprintf(`node-1\s+fault: kill: SIGKILL to process group %d \(3 processes\)`, pgids[0]))
	u.waitLine(`balancer\s+node-1 is now UNHEALTHY`)

	out, code = u.ctl(t, "node", "node-1", "start")
	if code != 0 || !strings.Contains(out, "node-1 start: launched") {
		t.Fatalf("lab ctl start: %d %q", code, out)
	}
	u.waitLine(`balancer\s+node-1 is now HEALTHY`)
	pgids = append(pgids, u.status(t).Nodes[0].PID)

	u.stop()
	for _, g := range pgids {
		groupGone(t, g)
	}
}

func TestUpWithAURLThatRefusesStartsAndRefusesWhatItCannotDo(t *testing.T) {
	p := run(t, "up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--node-url", "http://127.0.0.1:1")
	p.waitLine(`^  node-1\s+http://127\.0\.0\.1:1\s+runs elsewhere; NOT ANSWERING \(.*connection refused\)`)
	admin := p.waitLine(`^  dashboard\s+(http://[^\s/#]+)`)[1]
	p.waitLine(`Events:$`)
	out, code := runOnce(t, "ctl", "--admin", admin, "node", "node-1", "kill")
	if code != 2 || !strings.Contains(out, "node-1 is a url node: kill is not possible; ") {
		t.Fatalf("lab ctl kill of a url node: %d %q, want exit 2 and the refusal by name", code, out)
	}
	p.stop()
}

func TestUpRefusesNodeFlagsThatDoNotApply(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-health", "/healthz"}, "--node-health is for the nodes of --node-cmd or --node-url"},
		{[]string{"--node-url", "ftp://x"}, `--node-url: "ftp://x" is not an http:// or https:// URL`},
		{[]string{"--node-cmd", "true", "--node-health", "healthz"}, `--node-health: "healthz" is not a path`},
		{[]string{"--node-cmd", "echo boom; exit 4"}, "exited before it was ready (exit status 4); its output:"},
	} {
		out, code := runOnce(t, append([]string{"up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--node-port", "0"}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("lab up %v: exit %d %q, want exit 2 saying %q", tc.args, code, out, tc.want)
		}
	}
}
