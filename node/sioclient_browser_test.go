package node_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/wslab/wslab/internal/browsertest"
	"github.com/wslab/wslab/internal/sioclienttest"
	"github.com/wslab/wslab/node"
)

// TestRealSocketIOClientInBrowserFromAnotherOrigin serves a page from an
// origin of its own that runs the real socket.io-client in headless
// Chromium with withCredentials: the nodes' CORS answers let it poll (and
// upgrade) when its origin is allowed, and the browser refuses to let it
// read anything when it is not.
func TestRealSocketIOClientInBrowserFromAnotherOrigin(t *testing.T) {
	b := browsertest.New(t)
	pages := sioclienttest.Pages(t)
	pageHost := strings.TrimPrefix(pages.URL, "http://")

	w := newWorld(t)
	allowed := node.Config{AllowedOrigins: []string{pageHost}}
	allowed.Name = "node-1"
	n1 := w.startNode(t, allowed)
	allowed.Name = "node-2"
	n2 := w.startNode(t, allowed)
	strict := w.startNode(t, node.Config{Name: "node-3"})

	open := func(name string, n *node.Node, transports, pkg string) *browsertest.Page {
		q := url.Values{"node": {n.URL()}, "transports": {transports}, "name": {name}, "pkg": {pkg}}
		return b.Open(name, pages.URL+"/?"+q.Encode())
	}
	alice := open("alice", n1, "polling", "socket.io-client")
	bob := open("bob", n2, "default", "socket.io-client-401")
	alice.WaitText("log", "Your username is set to alice")
	bob.WaitText("log", "Your username is set to bob")
	browsertest.Eval[bool](alice, `(say("hello from another origin"), true)`)
	bob.WaitText("log", "alice: hello from another origin")
	alice.WaitText("log", "alice: hello from another origin")
	bob.WaitFor(`transport() === "websocket"`) // upgraded
	if got := browsertest.Eval[string](alice, `transport()`); got != "polling" {
		t.Fatalf("alice's transport: got %q, want polling", got)
	}

	mallory := open("mallory", strict, "polling", "socket.io-client")
	mallory.IgnoreConsoleErrors() // the browser reports the refusal
	mallory.WaitText("log", "connect_error")
	if strict.Sessions() != 0 {
		t.Fatalf("node-3 let a page of a foreign origin into the room: %d sessions", strict.Sessions())
	}
}
