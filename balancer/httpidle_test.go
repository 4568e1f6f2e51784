package balancer_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// longPoll is a backend that holds every request until its client (the
// balancer) gives up; it reports each request's start and end.
func longPoll(t *testing.T) (url string, started, ended chan struct{}) {
	t.Helper()
	started, ended = make(chan struct{}, 10), make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
		ended <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, started, ended
}

// waitChan waits for one value on c, or fails with why.
func waitChan(t *testing.T, c chan struct{}, why string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(waitFor):
		t.Fatal(why)
	}
}

// heldPoll starts a balancer with a 5 s idle timeout on a mock clock in
// front of a backend that holds every request, and sends GET path through
// it; it returns once the backend holds the request, with the client's
// connection and the channel closed when the backend's request ends.
func heldPoll(t *testing.T, path string) (*rig, *quartz.Mock, net.Conn, chan struct{}) {
	t.Helper()
	url, started, ended := longPoll(t)
	clk := quartz.NewMock(t)
	r := start(t, config.Config{
		Listener:    config.Listener{IdleTimeout: config.Duration(5 * time.Second)},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "poll", URL: url}}, HealthCheck: noChecks()},
	}, clk)
	c, err := net.Dial("tcp", r.b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: lab\r\n\r\n")
	waitChan(t, started, "the request never reached the backend")
	return r, clk, c, ended
}

// A long-poll GET that the backend holds is cut at the idle timeout, on the
// balancer's clock, as a cloud ALB cuts it: the client hears 504 and the
// backend's request ends.
func TestLongPollIsCutByTheIdleTimeout(t *testing.T) {
	_, clk, c, ended := heldPoll(t, "/poll")
	advance(t, clk, 4900*time.Millisecond)
	select {
	case <-ended:
		t.Fatal("at 4.9 s: the request ended, want it held until the idle timeout")
	default:
	}
	advance(t, clk, 100*time.Millisecond)
	c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("at 5 s: got %v, want a 504 answer", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "idle timeout (5s)") {
		t.Fatalf("at 5 s: got %s %q, want 504 naming the idle timeout", resp.Status, body)
	}
	waitChan(t, ended, "the backend's request still runs after the idle timeout")
}

// A client that hangs up ends its backend request at once: an ordinary
// long poll, and an upgrade whose backend has not answered yet, on both
// front doors.
func TestClientHangUpEndsItsBackendRequest(t *testing.T) {
	t.Run("long poll", func(t *testing.T) {
		url, started, ended := longPoll(t)
		r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "poll", URL: url}}, HealthCheck: noChecks()}}, quartz.NewMock(t))
		c, err := net.Dial("tcp", r.b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /poll HTTP/1.1\r\nHost: lab\r\n\r\n")
		waitChan(t, started, "the request never reached the backend")
		c.Close()
		waitChan(t, ended, "the backend's request still runs after its client hung up")
	})
	for _, door := range []string{"event loop", "goroutines"} {
		t.Run("upgrade waiting for the backend, "+door, func(t *testing.T) {
			testHangUpDuringHandshake(t, door)
		})
	}
}

// testHangUpDuringHandshake: a client that hangs up while its upgrade
// waits for the backend's answer closes the backend's connection at once.
func testHangUpDuringHandshake(t *testing.T, door string) {
	front := balancer.EventLoop
	switch {
	case door == "goroutines":
		front = balancer.Goroutines
	case runtime.GOOS != "linux":
		t.Skip("no event loop on " + runtime.GOOS)
	}
	accepted := make(chan net.Conn, 1)
	silent := balancertest.RawBackend(t, func(c net.Conn) { accepted <- c }) // reads nothing, answers nothing
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "silent", URL: silent}}, HealthCheck: noChecks()}}, quartz.NewMock(t), front)
	c := sendUpgrade(t, r.b.Addr())
	var backend net.Conn
	select {
	case backend = <-accepted:
	case <-time.After(waitFor):
		t.Fatal("the upgrade never reached the backend")
	}
	defer backend.Close()
	c.Close()
	backend.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
	if _, err := io.Copy(io.Discard, backend); err != nil {
		t.Fatalf("backend: got %v, want its connection closed when the client hung up", err)
	}
}

// Content-Length together with Transfer-Encoding (RFC 9112 §6.3), and a
// head whose lines end in bare LFs, get 400 at once and a closed
// connection, from both front doors.
func TestAmbiguousHeadsAreRefusedAtOnce(t *testing.T) {
	nodes := echoNodes(t, 1)
	for _, door := range []string{"event loop", "goroutines"} {
		t.Run(door, func(t *testing.T) {
			front := map[string]balancer.FrontDoor{"event loop": balancer.EventLoop, "goroutines": balancer.Goroutines}[door]
			// A header timeout far beyond the test's bound: an answer
			// within the bound came at once, not at the header timeout.
			r := start(t, config.Config{
				Listener:    config.Listener{HeaderTimeout: config.Duration(5 * time.Minute)},
				ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()},
			}, nil, front)
			for _, tt := range []struct{ name, head, reason string }{
				{"both lengths", "POST /echo HTTP/1.1\r\nHost: lab\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "RFC 9112 §6.3"},
				{"bare LF", "GET / HTTP/1.1\nHost: lab\n\n", "bare LF"},
			} {
				c, err := net.Dial("tcp", r.b.Addr())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
				io.WriteString(c, tt.head)
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("%s: got %v, want 400 at once", tt.name, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tt.reason) {
					t.Fatalf("%s: got %s %q, want 400 saying %q", tt.name, resp.Status, body, tt.reason)
				}
				if n, err := br.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("%s: after the answer: read %d bytes, %v; want the connection closed", tt.name, n, err)
				}
			}
		})
	}
}

// A long poll the idle timeout cuts is an event at the instant of the cut
// (a mock-clock driver sees it as soon as the timer has fired, before the
// 504 reaches anyone): it names the client's address, the backend, the
// reason and the request; a long poll the backend answers is none.
func TestALongPollCutByTheIdleTimeoutIsAnEvent(t *testing.T) {
	r, clk, c, _ := heldPoll(t, "/socket.io/?EIO=4&transport=polling&sid=abc")
	advance(t, clk, 5*time.Second)
	var cut *events.Event
	for len(r.sub.C()) > 0 && cut == nil { // what is there now, without waiting
		if e := <-r.sub.C(); e.Kind == events.RequestTimeout {
			cut = &e
		}
	}
	if cut == nil {
		t.Fatalf("right after the idle timer fired: got no %s event, want one", events.RequestTimeout)
	}
	if cut.Client != c.LocalAddr().String() || cut.Backend != "poll" || cut.Reason != balancer.ReasonIdleTimeout {
		t.Errorf("got client %s, backend %s, reason %s; want %s, poll, %s", cut.Client, cut.Backend, cut.Reason, c.LocalAddr(), balancer.ReasonIdleTimeout)
	}
	for _, want := range []string{"GET /socket.io/?EIO=4&transport=polling&sid=abc", "5s", "504"} {
		if !strings.Contains(cut.Detail, want) {
			t.Errorf("detail: got %q, want it to say %q", cut.Detail, want)
		}
	}
	c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("got %v, %v; want the 504 the event announced", resp, err)
	}
}
