package lab_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node"
)

func TestLinksPutAFaultLinkOnEveryHop(t *testing.T) {
	l, err := lab.Start(chattest.Ctx(t), lab.Config{Clock: quartz.NewMock(t), NodeMode: node.ModeEcho, Links: lab.LinksConfig{On: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if got := strings.Join(l.LinkNames(), " "); got != "client node-1 node-2" {
		t.Fatalf("links %q, want client node-1 node-2", got)
	}
	for _, s := range l.Balancer.Config().ServerGroup.Servers {
		if want := "http://" + l.Link(s.Name).Addr(); s.URL != want {
			t.Fatalf("the balancer reaches %s at %s, want its link %s", s.Name, s.URL, want)
		}
	}
	if l.ClientURL() == l.Balancer.URL() {
		t.Fatalf("ClientURL is the balancer's own %s, want the client link", l.ClientURL())
	}

	c, resp, err := websocket.Dial(chattest.Ctx(t), strings.Replace(l.ClientURL(), "http", "ws", 1)+"/echo", nil)
	if err != nil {
		t.Fatalf("dial through the client link: %v", err)
	}
	defer c.CloseNow()
	through := resp.Header.Get("X-Lab-Node")
	if n := l.Link(through).Stats().Connections; n == 0 {
		t.Fatalf("the connection reached %s but not through its link", through)
	}
	l.Link(lab.ClientLink).Reset()
	if _, _, err := c.Read(chattest.Ctx(t)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the client link's reset: got %v, want connection reset", err)
	}

	n, err := l.AddNode(chattest.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	servers := l.Balancer.Config().ServerGroup.Servers
	if k := l.Link(n.Name()); k == nil || servers[len(servers)-1].URL != "http://"+k.Addr() {
		t.Fatalf("the added %s is reached at %s, want through a link of its own", n.Name(), servers[len(servers)-1].URL)
	}
	if _, err := l.FindLink("node-9"); err == nil || !strings.Contains(err.Error(), "links are: client, node-1, node-2, node-3") {
		t.Fatalf("got %v, want an error naming the links", err)
	}
}

func TestOnTheMockClockALinksLatencyElapsesWhenTheClockIsAdvanced(t *testing.T) {
	clk := quartz.NewMock(t)
	trap := clk.Trap().NewTimer("faultlink", "deliver")
	defer trap.Close()
	l, err := lab.Start(chattest.Ctx(t), lab.Config{Clock: clk, NodeMode: node.ModeEcho, Links: lab.LinksConfig{On: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	// A clean link never waits on the clock: the upgrade passes without
	// advancing it.
	c, _, err := websocket.Dial(chattest.Ctx(t), strings.Replace(l.ClientURL(), "http", "ws", 1)+"/echo", nil)
	if err != nil {
		t.Fatalf("dial through the client link: %v", err)
	}
	defer c.CloseNow()
	if err := l.Link(lab.ClientLink).Set(faultlink.Faults{Down: faultlink.Direction{Latency: faultlink.Duration(200 * time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(chattest.Ctx(t), websocket.MessageText, []byte("x")); err != nil {
		t.Fatal(err)
	}
	call := trap.MustWait(chattest.Ctx(t)) // the echo waits in the client link
	call.MustRelease(chattest.Ctx(t))
	if call.Duration != 200*time.Millisecond {
		t.Fatalf("the echo waits %s, want 200ms", call.Duration)
	}
	clocktest.Advance(t, clk, 200*time.Millisecond)
	if _, p, err := c.Read(chattest.Ctx(t)); err != nil || string(p) != "x" {
		t.Fatalf("after 200ms on the clock: got %q, %v; want the echo", p, err)
	}
}
