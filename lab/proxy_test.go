package lab_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
	"github.com/wslab/wslab/proxies"
)

// needProxy skips the test when kind is not installed here; CI installs
// all three (.ci/run).
func needProxy(t *testing.T, kind proxies.Kind) {
	t.Helper()
	if _, err := proxies.Binary(kind); err != nil {
		t.Skipf("%v (.ci/run installs it)", err)
	}
}

// startProxyLab starts two chat nodes behind kind, on a free port.
func startProxyLab(t *testing.T, kind proxies.Kind, doc config.Config) *lab.Lab {
	t.Helper()
	needProxy(t, kind)
	doc.Listener.Addr = "127.0.0.1:0"
	l, err := lab.Start(chattest.Ctx(t), lab.Config{BalancerKind: string(kind), Balancer: doc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// join connects a chat user over plain WebSocket through the front door
// and sets their name.
func join(t *testing.T, url, name string) *client.Client {
	t.Helper()
	c := chattest.Dial(t, url, client.JSON)
	chattest.Expect(t, c, node.TextWelcome)
	if err := c.Emit(chattest.Ctx(t), "set_username", name); err != nil {
		t.Fatal(err)
	}
	chattest.Expect(t, c, "Your username is set to "+name)
	return c
}

// cutAfter measures how long a silent client stays connected.
func cutAfter(t *testing.T, url string) time.Duration {
	t.Helper()
	c := chattest.Dial(t, url, client.JSON)
	began := time.Now()
	chattest.Expect(t, c, node.TextWelcome)
	select {
	case <-c.Done():
		return time.Since(began)
	case <-chattest.Ctx(t).Done():
		t.Fatalf("a silent client was still connected after %s", chattest.WaitFor)
		return 0
	}
}

func TestEachProxyIsTheLabsFrontDoor(t *testing.T) {
	for _, kind := range proxies.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			idle := 2 * time.Second
			l := startProxyLab(t, kind, config.Config{Listener: config.Listener{IdleTimeout: config.Duration(idle)}})
			url := l.ClientURL()
			t.Run("serves the chat page", func(t *testing.T) {
				resp, err := http.Get(url + "/")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
					t.Fatalf("GET / through %s: got %s %.80q, want 200 and the chat page", kind, resp.Status, body)
				}
			})
			t.Run("two users chat across nodes", func(t *testing.T) {
				alice := join(t, url, "alice")
				bob := join(t, url, "bob")
				for bob.Node() == alice.Node() { // round robin: the next one lands elsewhere
					bob = join(t, url, "bob")
				}
				if err := alice.Emit(chattest.Ctx(t), "message", "hi bob"); err != nil {
					t.Fatal(err)
				}
				chattest.Expect(t, bob, "alice: hi bob")
				alice.CloseNow()
				bob.CloseNow()
			})
			t.Run("an idle connection is cut at the idle timeout", func(t *testing.T) {
				if got := cutAfter(t, url); got < idle-100*time.Millisecond || got > idle+time.Second {
					t.Fatalf("got cut after %s, want %s (within 1 s)", got.Round(time.Millisecond), idle)
				}
			})
			t.Run("a hot reload of the idle timeout is applied", func(t *testing.T) {
				open := chattest.Dial(t, url, client.JSON)
				opened := time.Now()
				chattest.Expect(t, open, node.TextWelcome)
				closedAt := make(chan time.Duration, 1)
				go func() {
					<-open.Done() // ends with the test at the latest (its cleanup closes open)
					closedAt <- time.Since(opened)
				}()
				longer := 3 * time.Second
				if _, err := l.Proxy.Reload(chattest.Ctx(t), config.Config{Listener: config.Listener{IdleTimeout: config.Duration(longer)}}); err != nil {
					t.Fatal(err)
				}
				reloaded := time.Since(opened)
				if got := cutAfter(t, url); got < longer-100*time.Millisecond || got > longer+time.Second {
					t.Fatalf("after the reload: got cut after %s, want %s (within 1 s)", got.Round(time.Millisecond), longer)
				}
				closed := <-closedAt
				if kind == proxies.Caddy { // Caddy 2.6 closes every WebSocket on a reload (the lab warns so)
					if closed > reloaded+500*time.Millisecond {
						t.Fatalf("the connection open across Caddy's reload closed %s after it opened, want at the reload (%s)", closed.Round(time.Millisecond), reloaded.Round(time.Millisecond))
					}
				} else if closed < idle-100*time.Millisecond || closed > idle+time.Second {
					t.Fatalf("the connection open across the reload closed %s after it opened, want at its own %s timeout (the old workers keep it)", closed.Round(time.Millisecond), idle)
				}
			})
			t.Run("killing a node fails over", func(t *testing.T) {
				if _, err := l.Fault(chattest.Ctx(t), "node-1", "kill", 0); err != nil {
					t.Fatal(err)
				}
				for i := range 4 {
					if c := join(t, url, fmt.Sprint("user", i)); c.Node() != "node-2" {
						t.Fatalf("connection %d went to %q, want node-2 (node-1 is dead)", i, c.Node())
					}
				}
			})
			t.Run("the proxy stops with the lab and leaves nothing", func(t *testing.T) {
				pid, dir := l.Proxy.PID(), l.Proxy.Dir()
				if pid == 0 {
					t.Fatal("the proxy is not running before the close")
				}
				l.Close()
				if left, ok := lab.AwaitGroupGone(chattest.Ctx(t), pid); !ok {
					t.Fatalf("processes %v of the proxy's group are left", left)
				}
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("its folder %s: got %v, want it gone", dir, err)
				}
			})
		})
	}
}

func TestAProxyThatIsNotInstalledIsOneLineNamingItAndTheFix(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := lab.Start(chattest.Ctx(t), lab.Config{BalancerKind: "haproxy", Balancer: config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}}})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "haproxy is not installed") || !strings.Contains(err.Error(), "apt-get install haproxy") {
		t.Fatalf("got %v, want one line saying haproxy is not installed and how to install it", err)
	}
	t.Log(err)
}

func TestAConfigTheProxyRejectsStopsTheStartWithItsOwnError(t *testing.T) {
	needProxy(t, proxies.Nginx)
	own := t.TempDir() + "/nginx.conf"
	if err := os.WriteFile(own, []byte("events {}\nhttp { server { listen {listen}; bogus_directive on; } }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := lab.Start(chattest.Ctx(t), lab.Config{BalancerKind: "nginx", BalancerConfigFile: own, Balancer: config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}}})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "nginx rejects your --balancer-config "+own) || !strings.Contains(err.Error(), `unknown directive "bogus_directive"`) {
		t.Fatalf("got %v, want one line: nginx rejects ..., with nginx's own error", err)
	}
	t.Log(err)
}

func TestAProxyThatFailsToStartIsOneLineWithItsOwnErrorAndLeavesNothingRunning(t *testing.T) {
	needProxy(t, proxies.HAProxy)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	// haproxy -c accepts it; binding the second listener fails at start.
	own := t.TempDir() + "/haproxy.cfg"
	text := "global\n    master-worker\ndefaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 5s\n" +
		"frontend f\n    bind {listen}\n    bind " + taken.Addr().String() + "\n    default_backend b\nbackend b\n    {servers}\n"
	if err := os.WriteFile(own, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = lab.Start(chattest.Ctx(t), lab.Config{BalancerKind: "haproxy", BalancerConfigFile: own, Balancer: config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}}})
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "haproxy did not start") || !strings.Contains(err.Error(), "cannot bind socket") {
		t.Fatalf("got %v, want one line: haproxy did not start, with haproxy's own error", err)
	}
	t.Log(err)
	if out, _ := exec.Command("pgrep", "-f", own).Output(); len(out) > 0 {
		t.Fatalf("processes running %s are left: %s", own, out)
	}
}

func TestAddingAndRemovingANodeKeepsTheSettingsTheProxyRunsWith(t *testing.T) {
	var doc config.Config
	doc.Listener.IdleTimeout = config.Duration(2 * time.Second)
	delay := config.Duration(3 * time.Second)
	doc.ServerGroup.DeregistrationDelay = &delay
	l := startProxyLab(t, proxies.HAProxy, doc)
	n, err := l.AddNode(chattest.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	check := func(after string) {
		t.Helper()
		cfg := l.Proxy.Config()
		if got := time.Duration(cfg.Listener.IdleTimeout); got != 2*time.Second {
			t.Errorf("after %s: got idle timeout %s, want the 2s the lab started with", after, got)
		}
		if d := cfg.ServerGroup.DeregistrationDelay; d == nil || time.Duration(*d) != 3*time.Second {
			got := "unset"
			if d != nil {
				got = time.Duration(*d).String()
			}
			t.Errorf("after %s: got deregistration delay %s, want the 3s the lab started with", after, got)
		}
	}
	check("adding " + n.Name())
	if err := l.RemoveNode("node-1"); err != nil {
		t.Fatal(err)
	}
	check("removing node-1")
}
