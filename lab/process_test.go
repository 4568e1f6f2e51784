//go:build unix

package lab_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/helpernode"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node/client"
)

// lines is a NodeOutput that tests can read while the lab writes.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// helperCmd is a command template that runs this test binary as a chat
// node (see package helpernode) behind sh -c, with a sleep beside it: three
// processes in the group, two of which a kill of the shell alone would
// leave behind.
func helperCmd(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%q & sleep 600; wait", exe)
}

// helperSpec is a command node running helperCmd, ready when /healthz
// answers.
func helperSpec(t *testing.T, env ...string) lab.NodeSpec {
	t.Helper()
	return lab.NodeSpec{Command: helperCmd(t), Health: "/healthz", Env: append([]string{helpernode.Env + "=1"}, env...)}
}

// startCommandLab starts a lab whose nodes run spec, its output in out.
func startCommandLab(t *testing.T, cfg lab.Config) (*lab.Lab, *lines) {
	t.Helper()
	out := &lines{}
	cfg.NodeOutput = out
	cfg.Balancer.Listener.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	l, err := lab.Start(chattest.Ctx(t), cfg)
	if err != nil {
		t.Fatalf("lab.Start: %v\noutput:\n%s", err, out)
	}
	t.Cleanup(func() { l.Close() })
	return l, out
}

// groupOf is the pid the helper node printed: with sh -c in front, a
// member of the node's process group, not its leader.
func pidsPrinted(out string) []int {
	var pids []int
	for _, m := range regexp.MustCompile(`pid=(\d+)`).FindAllStringSubmatch(out, -1) {
		p, _ := strconv.Atoi(m[1])
		pids = append(pids, p)
	}
	return pids
}

// waitGroupGone fails the test unless no process of the group is alive
// within a few seconds.
func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	left, ok := lab.AwaitGroupGone(ctx, pgid)
	if !ok {
		t.Fatal("cannot list process groups here")
	}
	if len(left) != 0 {
		t.Fatalf("process group %d: %v still alive, want none (orphans)", pgid, left)
	}
}

func answers(url string) bool {
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func TestACommandBehindShIsKilledWithItsWholeGroupAndRestartsOnTheSamePort(t *testing.T) {
	l, out := startCommandLab(t, lab.Config{Nodes: 1, Node: helperSpec(t)})
	n := l.Node("node-1")
	st := n.State()
	if n.Kind() != lab.KindCommand || !st.Listening || st.Processes != 3 {
		t.Fatalf("got %s node listening=%v with %d processes, want a listening command node with 3 (sh, node, sleep)", n.Kind(), st.Listening, st.Processes)
	}
	url, pgid := n.URL(), st.PID
	c := chattest.Dial(t, l.Balancer.URL(), client.SocketIO)
	chattest.Expect(t, c, "Welcome to the chatroom!")

	did, err := l.Fault(chattest.Ctx(t), "node-1", "kill", 0)
	want := fmt.Sprintf("SIGKILL to process group %d (3 processes)", pgid)
	if err != nil || did != want {
		t.Fatalf("kill: got %q, %v; want %q", did, err, want)
	}
	waitGroupGone(t, pgid)
	select {
	case <-c.Done():
	case <-chattest.Ctx(t).Done():
		t.Fatal("the client's connection survived the kill")
	}
	if st := n.State(); st.Listening || !strings.Contains(st.Note, "down") {
		t.Fatalf("after kill: listening=%v note %q, want down", st.Listening, st.Note)
	}

	did, err = l.Fault(chattest.Ctx(t), "node-1", "start", 0)
	if err != nil || !strings.Contains(did, "launched") {
		t.Fatalf("start: %q, %v", did, err)
	}
	if n.URL() != url || !answers(url) {
		t.Fatalf("after start: %s answers %v, want the same %s answering", n.URL(), answers(n.URL()), url)
	}
	if pgid2 := n.State().PID; pgid2 == pgid || pgid2 == 0 {
		t.Fatalf("after start: process group %d, want a new one", pgid2)
	}
	if got := len(pidsPrinted(out.String())); got != 2 {
		t.Fatalf("the node printed its pid %d times, want 2 (two launches); output:\n%s", got, out)
	}
	if !strings.Contains(out.String(), "node-1    | pid=") {
		t.Fatalf("output lines are not prefixed with the node's name:\n%s", out)
	}
}

func TestStopIsSIGTERMToTheGroupThenSIGKILLAfterTheGracePeriod(t *testing.T) {
	polite := helperSpec(t)
	polite.StopGrace = 5 * time.Second
	deaf := helperSpec(t, helpernode.IgnoreTerm+"=1")
	deaf.StopGrace = 2 * time.Second // ample for sh and sleep to go, on a busy machine
	l, _ := startCommandLab(t, lab.Config{Nodes: 1, Node: polite, NodeList: []lab.NodeSpec{deaf}})

	pgid := l.Node("node-1").State().PID
	did, err := l.Fault(chattest.Ctx(t), "node-1", "stop", 0)
	if err != nil || !strings.HasPrefix(did, fmt.Sprintf("SIGTERM to process group %d (3 processes); gone in", pgid)) {
		t.Fatalf("stop: got %q, %v; want SIGTERM to the group, gone within the grace period", did, err)
	}
	waitGroupGone(t, pgid)

	pgid = l.Node("node-2").State().PID
	did, err = l.Fault(chattest.Ctx(t), "node-2", "stop", 0)
	want := fmt.Sprintf("SIGTERM to process group %d (3 processes); 1 still running after the 2s grace period: SIGKILL", pgid)
	if err != nil || did != want {
		t.Fatalf("stop of a node that ignores SIGTERM: got %q, %v; want %q", did, err, want)
	}
	waitGroupGone(t, pgid)
}

func TestHangSuspendsTheGroupAndStartResumesIt(t *testing.T) {
	l, _ := startCommandLab(t, lab.Config{Nodes: 1, Node: helperSpec(t)})
	n := l.Node("node-1")
	pgid := n.State().PID
	did, err := l.Fault(chattest.Ctx(t), "node-1", "hang", 0)
	if err != nil || !strings.HasPrefix(did, fmt.Sprintf("SIGSTOP to process group %d (3 processes)", pgid)) {
		t.Fatalf("hang: got %q, %v", did, err)
	}
	hc := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := hc.Get(n.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a hung node answered its health check")
	}
	if !n.State().Hung {
		t.Fatal("state does not say hung")
	}
	did, err = l.Fault(chattest.Ctx(t), "node-1", "start", 0)
	if err != nil || !strings.Contains(did, "SIGCONT") {
		t.Fatalf("start after hang: got %q, %v; want SIGCONT", did, err)
	}
	if !answers(n.URL()) || n.State().PID != pgid {
		t.Fatal("after resume the same process does not answer")
	}
}

func TestACommandBehindNpmStartIsKilledWithItsWholeGroupAndRestartsOnTheSamePort(t *testing.T) {
	nodeBin := os.Getenv("LAB_TEST_NODE")
	if nodeBin == "" {
		t.Skip("LAB_TEST_NODE is not set (the path of node; npm beside it)")
	}
	dir, err := filepath.Abs("testdata/npmapp")
	if err != nil {
		t.Fatal(err)
	}
	l, out := startCommandLab(t, lab.Config{Nodes: 1, Node: lab.NodeSpec{
		Command: "npm start", Dir: dir, Health: "/healthz", ReadyTimeout: time.Minute,
		Env: []string{"PATH=" + filepath.Dir(nodeBin) + string(filepath.ListSeparator) + os.Getenv("PATH"),
			"npm_config_update_notifier=false", "npm_config_cache=" + t.TempDir()},
	}})
	n := l.Node("node-1")
	st := n.State()
	if st.Processes < 3 {
		t.Fatalf("npm start runs %d processes, want at least 3 (sh, npm, node)", st.Processes)
	}
	url, pgid := n.URL(), st.PID
	did, err := l.Fault(chattest.Ctx(t), "node-1", "kill", 0)
	if err != nil || !strings.HasPrefix(did, fmt.Sprintf("SIGKILL to process group %d (%d processes)", pgid, st.Processes)) {
		t.Fatalf("kill: got %q, %v", did, err)
	}
	waitGroupGone(t, pgid)
	if answers(url) {
		t.Fatal("the server still answers after kill")
	}
	if _, err := l.Fault(chattest.Ctx(t), "node-1", "stop", 0); err == nil || !strings.Contains(err.Error(), "node-1 is not running") {
		t.Fatalf("stop of a killed node: got %v, want it not running", err)
	}
	if did, err := l.Fault(chattest.Ctx(t), "node-1", "restart", 0); err != nil || !strings.HasPrefix(did, "launched") {
		t.Fatalf("restart of a killed node: got %q, %v; want it launched", did, err)
	}
	if n.URL() != url || !answers(url) {
		t.Fatalf("after start %s does not answer on the same address %s", n.URL(), url)
	}
	if !strings.Contains(out.String(), "node-1    | pid=") {
		t.Fatalf("no prefixed line from the server in the output:\n%s", out)
	}
	pgid = n.State().PID
	if did, err := l.Fault(chattest.Ctx(t), "node-1", "restart", 0); err != nil || !strings.Contains(did, "SIGTERM to process group") || !strings.Contains(did, "then launched") {
		t.Fatalf("restart: got %q, %v", did, err)
	}
	waitGroupGone(t, pgid)
	if !answers(url) {
		t.Fatal("after restart the server does not answer on the same address")
	}
}

func TestHooksReplaceTheSignalsAndSayWhatTheyRan(t *testing.T) {
	spec := helperSpec(t)
	spec.KillCmd = "echo killing {name}; kill -KILL -{pid}"
	spec.HangCmd = "echo no pause here; exit 2"
	l, out := startCommandLab(t, lab.Config{Nodes: 1, Node: spec})
	pgid := l.Node("node-1").State().PID

	did, err := l.Fault(chattest.Ctx(t), "node-1", "kill", 0)
	want := fmt.Sprintf(`ran kill_cmd "echo killing node-1; kill -KILL -%d" (exit 0)`, pgid)
	if err != nil || did != want {
		t.Fatalf("kill with a kill_cmd: got %q, %v; want %q", did, err, want)
	}
	waitGroupGone(t, pgid)
	if !strings.Contains(out.String(), "node-1    | killing node-1") {
		t.Fatalf("the hook's output is not among the node's lines:\n%s", out)
	}
	if _, err := l.Fault(chattest.Ctx(t), "node-1", "start", 0); err != nil {
		t.Fatal(err)
	}
	_, err = l.Fault(chattest.Ctx(t), "node-1", "hang", 0)
	if err == nil || !strings.Contains(err.Error(), `hang_cmd "echo no pause here; exit 2" failed (exit status 2); its output:`) || !strings.Contains(err.Error(), "| no pause here") {
		t.Fatalf("a failing hang_cmd: got %v, want its exit and output", err)
	}
	if l.Node("node-1").State().Hung {
		t.Fatal("a failed hang_cmd left the node marked hung")
	}
}

func TestAURLNodeTakesTheFaultsItsHooksMakePossible(t *testing.T) {
	dir := t.TempDir()
	l, _ := startCommandLab(t, lab.Config{NodeList: []lab.NodeSpec{{
		URL: "http://127.0.0.1:1", Dir: dir, StopCmd: "echo stopped > {name}.state", ResumeCmd: "true", HangCmd: "true",
	}}})
	n := l.Node("node-1")
	if got := n.State().Faults; strings.Join(got, ",") != "stop,hang,start" {
		t.Fatalf("got faults %v, want stop, hang, start (from its hooks)", got)
	}
	if did, err := l.Fault(chattest.Ctx(t), "node-1", "stop", 0); err != nil || did != `ran stop_cmd "echo stopped > node-1.state" (exit 0)` {
		t.Fatalf("stop: got %q, %v", did, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "node-1.state")); err != nil || string(b) != "stopped\n" {
		t.Fatalf("the stop_cmd did not run in the node's dir: %q, %v", b, err)
	}
	_, err := l.Fault(chattest.Ctx(t), "node-1", "slow", time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "node-1 is a url node: slow is not possible; ") {
		t.Fatalf("slow: got %v, want it refused by name", err)
	}
	if _, err := l.Fault(chattest.Ctx(t), "node-1", "hang", 0); err != nil || !n.State().Hung {
		t.Fatalf("hang by hook: %v, hung %v", err, n.State().Hung)
	}
	if _, err := l.Fault(chattest.Ctx(t), "node-1", "start", 0); err != nil || n.State().Hung {
		t.Fatalf("start after a hang by hook: %v, hung %v; want resumed", err, n.State().Hung)
	}
}
