package balancer_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
)

const wsKey = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

// maskedText is a client text frame carrying p.
func maskedText(p string) []byte {
	f := []byte{0x81, 0x80 | byte(len(p)), 1, 2, 3, 4}
	for i := range len(p) {
		f = append(f, p[i]^[]byte{1, 2, 3, 4}[i%4])
	}
	return f
}

// expectUpgradeAndEcho reads a 101 from br, then the echo of want.
func expectUpgradeAndEcho(t *testing.T, c net.Conn, br *bufio.Reader, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if resp.Header.Get("X-Lab-Node") == "" {
		t.Fatal("the backend's 101 reached the client without its headers")
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, hdr[1]&0x7f)
	io.ReadFull(br, got)
	if string(got) != want {
		t.Fatalf("echo: got %q, want %q", got, want)
	}
}

// An upgrade the front door does not take itself — here, a later request
// on a keep-alive connection, and one whose head is larger than the front
// door's buffer — still becomes a tunnel through net/http, with the bytes
// sent behind the head kept.
func TestUpgradesPassedToNetHTTP(t *testing.T) {
	nodes := echoNodes(t, 1)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, nil)
	up := "GET /echo HTTP/1.1\r\nHost: " + r.b.Addr() + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" + wsKey

	t.Run("after a plain request on the same connection", func(t *testing.T) {
		c, err := net.Dial("tcp", r.b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("plain request: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		c.Write(append([]byte(up+"\r\n"), maskedText("second request")...))
		expectUpgradeAndEcho(t, c, br, "second request")
	})
	t.Run("head larger than the front door reads", func(t *testing.T) {
		c, err := net.Dial("tcp", r.b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cookie := "Cookie: big=" + strings.Repeat("c", 12<<10) + "\r\n"
		c.Write(append([]byte(up+cookie+"\r\n"), maskedText("big head")...))
		expectUpgradeAndEcho(t, c, bufio.NewReader(c), "big head")
	})
	r.waitEvent(t, kind(opened))
	r.waitEvent(t, kind(opened))
}

// Close does not wait for a backend that never answers the handshake: the
// waiting client is hung up on.
func TestCloseDuringHandshake(t *testing.T) {
	accepted := make(chan net.Conn, 1)
	silent := balancertest.RawBackend(t, func(c net.Conn) { accepted <- c }) // holds it open, says nothing
	bus := startOne(t, "silent", silent)
	c := sendUpgrade(t, bus.Addr())
	defer c.Close()
	backend := <-accepted // the handshake is at the backend now
	defer backend.Close()
	closeWithin(t, bus, "Close is waiting for the handshake")
	c.SetReadDeadline(time.Now().Add(waitFor))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "shutting down") {
		t.Fatalf("got %s %q, want 503 saying the balancer is shutting down", resp.Status, body)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the answer: read %d bytes, %v; want the connection closed", n, err)
	}
}

// startOne starts a balancer, real clock, in front of one backend.
func startOne(t *testing.T, name, url string, door ...balancer.FrontDoor) *balancer.Balancer {
	t.Helper()
	var opts balancer.Options
	if len(door) > 0 {
		opts.FrontDoor = door[0]
	}
	return balancertest.Start(t, config.Config{
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: name, URL: url}}, HealthCheck: noChecks()},
	}, opts)
}

// Close does not wait on a tunnel whose backend stopped reading: the pump
// stuck writing to it is released, or the event loop's backlog dropped.
func TestCloseWithBackendNotReading(t *testing.T) {
	balancertest.FrontDoors(t, testCloseWithBackendNotReading)
}

func testCloseWithBackendNotReading(t *testing.T, door balancer.FrontDoor) {
	got := make(chan net.Conn, 1)
	deaf := balancertest.RawBackend(t, func(c net.Conn) {
		c.(*net.TCPConn).SetReadBuffer(4096)
		br := bufio.NewReader(c)
		if balancertest.Answer101(c, br) {
			br.ReadByte() // the flood has begun; from here on nobody reads
			got <- c
		}
	})
	b := startOne(t, "deaf", deaf, door)
	c := sendUpgrade(t, b.Addr())
	defer c.Close()
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	go c.Write(make([]byte, 64<<20)) // far more than the sockets between can hold
	backend := <-got
	defer backend.Close()
	balancertest.WaitBlockedWrite(t, b, false) // the up copy, writing to the backend
	closeWithin(t, b, "Close is stuck behind a pump writing to a backend that does not read")
}

// A drain with close frames is not held up by a client that stopped reading
// while its backend kept sending: the tunnel still closes as drained.
func TestDrainPastAClientThatStoppedReading(t *testing.T) {
	balancertest.FrontDoors(t, testDrainPastAClientThatStoppedReading)
}

func testDrainPastAClientThatStoppedReading(t *testing.T, door balancer.FrontDoor) {
	flooding := make(chan net.Conn, 1)
	firehose := balancertest.RawBackend(t, func(c net.Conn) {
		if !balancertest.Answer101(c, bufio.NewReader(c)) {
			return
		}
		flooding <- c
		frame := append([]byte{0x82, 126, 0xff, 0xff}, make([]byte, 0xffff)...) // binary, 65,535 bytes
		for {
			if _, err := c.Write(frame); err != nil {
				return
			}
		}
	})
	clk := quartz.NewMock(t)
	r := start(t, config.Config{
		Listener: config.Listener{IdleTimeout: config.Duration(4000 * time.Second)},
		ServerGroup: config.ServerGroup{
			Servers: []config.Server{{Name: "firehose", URL: firehose}}, HealthCheck: noChecks(),
			Drain: config.Drain{CloseFrame: true},
		},
	}, clk, door)
	c := sendUpgrade(t, r.b.Addr())
	defer c.Close()
	backend := <-flooding
	defer backend.Close()
	// The client reads nothing more: the pump ends up stuck writing to it.
	balancertest.WaitBlockedWrite(t, r.b, true)
	cfg := r.b.Config()
	cfg.ServerGroup.Servers[0].State = "drain"
	if _, err := r.b.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	advance(t, clk, 300*time.Second)
	if e := r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonDrained {
		t.Fatalf("got %+v, want the tunnel closed as drained", e)
	}
}

// A backend that sends its last message and hangs up at once — the data and
// the FIN arrive together — is seen by the client as exactly that: the
// message, then the end of the connection. (A pump that took a short read
// to mean "nothing more to come" missed such FINs and kept the client
// waiting for ever.)
func TestLastWordsThenHangUp(t *testing.T) {
	curt := balancertest.RawBackend(t, func(c net.Conn) {
		defer c.Close()
		if balancertest.Answer101(c, bufio.NewReader(c)) {
			c.Write([]byte{0x81, 3, 'b', 'y', 'e'}) // and the deferred Close right behind
		}
	})
	b := startOne(t, "curt", curt)
	for i := range 200 {
		c := sendUpgrade(t, b.Addr())
		c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
		br := bufio.NewReader(c)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("connection %d: handshake: %v %v", i, resp, err)
		}
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "\x81\x03bye" {
			t.Fatalf("connection %d: got %q, %v; want the last message, then the end", i, rest, err)
		}
		c.Close()
	}
}

// sendUpgrade connects to addr and sends a WebSocket upgrade request.
func sendUpgrade(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+wsKey+"\r\n")
	return c
}

// closeWithin closes b and fails the test with why if that takes longer
// than waitFor.
func closeWithin(t *testing.T, b *balancer.Balancer, why string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		b.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal(why)
	}
}
