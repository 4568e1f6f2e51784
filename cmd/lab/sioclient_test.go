package main_test

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
	"path/filepath"
	"testing"
	"time"

	"github.com/wslab/wslab/internal/chattest"
)

// sioClientDir holds the real socket.io-client from npm, 4.8 and 4.0.1,
// and the scripts that drive it (node/sioclient_test.go uses them too).
var sioClientDir = filepath.Join("..", "..", "node", "testdata", "sioclient")

// sioClientNode is the node binary for the socket.io-client tests, which
// are skipped without it.
func sioClientNode(t *testing.T) string {
	t.Helper()
	nodeBin := os.Getenv("LAB_TEST_NODE")
	if nodeBin == "" {
		t.Skip("set LAB_TEST_NODE=$(command -v node) after npm ci in node/testdata/sioclient")
	}
	for _, pkg := range []string{"socket.io-client", "socket.io-client-401"} {
		if _, err := os.Stat(filepath.Join(sioClientDir, "node_modules", pkg)); err != nil {
			t.Fatalf("%s is not installed: run npm ci in node/testdata/sioclient (.ci/run does)", pkg)
		}
	}
	return nodeBin
}

// sioScript runs a script of node/testdata/sioclient and returns its
// output.
func sioScript(t *testing.T, nodeBin string, args ...string) []byte {
	t.Helper()
	// A bound, not a wait: a run takes a few seconds, more on a busy
	// machine (node starting up is most of it).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = sioClientDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("socket.io-client run %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, stderr.String())
	}
	return out
}

// refusalTap is a pass-through proxy in front of the balancer that keeps
// the body of every 400 the client is sent: socket.io-client does not
// always show it.
func refusalTap(t *testing.T, balancer string) (string, chan string) {
	t.Helper()
	u, err := url.Parse(balancer)
	if err != nil {
		t.Fatal(err)
	}
	refusals := make(chan string, 100)
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
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return s.URL, refusals
}

// failsWithSessionIDUnknown connects once with unknown.mjs through a tap
// in front of the balancer and checks that the client failed as it fails
// against a Socket.IO server that does not know its session.
func failsWithSessionIDUnknown(t *testing.T, nodeBin, balancer, transports, pkg, cookies string) {
	t.Helper()
	tap, refusals := refusalTap(t, balancer)
	out := sioScript(t, nodeBin, "unknown.mjs", tap, transports, pkg, cookies)
	var got struct {
		Connected bool
		Message   string
		Status    int
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("bad output %q: %v", out, err)
	}
	if got.Connected || got.Message != "xhr poll error" && got.Message != "xhr post error" || got.Status != 400 {
		t.Fatalf("got %s, want a failed connect: xhr poll/post error, status 400", out)
	}
	if len(refusals) == 0 {
		t.Fatal("the client failed with no 400 from a node")
	}
	for len(refusals) > 0 {
		if b := <-refusals; b != `{"code":1,"message":"Session ID unknown"}` {
			t.Fatalf("a refusal the client got: %s, want only Socket.IO's Session ID unknown", b)
		}
	}
}

// TestRealSocketIOClientChatsThroughLabUpWithLBCookie: the real
// socket.io-client, 4.8 and 4.0.1, polling only and with its default
// transports (polling, then the upgrade), plays the chat through lab up
// --stickiness lb_cookie with one user on each node — as long as it keeps
// the balancer's cookie. In Node it keeps none by default: 4.8 keeps a
// cookie jar only with withCredentials, 4.0.1 none at all, so an
// application hands it the cookie in extraHeaders ("fetched"). A client
// that keeps no cookie fails as it does without stickiness.
func TestRealSocketIOClientChatsThroughLabUpWithLBCookie(t *testing.T) {
	nodeBin := sioClientNode(t)
	u := startUp(t, "--stickiness", "lb_cookie", "--ping-interval", "100ms")
	transports := []struct{ choice, ends string }{{"polling", "polling"}, {"default", "websocket"}}
	// One at a time: each user's first request is a new client to the round
	// robin, so A lands on node-1 and B on node-2, as the chat table says.
	for _, c := range []struct{ pkg, cookies string }{
		{"socket.io-client", "withCredentials"},
		{"socket.io-client", "fetched"},
		{"socket.io-client-401", "fetched"},
	} {
		for _, tr := range transports {
			t.Run(c.pkg+"/"+tr.choice+"/"+c.cookies, func(t *testing.T) {
				out := sioScript(t, nodeBin, "chat.mjs", u.balancer, u.balancer, tr.choice, c.pkg, c.cookies)
				chattest.CheckChatMJS(t, out, tr.ends)
			})
		}
	}
	st := u.status(t).Balancer.Stickiness
	if st.Type != "lb_cookie" || st.Hits == 0 || st.Repicks != 0 {
		t.Fatalf("status: got %+v, want lb_cookie with hits and no re-picks", st)
	}
	t.Run("clients that keep no cookie", func(t *testing.T) {
		for _, c := range []struct{ pkg, cookies string }{
			{"socket.io-client", "none"},
			{"socket.io-client-401", "none"},
			{"socket.io-client-401", "withCredentials"},
		} {
			for _, tr := range transports {
				t.Run(c.pkg+"/"+tr.choice+"/"+c.cookies, func(t *testing.T) {
					t.Parallel() // each fails on its own: no order to keep
					failsWithSessionIDUnknown(t, nodeBin, u.balancer, tr.choice, c.pkg, c.cookies)
				})
			}
		}
	})
	u.stop()
}

// TestRealSocketIOClientFailsThroughLabUpWithoutStickiness: through round
// robin and no stickiness, the real socket.io-client's polling fails with
// the error a Socket.IO server gives, even when it keeps cookies.
func TestRealSocketIOClientFailsThroughLabUpWithoutStickiness(t *testing.T) {
	nodeBin := sioClientNode(t)
	u := startUp(t)
	t.Cleanup(u.stop) // after the parallel subtests
	for _, c := range []struct{ pkg, cookies string }{
		{"socket.io-client", "withCredentials"},
		{"socket.io-client-401", "fetched"},
	} {
		for _, tr := range []string{"polling", "default"} {
			t.Run(c.pkg+"/"+tr+"/"+c.cookies, func(t *testing.T) {
				t.Parallel()
				failsWithSessionIDUnknown(t, nodeBin, u.balancer, tr, c.pkg, c.cookies)
			})
		}
	}
}
