package client_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wslab/wslab/node/client"
)

// A long-polling client names the client end of every connection its
// requests used (a pending GET and a POST ride different ones): a
// balancer that cuts a poll names the address it came from, and whoever
// drives the client must be able to tell it is this client's.
func TestAPollingClientNamesEveryConnectionItsRequestsUse(t *testing.T) {
	var mu sync.Mutex
	var seen []string // every request's RemoteAddr
	connected := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if !slices.Contains(seen, r.RemoteAddr) {
			seen = append(seen, r.RemoteAddr)
		}
		mu.Unlock()
		switch {
		case r.URL.Query().Get("sid") == "":
			io.WriteString(w, `0{"sid":"eio1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
		case r.Method == http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			if string(body) == "40" {
				connected <- struct{}{}
			}
			io.WriteString(w, "ok")
		default: // a GET: the connect reply once, then held until the client goes
			select {
			case <-connected:
				io.WriteString(w, `40{"sid":"sio1"}`)
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	c, err := client.Dial(ctxT(t), client.Options{URL: srv.URL, Transport: client.Polling})
	if err != nil {
		t.Fatalf("got %v, want the connect to succeed", err)
	}
	defer c.CloseNow()
	for _, text := range []string{"one", "two"} { // POSTs while a GET is held
		if err := c.Emit(ctxT(t), "message", text); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	got := c.LocalAddrs()
	if len(seen) < 2 {
		t.Fatalf("the server saw requests from %v, want at least two connections (a held GET, a POST)", seen)
	}
	for _, a := range seen {
		if !slices.Contains(got, a) {
			t.Errorf("LocalAddrs: got %v, want it to hold %s, which the server saw (all: %v)", got, a, seen)
		}
	}
	if c.LocalAddr != got[0] || !strings.HasPrefix(c.LocalAddr, "127.0.0.1:") {
		t.Errorf("LocalAddr: got %q, want the first connection's, %s", c.LocalAddr, got[0])
	}
}
