package lab_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
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
			t.Run("an idle connection is cut at the idle timeout", func(t *testing.T) {
				got := cutAfter(t, url)
				if got < idle-100*time.Millisecond || got > idle+time.Second {
					t.Fatalf("got cut after %s, want %s (within 1 s)", got.Round(time.Millisecond), idle)
				}
			})
		})
	}
}

var _ = errors.New
var _ = fmt.Sprint
var _ = os.Getpid
var _ = context.Background
