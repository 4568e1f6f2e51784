package main_test

import (
	"regexp"
	"strings"
	"testing"
)

func TestUpWithLinksAndCtlSetsTheirFaults(t *testing.T) {
	u := startUp(t, "--links=127.0.0.1:0")
	m := regexp.MustCompile(`(?m)^  links\s+(http://\S+)\s+clients connect here.*node links: node-1, node-2`).FindStringSubmatch(u.output())
	if m == nil {
		t.Fatalf("no links line in the summary:\n%s", u.output())
	}
	c := dial(t, m[1]) // a chat user through the client link
	expect(t, c, "Welcome to the chatroom!")

	out, code := u.ctl(t, "link", "node-1", "latency", "200ms", "--jitter", "20ms")
	if code != 0 || !strings.Contains(out, "up latency 200ms±20ms, down latency 200ms±20ms") {
		t.Fatalf("lab ctl link node-1 latency: %d\n%s", code, out)
	}
	u.waitLine(`link node-1 set: up latency 200ms±20ms, down latency 200ms±20ms`)
	out, code = u.ctl(t, "link")
	if code != 0 || !regexp.MustCompile(`(?m)^client\s+127\.0\.0\.1:\d+\s+\S+\s+1\s+1\s`).MatchString(out) {
		t.Fatalf("lab ctl link: %d, want the client link with 1 open connection\n%s", code, out)
	}
	out, code = u.ctl(t, "link", "client", "nat-drop")
	if code != 0 || !strings.Contains(out, "client: 1 open connections lost their NAT mapping") {
		t.Fatalf("lab ctl link client nat-drop: %d\n%s", code, out)
	}
	out, code = u.ctl(t, "link", "node-1", "nat-drop")
	if code != 2 || !strings.Contains(out, "client side") {
		t.Fatalf("nat-drop on node-1: %d %q, want exit 2 naming the client side", code, out)
	}
	out, code = u.ctl(t, "link", "node-9", "clear")
	if code != 2 || !strings.Contains(out, "links are: client, node-1, node-2") {
		t.Fatalf("an unknown link: %d %q, want exit 2 naming the links", code, out)
	}
	if out, code := u.ctl(t, "link", "node-1", "clear"); code != 0 || !strings.Contains(out, "none") {
		t.Fatalf("clear: %d\n%s", code, out)
	}
	u.stop()
}
