package node_test

import (
	"testing"

	"github.com/wslab/wslab/internal/browsertest"
	"github.com/wslab/wslab/node"
)

// TestChatPageInBrowser opens the chat page of two nodes in headless
// Chromium: alice on node 1 sees what bob types on node 2, as text.
func TestChatPageInBrowser(t *testing.T) {
	alice, bob, _ := pagesOnTwoNodes(t, "/")
	alice.WaitText("messages", "Welcome to the chatroom!")
	setName(alice, "alice")
	setName(bob, "bob")

	bob.Type("myMessage", "hello from node-2")
	bob.Click("send")
	alice.WaitText("messages", "bob: hello from node-2")

	// Markup typed by a user is shown as text, never run.
	bob.Type("myMessage", `<img src=x onerror="document.title='pwned'">`+"\n")
	alice.WaitText("messages", "bob: <img src=x")
	if n := browsertest.Eval[int](alice, `document.querySelectorAll("#messages img").length`); n != 0 {
		t.Fatalf("user text was inserted as HTML: %d <img> elements in the message list", n)
	}
	if title := browsertest.Eval[string](alice, `document.title`); title == "pwned" {
		t.Fatal("user text ran as script")
	}
	alice.Screenshot("testdata/screenshots", "chat-page-alice")
}

// TestChatPageOverPolling: the page's transport switch. Alice opens the
// page with ?transport=polling on node 1, bob starts on WebSocket on node 2
// and switches to polling from the menu; they chat both ways, and the node
// saw long-polling sessions, not WebSockets.
func TestChatPageOverPolling(t *testing.T) {
	alice, bob, n2 := pagesOnTwoNodes(t, "/?transport=polling")
	if got := browsertest.Eval[string](alice, `document.getElementById("transport").value`); got != "polling" {
		t.Fatalf("alice's transport switch: got %q, want polling", got)
	}
	browsertest.Eval[bool](bob, `(function () { var s = document.getElementById("transport"); s.value = "polling"; s.dispatchEvent(new Event("change")); return true; })()`)
	bob.WaitText("messages", "Switched to HTTP long-polling")
	bob.WaitFor(`document.getElementById("status").textContent === "Connected to node-2"`)

	setName(alice, "alice")
	setName(bob, "bob")
	bob.Type("myMessage", "hello over polling")
	bob.Click("send")
	alice.WaitText("messages", "bob: hello over polling")
	alice.Type("myMessage", "and back")
	alice.Click("send")
	bob.WaitText("messages", "alice: and back")

	// Both pages chatted over long-polling requests.
	for _, p := range []*browsertest.Page{alice, bob} {
		polls := browsertest.Eval[int](p, `performance.getEntriesByType("resource").filter(function (e) { return e.name.indexOf("transport=polling") >= 0; }).length`)
		if polls < 3 {
			t.Fatalf("a page made %d polling requests, want the handshake, posts and polls", polls)
		}
	}
	if n2.Sessions() != 1 {
		t.Fatalf("node-2: got %d sessions in the room, want 1 (bob's WebSocket session left when he switched)", n2.Sessions())
	}
	alice.Screenshot("testdata/screenshots", "chat-page-polling")
}

// pagesOnTwoNodes opens alice's page (at alicePath) on node 1 and bob's on
// node 2, both connected; it returns node 2 too.
func pagesOnTwoNodes(t *testing.T, alicePath string) (alice, bob *browsertest.Page, n2 *node.Node) {
	t.Helper()
	b := browsertest.New(t)
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 = w.startNode(t, node.Config{Name: "node-2"})
	alice = b.Open("alice", n1.URL()+alicePath)
	bob = b.Open("bob", n2.URL()+"/")
	alice.WaitFor(`document.getElementById("status").textContent === "Connected to node-1"`)
	bob.WaitFor(`document.getElementById("status").textContent === "Connected to node-2"`)
	return alice, bob, n2
}

// setName sets a page's username and waits for the node to confirm it.
func setName(p *browsertest.Page, name string) {
	p.Type("username", name)
	p.Click("setUsername")
	p.WaitText("messages", "Your username is set to "+name)
}
