package node_test

import (
	"testing"

	"github.com/wslab/wslab/internal/browsertest"
	"github.com/wslab/wslab/node"
)

// TestChatPageInBrowser opens the chat page of two nodes in headless
// Chromium: alice on node 1 sees what bob types on node 2, as text.
func TestChatPageInBrowser(t *testing.T) {
	b := browsertest.New(t)
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})

	alice := b.Open("alice", n1.URL()+"/")
	bob := b.Open("bob", n2.URL()+"/")
	alice.WaitFor(`document.getElementById("status").textContent === "Connected to node-1"`)
	bob.WaitFor(`document.getElementById("status").textContent === "Connected to node-2"`)
	alice.WaitText("messages", "Welcome to the chatroom!")

	alice.Type("username", "alice")
	alice.Click("setUsername")
	alice.WaitText("messages", "Your username is set to alice")
	bob.Type("username", "bob")
	bob.Click("setUsername")
	bob.WaitText("messages", "Your username is set to bob")

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
