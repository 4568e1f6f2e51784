package node_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/sioclienttest"
	"github.com/wslab/wslab/node"
)

// TestRealSocketIOClient runs the chat with the unmodified socket.io-client
// from npm, 4.8 and 4.0.1, on each transport choice (WebSocket only,
// polling only, and the default: polling, then the upgrade) against two
// nodes. Opt-in: LAB_TEST_NODE names the node binary; .ci/run installs the
// packages.
func TestRealSocketIOClient(t *testing.T) {
	nodeBin := sioclienttest.Node(t)
	for _, pkg := range sioclienttest.Packages {
		for _, tr := range []struct{ choice, ends string }{
			{"websocket", "websocket"}, {"polling", "polling"}, {"default", "websocket"},
		} {
			t.Run(pkg+"/"+tr.choice, func(t *testing.T) {
				t.Parallel()
				chatWithRealClient(t, nodeBin, pkg, tr.choice, tr.ends)
			})
		}
	}
}

// chatWithRealClient plays chat.mjs with one client package and transport
// choice, and checks what each user saw.
func chatWithRealClient(t *testing.T, nodeBin, pkg, transports, endsOn string) {
	t.Helper()
	w := newWorld(t)
	// A short real-time heartbeat so the client's pongs are exercised.
	cfg := node.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 5 * time.Second}
	cfg.Name = "node-1"
	n1 := w.startNode(t, cfg)
	cfg.Name = "node-2"
	n2 := w.startNode(t, cfg)

	out := sioclienttest.Run(t, nodeBin, "chat.mjs", n1.URL(), n2.URL(), transports, pkg)
	chattest.CheckChatMJS(t, out, endsOn)
}

// TestRealSocketIOClientBehindRoundRobinWithoutStickiness puts a round
// robin with no stickiness in front of two nodes: the real client's
// polling requests after the handshake land on the node that does not own
// the session and fail with a Socket.IO server's own answer.
func TestRealSocketIOClientBehindRoundRobinWithoutStickiness(t *testing.T) {
	nodeBin := sioclienttest.Node(t)
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	var next atomic.Int64
	proxies := []*httputil.ReverseProxy{}
	for _, n := range []*node.Node{n1, n2} {
		u, _ := url.Parse(n.URL())
		proxies = append(proxies, httputil.NewSingleHostReverseProxy(u))
	}
	rr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[next.Add(1)%2].ServeHTTP(w, r)
	}))
	t.Cleanup(rr.Close)

	// The sessions the failed clients left open get no poll to take a close
	// packet: stop the nodes without waiting for one.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		n1.Stop(ctx)
		n2.Stop(ctx)
	})
	for _, pkg := range sioclienttest.Packages {
		for _, tr := range []string{"polling", "default"} {
			t.Run(pkg+"/"+tr, func(t *testing.T) {
				// A tap in front of the round robin keeps the 400s' bodies.
				sioclienttest.FailsWithSessionIDUnknown(t, nodeBin, rr.URL, tr, pkg, "none")
			})
		}
	}
}
