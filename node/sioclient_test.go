package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/node"
)

// TestRealSocketIOClient runs the chat with the unmodified socket.io-client
// from npm, 4.8 and 4.0.1, on each transport choice (WebSocket only,
// polling only, and the default: polling, then the upgrade) against two
// nodes. Opt-in: LAB_TEST_NODE names the node binary; .ci/run installs the
// packages.
func TestRealSocketIOClient(t *testing.T) {
	nodeBin := sioClientNode(t)
	for _, pkg := range []string{"socket.io-client", "socket.io-client-401"} {
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

// sioClientNode is the node binary for the socket.io-client tests, which
// are skipped without it.
func sioClientNode(t *testing.T) string {
	t.Helper()
	nodeBin := os.Getenv("LAB_TEST_NODE")
	if nodeBin == "" {
		t.Skip("set LAB_TEST_NODE=$(command -v node) after npm ci in node/testdata/sioclient")
	}
	for _, pkg := range []string{"socket.io-client", "socket.io-client-401"} {
		if _, err := os.Stat("testdata/sioclient/node_modules/" + pkg); err != nil {
			t.Fatalf("%s is not installed: run npm ci in node/testdata/sioclient (.ci/run does)", pkg)
		}
	}
	return nodeBin
}

// runScript runs a script of testdata/sioclient and returns its output.
func runScript(t *testing.T, nodeBin string, args ...string) []byte {
	t.Helper()
	// A bound, not a wait: a run takes a few seconds, more on a busy
	// machine (node starting up is most of it).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = "testdata/sioclient"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("socket.io-client run %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, stderr.String())
	}
	return out
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

	out := runScript(t, nodeBin, "chat.mjs", n1.URL(), n2.URL(), transports, pkg)
	chattest.CheckChatMJS(t, out, endsOn)
}

// TestRealSocketIOClientBehindRoundRobinWithoutStickiness puts a round
// robin with no stickiness in front of two nodes: the real client's
// polling requests after the handshake land on the node that does not own
// the session and fail with a Socket.IO server's own answer.
func TestRealSocketIOClientBehindRoundRobinWithoutStickiness(t *testing.T) {
	nodeBin := sioClientNode(t)
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	var next atomic.Int64
	// refusals records the body of every 400 the client was sent.
	refusals := make(chan string, 100)
	proxies := []*httputil.ReverseProxy{}
	for _, n := range []*node.Node{n1, n2} {
		u, _ := url.Parse(n.URL())
		p := httputil.NewSingleHostReverseProxy(u)
		p.ModifyResponse = func(resp *http.Response) error {
			if resp.StatusCode == http.StatusBadRequest {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Body = io.NopCloser(bytes.NewReader(b))
				select {
				case refusals <- string(b):
				default:
				}
			}
			return nil
		}
		proxies = append(proxies, p)
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
	for _, pkg := range []string{"socket.io-client", "socket.io-client-401"} {
		for _, tr := range []string{"polling", "default"} {
			t.Run(pkg+"/"+tr, func(t *testing.T) {
				out := runScript(t, nodeBin, "unknown.mjs", rr.URL, tr, pkg)
				var got struct {
					Connected bool
					Message   string
					Status    int
					Body      *string
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("bad output %q: %v", out, err)
				}
				t.Logf("socket.io-client %s, transports %s: %s", pkg, tr, out)
				if len(refusals) == 0 {
					t.Fatal("the client failed with no 400 from a node")
				}
				if got.Connected || got.Message != "xhr poll error" && got.Message != "xhr post error" || got.Status != 400 {
					t.Fatalf("got %+v, want a failed connect: xhr poll/post error, status 400", got)
				}

				// The client does not always keep the body: the balancer's
				// view says what the refusals were.
				for len(refusals) > 0 {
					if b := <-refusals; b != `{"code":1,"message":"Session ID unknown"}` {
						t.Fatalf("a refusal the client got: %s, want only Socket.IO's Session ID unknown", b)
					}
				}
			})
		}
	}
}
