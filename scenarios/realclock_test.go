package scenarios_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/internal/helpernode"
	"github.com/wslab/wslab/internal/sioclienttest"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/scenarios"
)

// commandShape is the lab shape of a scenario whose nodes are this test
// binary run as command nodes (see package helpernode): real processes, so the
// lab runs on the real clock.
func commandShape(t *testing.T, nodes int) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("lab:\n  nodes: %d\n  node: {command: %q, health: /healthz, env: [%s=1]}\n", nodes, exe, helpernode.Env)
}

var stampRE = regexp.MustCompile(`^\+(\d+\.\d)s `)

// at is the time a transcript line is stamped with.
func at(t *testing.T, line string) time.Duration {
	t.Helper()
	m := stampRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("line %q is not stamped to the tenth of a second", line)
	}
	s, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(s * float64(time.Second))
}

func TestALabOfCommandNodesRunsTheScenarioOnTheRealClockAndSaysSo(t *testing.T) {
	src := "name: real\n" + commandShape(t, 2) + `steps:
  - connect: {client: alice, reconnect: true}
  - connect: {client: bob}
  - set_username: {client: alice, name: alice}
  - set_username: {client: bob, name: bob}
  - send: {client: alice, text: hi}
  - expect_message: {client: bob, text: "alice: hi", within: 5s}
  - advance: 1500ms
  - kill: node-1
  - expect_closed: {client: alice, code: 1006, within: 5s}
  - expect_reconnected: {client: alice, within: 10s, node: node-2}
  - set_username: {client: alice, name: alice}
  - send: {client: alice, text: back}
  - expect_message: {client: bob, text: "alice: back", within: 5s}
`
	sc, err := scenarios.Parse("real.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	transcript := strings.Join(res.Transcript, "\n")
	if !res.Passed {
		t.Fatalf("failed: %s\ntranscript:\n%s", res.Failure, transcript)
	}
	if !res.Clock.Real || !strings.Contains(res.Clock.Why, "node-1 is a command node") {
		t.Fatalf("got clock %+v, want the real clock because node-1 is a command node", res.Clock)
	}
	if want := "+0.0s real clock: node-1 is a command node"; !strings.HasPrefix(res.Transcript[0], want) {
		t.Fatalf("got first line %q, want it to start %q\n%s", res.Transcript[0], want, transcript)
	}
	if !strings.Contains(res.Summary(), "real clock") {
		t.Errorf("got summary %q, want it to say real clock", res.Summary())
	}
	// advance waits real time: the kill after it is at least 1.5 s later.
	var adv, kill time.Duration
	for _, l := range res.Transcript {
		switch {
		case strings.HasSuffix(l, " advance 1.5s"):
			adv = at(t, l)
		case strings.HasSuffix(l, " kill node-1"):
			kill = at(t, l)
		}
	}
	if kill-adv < 1500*time.Millisecond-100*time.Millisecond {
		t.Fatalf("got the kill %s after the advance of 1.5s, want at least that\n%s", kill-adv, transcript)
	}
	if res.Virtual < kill || res.Wall < kill {
		t.Fatalf("got scenario time %s, wall %s, want both past the kill at %s", res.Virtual, res.Wall, kill)
	}
	for _, l := range res.Transcript {
		at(t, l)
	}
	t.Log(transcript)
	// alice's reconnect waited for socket.io's backoff, in real time.
	if !strings.Contains(transcript, "alice: closes 1006 at +") {
		t.Fatalf("got no 1006 close for alice in the summary\n%s", transcript)
	}
}

// TestTheBuiltinsPassAgainstTheSocketIOExampleOnTheRealClock runs the
// built-in scenarios that a chat app of any make must pass against
// examples/socketio-chat (the tutorial's chat on the npm socket.io server
// and its Redis adapter) as command nodes, unchanged apart from the lab
// shape. It needs LAB_TEST_NODE and npm ci in examples/socketio-chat.
func TestTheBuiltinsPassAgainstTheSocketIOExampleOnTheRealClock(t *testing.T) {
	nodeBin, dir := sioclienttest.Example(t, "socketio-chat")
	npm := sioclienttest.NPM(t, nodeBin)
	all, err := scenarios.Builtins()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*scenarios.Scenario{}
	for _, sc := range all {
		byName[sc.Name] = sc
	}
	for _, name := range []string{"chat-across-nodes", "node-failure", "rolling-deploy"} {
		t.Run(name, func(t *testing.T) {
			sc := byName[name]
			if sc == nil {
				t.Fatalf("no built-in %s", name)
			}
			// The lab shape is all that changes: the same number of nodes,
			// each one the example started by npm. The shutdown grace the
			// lab's nodes take from stop_grace is the app's own setting;
			// a command node's stop_grace is when SIGKILL comes.
			grace := sc.Lab.Node.StopGrace
			sc.Lab.Node = lab.NodeSpec{
				Command: fmt.Sprintf("%q --prefix %q start", npm, dir), Health: "/healthz",
				ReadyTimeout: time.Minute, // npm and the packages load slowly on a busy machine
				Env: []string{"PATH=" + filepath.Dir(nodeBin) + string(os.PathListSeparator) + os.Getenv("PATH"),
					fmt.Sprintf("SHUTDOWN_GRACE_MS=%d", grace.Milliseconds())},
				StopGrace: grace + lab.DefaultStopGrace,
			}
			res := scenarios.Run(context.Background(), sc, scenarios.Options{})
			transcript := strings.Join(res.Transcript, "\n")
			if !res.Passed {
				t.Fatalf("failed: %s\ntranscript:\n%s", res.Failure, transcript)
			}
			if !res.Clock.Real {
				t.Fatalf("got clock %s, want the real clock", res.Clock)
			}
			t.Log(transcript)
		})
	}
}
