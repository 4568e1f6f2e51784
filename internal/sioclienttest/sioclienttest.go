// Package sioclienttest runs what the opt-in tests run under node: the real
// socket.io-client from npm, 4.8 and 4.0.1, and the scripts that drive it
// (node/testdata/sioclient), in node or in a browser page; and the example
// apps (examples/<name>) with npm. The tests are switched on by
// LAB_TEST_NODE, the node binary (npm beside it), after npm ci in the
// directories they use; .ci/run does both.
//
// Paths are found from the repository's root, so a test of any package
// uses them as they are.
package sioclienttest

import (
	"bufio"
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
	"strings"
	"testing"
	"time"
)

// Packages are the two socket.io-client versions node/testdata/sioclient
// installs under their own names: 4.8 and 4.0.1.
var Packages = []string{"socket.io-client", "socket.io-client-401"}

// Dir is node/testdata/sioclient, absolute.
func Dir(t testing.TB) string {
	t.Helper()
	return filepath.Join(root(t), "node", "testdata", "sioclient")
}

// Node is the node binary for the socket.io-client tests: it skips the
// test without LAB_TEST_NODE and fails it if the packages are not
// installed.
func Node(t testing.TB) string {
	t.Helper()
	nodeBin := os.Getenv("LAB_TEST_NODE")
	if nodeBin == "" {
		t.Skip("set LAB_TEST_NODE=$(command -v node) after npm ci in node/testdata/sioclient")
	}
	for _, pkg := range Packages {
		if _, err := os.Stat(filepath.Join(Dir(t), "node_modules", pkg)); err != nil {
			t.Fatalf("%s is not installed: run npm ci in node/testdata/sioclient (.ci/run does)", pkg)
		}
	}
	return nodeBin
}

// Command is `nodeBin args...` in node/testdata/sioclient, bound by ctx,
// for a test that talks to the script while it runs.
func Command(ctx context.Context, t testing.TB, nodeBin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Dir = Dir(t)
	return cmd
}

// Run runs a script of node/testdata/sioclient to its end and returns its
// output; the test fails, with what it printed, if the script does.
func Run(t testing.TB, nodeBin string, args ...string) []byte {
	t.Helper()
	// A bound, not a wait: a run takes a few seconds, more on a busy
	// machine (node starting up is most of it).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := Command(ctx, t, nodeBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("socket.io-client run %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, out, stderr.String())
	}
	return out
}

// RefusalTap is a pass-through proxy in front of target that keeps the
// body of every 400 the client is sent (up to 100 of them): the client
// does not always show it. It is closed when the test ends.
func RefusalTap(t testing.TB, target string) (string, chan string) {
	t.Helper()
	u, err := url.Parse(target)
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

// FailsWithSessionIDUnknown connects once with unknown.mjs through a tap
// in front of target and checks that the client failed as it fails
// against a Socket.IO server that does not know its session: an xhr
// poll or post error, status 400, and every refusal Socket.IO's own
// "Session ID unknown". cookies is as for chat.mjs (options.mjs).
func FailsWithSessionIDUnknown(t testing.TB, nodeBin, target, transports, pkg, cookies string) {
	t.Helper()
	tap, refusals := RefusalTap(t, target)
	out := Run(t, nodeBin, "unknown.mjs", tap, transports, pkg, cookies)
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
	// The client does not always keep the body: the tap's view says what
	// the refusals were.
	for len(refusals) > 0 {
		if b := <-refusals; b != `{"code":1,"message":"Session ID unknown"}` {
			t.Fatalf("a refusal the client got: %s, want only Socket.IO's Session ID unknown", b)
		}
	}
}

// Pages serves the pages that run the real socket.io-client in a browser,
// from an origin of their own: /?node=URL&transports=…&name=…&pkg=… loads
// the package's bundle and node/testdata/sioclient/page-app.js. When
// LAB_TEST_CHROMIUM is set (the browser tests run) it fails the test if
// the packages are not installed. It is closed when the test ends.
func Pages(t testing.TB) *httptest.Server {
	t.Helper()
	dir := Dir(t)
	for _, pkg := range Packages {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil && os.Getenv("LAB_TEST_CHROMIUM") != "" {
			t.Fatalf("%s is not installed: run npm ci in node/testdata/sioclient (.ci/run does)", pkg)
		}
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch pkg, ok := strings.CutPrefix(r.URL.Path, "/bundle/"); {
		case ok && (pkg == Packages[0] || pkg == Packages[1]):
			http.ServeFile(w, r, filepath.Join(dir, "node_modules", pkg, "dist/socket.io.min.js"))
		case r.URL.Path == "/app.js":
			http.ServeFile(w, r, filepath.Join(dir, "page-app.js"))
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<!doctype html><div id="log"></div><script src="/bundle/` + url.PathEscape(r.URL.Query().Get("pkg")) + `"></script><script src="/app.js"></script>`))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// Example is the node binary and the absolute directory of
// examples/<name>: it skips the test without LAB_TEST_NODE and fails it
// if the example's packages are not installed.
func Example(t testing.TB, name string) (nodeBin, dir string) {
	t.Helper()
	nodeBin = os.Getenv("LAB_TEST_NODE")
	if nodeBin == "" {
		t.Skip("set LAB_TEST_NODE=$(command -v node) after npm ci in examples/" + name)
	}
	dir = filepath.Join(root(t), "examples", name)
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("the example's packages are not installed: run npm ci in examples/%s (.ci/run does)", name)
	}
	return nodeBin, dir
}

// NPM is the npm beside nodeBin, or the one on PATH.
func NPM(t testing.TB, nodeBin string) string {
	t.Helper()
	npm := filepath.Join(filepath.Dir(nodeBin), "npm")
	if _, err := os.Stat(npm); err == nil {
		return npm
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is not beside LAB_TEST_NODE nor on PATH: %v", err)
	}
	return npm
}

// module is the repository's module path, as its go.mod names it.
const module = "github.com/wslab/wslab"

// root is the repository's root: the nearest directory above the test's
// working directory (its package's) whose go.mod is this module's. The
// examples' own modules (examples/go-handler) are passed over.
func root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			first := bufio.NewScanner(f)
			first.Scan()
			f.Close()
			if strings.TrimSpace(first.Text()) == "module "+module {
				return dir
			}
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatalf("no go.mod of %s above the test's directory", module)
		}
		dir = up
	}
}
