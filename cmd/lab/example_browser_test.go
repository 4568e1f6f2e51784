//go:build unix

package main_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/internal/browsertest"
	"github.com/wslab/wslab/internal/sioclienttest"
)

// exampleCmd is the --node-cmd that runs examples/socketio-chat with npm,
// node's directory first on its PATH. It skips the test without
// LAB_TEST_NODE or the example's packages.
func exampleCmd(t *testing.T) string {
	t.Helper()
	nodeBin, dir := sioclienttest.Example(t, "socketio-chat")
	return fmt.Sprintf(`PATH=%q:"$PATH" exec %q --prefix %q start`, filepath.Dir(nodeBin), sioclienttest.NPM(t, nodeBin), dir)
}

// TestTwoTabsChatAcrossYourAppsProcessesAndOneRidesAKill is the issue's
// "your app in the lab" in a real browser: lab up runs the Socket.IO
// example as two command nodes, two Chromium tabs on the balancer land on
// different processes and chat through the lab's Redis, the dashboard
// shows both processes, and lab ctl node node-1 kill kills node-1's
// process group: its tab reconnects to node-2 and chats on.
func TestTwoTabsChatAcrossYourAppsProcessesAndOneRidesAKill(t *testing.T) {
	cmd := exampleCmd(t)
	b := browsertest.New(t)
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	u := startUpWithin(t, 90*time.Second, "--config", cfg, "--nodes", "2", "--node-cmd", cmd, "--node-health", "/healthz", "--node-ready-timeout", "60s")

	dash := b.Open("dashboard", u.admin+"/")
	for _, n := range []string{"node-1", "node-2"} {
		dash.WaitFor(cardSays(n, `node listening · pid \d+ \(\d+ processes\)`))
	}
	dash.WaitFor(`document.querySelectorAll("#cards .card.healthy").length === 2`)

	one := b.Open("tab-1", u.balancer+"/")
	one.WaitText("status", "Connected to node-")
	two := b.Open("tab-2", u.balancer+"/")
	two.WaitText("status", "Connected to node-")
	onNode := func(p *browsertest.Page) string {
		return strings.TrimPrefix(browsertest.Eval[string](p, `document.getElementById("status").textContent`), "Connected to ")
	}
	if onNode(one) == onNode(two) {
		t.Fatalf("both tabs on %s, want one on each process", onNode(one))
	}
	if onNode(one) != "node-1" {
		one, two = two, one
	}
	for _, tab := range []struct {
		p    *browsertest.Page
		name string
	}{{one, "ann"}, {two, "bo"}} {
		tab.p.Type("username", tab.name)
		tab.p.Click("setUsername")
		tab.p.WaitText("messages", "Your username is set to "+tab.name)
	}
	one.Type("myMessage", "hello from node-1")
	one.Click("send")
	two.WaitText("messages", "ann: hello from node-1")
	two.Type("myMessage", "hello from node-2")
	two.Click("send")
	one.WaitText("messages", "bo: hello from node-2")

	st := u.status(t)
	pid, other := st.Nodes[0].PID, st.Nodes[1].PID
	out, code := u.ctl(t, "node", "node-1", "kill")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("node-1 kill: SIGKILL to process group %d", pid)) {
		t.Fatalf("lab ctl node node-1 kill: exit %d %q, want SIGKILL to process group %d", code, out, pid)
	}
	groupGone(t, pid)
	one.WaitText("status", "Connected to node-2")
	one.WaitText("messages", "Reconnected: this is a new session")
	dash.WaitFor(cardSays("node-1", `node down`))
	one.Type("username", "ann")
	one.Click("setUsername")
	one.WaitText("messages", "Your username is set to ann")
	one.Type("myMessage", "back, on node-2")
	one.Click("send")
	two.WaitText("messages", "ann: back, on node-2")
	// Ctrl-C ends the lab and nothing of it stays behind; the pages see
	// their server go, which is no error of theirs.
	for _, p := range []*browsertest.Page{dash, one, two} {
		p.IgnoreConsoleErrors()
	}
	u.stop()
	groupGone(t, other)
}

// cardSays is a condition on the dashboard: the node's card is drawn and
// its line of figures matches re.
func cardSays(node, re string) string {
	return fmt.Sprintf(`(function () { var m = document.querySelector("#card-%s .meta"); return !!m && /%s/.test(m.textContent); })()`, node, re)
}
