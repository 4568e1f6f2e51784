package main_test

import (
	"os/exec"
	"testing"

	"github.com/wslab/wslab/internal/browsertest"
)

// TestTwoTabsThroughLabUp: the README's tour in a real browser. Two tabs on
// the balancer land on different nodes and chat.
func TestTwoTabsThroughLabUp(t *testing.T) {
	b := browsertest.New(t)
	u := startUp(t)
	one := twoTabsChat(t, b, u)
	one.Screenshot("testdata/screenshots", "lab-up-tab-1")
	u.stop()
}

// TestTwoTabsThroughNginx: the same with nginx at the front door (lab up
// --balancer nginx). least_conn: round robin counts every request a tab
// makes (page, script, handshake), so two tabs may both land on node-1;
// the second tab's WebSocket goes to the node without the first's.
func TestTwoTabsThroughNginx(t *testing.T) {
	b := browsertest.New(t)
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx is not installed (.ci/run installs it)")
	}
	u := startUp(t, "--balancer", "nginx", "--policy", "least_conn")
	twoTabsChat(t, b, u)
	u.stop()
}

// twoTabsChat opens two tabs on u's front door, checks that they land on
// different nodes and chat, and returns the first.
func twoTabsChat(t *testing.T, b *browsertest.Browser, u *upLab) *browsertest.Page {
	t.Helper()
	one := b.Open("tab-1", u.balancer+"/")
	one.WaitFor(`document.getElementById("status").textContent.startsWith("Connected to node-")`)
	two := b.Open("tab-2", u.balancer+"/")
	two.WaitFor(`document.getElementById("status").textContent.startsWith("Connected to node-")`)
	n1 := browsertest.Eval[string](one, `document.getElementById("status").textContent`)
	n2 := browsertest.Eval[string](two, `document.getElementById("status").textContent`)
	if n1 == n2 {
		t.Fatalf("both tabs: %q, want two different nodes", n1)
	}
	one.Type("username", "ann")
	one.Click("setUsername")
	one.WaitText("messages", "Your username is set to ann")
	two.Type("username", "bo")
	two.Click("setUsername")
	two.WaitText("messages", "Your username is set to bo")
	two.Type("myMessage", "hello across nodes\n")
	one.WaitText("messages", "bo: hello across nodes")
	return one
}
