package balancer_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
)

// openTunnel upgrades a new connection to addr and returns it once the
// 101 is read, within the test's bound for one wait.
func openTunnel(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := sendUpgrade(t, addr)
	c.SetDeadline(time.Now().Add(waitFor)) // the test's own bound for the handshake
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return c, br
}

// echoBack sends text as a masked frame and expects the same bytes back
// from a backend that echoes bytes, within the test's bound for one wait.
// The bound starts with the echo, not with the tunnel: a tunnel held
// through a long test (a storm of reloads, hundreds of other clients)
// would otherwise run out of time on a loaded machine however quickly
// each echo came back.
func echoBack(t *testing.T, c net.Conn, br *bufio.Reader, text string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(waitFor)) // the test's own bound for this echo
	msg := maskedText(text)
	c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo of %q: got %q, %v", text, got, err)
	}
}

// binaryFrames is n bytes of masked binary frames of 60 KiB payloads whose
// bytes count up, as a client sends them.
func binaryFrames(n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		payload := make([]byte, 60<<10)
		for j := range payload {
			payload[j] = byte(i + j)
		}
		out = append(out, 0x82, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
		out = append(out, 0, 0, 0, 0) // a zero mask leaves the payload as it is
		out = append(out, payload...)
	}
	return out
}

// A tunnel whose client does not read for a while holds the bytes it could
// not deliver, stops reading the other side, and when the client reads
// again delivers every byte, in order, both ways — and its backlog goes
// back to zero.
func TestBackpressureLosesNothing(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		b := startOne(t, "echo", balancertest.EchoBackend(t), door)
		c := sendUpgrade(t, b.Addr())
		defer c.Close()
		br := bufio.NewReader(c)
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		sent := binaryFrames(16 << 20) // more than every socket buffer on the way holds
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(sent)
			wrote <- err
		}()
		balancertest.WaitBlockedWrite(t, b, true)  // nobody reads the echo yet
		c.SetReadDeadline(time.Now().Add(waitFor)) // the test's own bound
		got := make([]byte, len(sent))
		for n := 0; n < len(got); {
			m, err := br.Read(got[n:min(n+1024, len(got))]) // a slow reader, 1 KiB at a time
			if err != nil {
				t.Fatalf("after %d of %d bytes: %v", n, len(got), err)
			}
			n += m
		}
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(got, sent); i >= 0 {
			t.Fatalf("byte %d of %d differs: got %d, want %d", i, len(sent), got[i], sent[i])
		}
		var cs []balancer.ConnStatus
		balancertest.Eventually(t, func() string {
			return fmt.Sprintf("status after everything was delivered: %+v, want one connection with no backlog", cs)
		}, func() bool {
			cs = b.Status().Connections
			return len(cs) == 1 && cs[0].Backlog == 0
		})
	})
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A server given by host name is resolved when a connection needs it, and
// reached.
func TestBackendByHostName(t *testing.T) {
	url := strings.Replace(balancertest.EchoBackend(t), "127.0.0.1", "localhost", 1)
	b := startOne(t, "by-name", url)
	c, br := openTunnel(t, b.Addr())
	defer c.Close()
	echoBack(t, c, br, "hello")
	if cs := b.Status().Connections; len(cs) != 1 || cs[0].Backend != "by-name" {
		t.Fatalf("connections: %+v, want one to by-name", cs)
	}
}

// Clients that misbehave in every way a socket allows — hanging up at each
// step of the handshake, resetting, half-closing, sending garbage or a
// megabyte behind the request — get what their request deserves, while a
// client already connected keeps its tunnel and its echoes; afterwards
// every one of their tunnels is gone and no descriptor is left open.
func TestMisbehavingClientsLeaveNothingBehind(t *testing.T) {
	balancertest.FrontDoors(t, testMisbehavingClientsLeaveNothingBehind)
}

func testMisbehavingClientsLeaveNothingBehind(t *testing.T, door balancer.FrontDoor) {
	backend := balancertest.EchoBackend(t)
	b := startOne(t, "echo", backend, door)
	ports := []string{portOf(b.Addr()), portOf(strings.TrimPrefix(backend, "http://"))}
	steady, sbr := openTunnel(t, b.Addr())
	defer steady.Close()
	echo := func(i int) {
		t.Helper()
		echoBack(t, steady, sbr, "still here "+strconv.Itoa(i))
	}
	echo(0)
	upgrade := "GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" + wsKey + "\r\n"
	behaviours := []func(c *net.TCPConn) error{
		func(c *net.TCPConn) error { return nil }, // connects, says nothing, hangs up
		func(c *net.TCPConn) error { _, err := io.WriteString(c, upgrade[:30]); return err },
		func(c *net.TCPConn) error { _, err := io.WriteString(c, upgrade); return err }, // gone before the 101
		func(c *net.TCPConn) error { // resets right after asking
			io.WriteString(c, upgrade)
			return c.SetLinger(0)
		},
		func(c *net.TCPConn) error { // a frame, then gone without reading the echo
			br := bufio.NewReader(c)
			io.WriteString(c, upgrade)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
				return fmt.Errorf("handshake: %v %v", resp, err)
			}
			_, err := c.Write(maskedText("bye"))
			return err
		},
		func(c *net.TCPConn) error { // a megabyte right behind the request, all echoed
			sent := binaryFrames(1 << 20)
			go c.Write(append([]byte(upgrade), sent...))
			br := bufio.NewReader(c)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
				return fmt.Errorf("handshake: %v %v", resp, err)
			}
			got := make([]byte, len(sent))
			if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, sent) {
				return fmt.Errorf("echo of 1 MiB: %v (first difference at %d)", err, firstDiff(got, sent))
			}
			return nil
		},
		func(c *net.TCPConn) error { // half-closes after a frame: the tunnel ends, as a client's FIN ends it
			br := bufio.NewReader(c)
			io.WriteString(c, upgrade)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
				return fmt.Errorf("handshake: %v %v", resp, err)
			}
			c.Write(maskedText("last"))
			c.CloseWrite()
			if _, err := io.ReadAll(br); err != nil {
				return fmt.Errorf("after half-closing: %v; want the tunnel ended", err)
			}
			return nil
		},
		func(c *net.TCPConn) error { // half-closes right behind the request: gone before the 101
			io.WriteString(c, upgrade)
			c.CloseWrite()
			_, err := io.ReadAll(c) // the 101 if the balancer had the answer first, else nothing
			return err
		},
		func(c *net.TCPConn) error { // garbage is a bad request, not a tunnel
			io.WriteString(c, "\x00\x01\x02 nonsense\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode != http.StatusBadRequest {
				return fmt.Errorf("garbage: got %v, %v; want 400", resp, err)
			}
			return nil
		},
	}
	const clients = 240
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			c, err := net.Dial("tcp", b.Addr())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(waitFor)) // the test's own bound
			if err := behaviours[i%len(behaviours)](c.(*net.TCPConn)); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			errs <- nil
		}()
		if i%20 == 0 {
			echo(i)
		}
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	echo(clients)
	var conns, socks int
	balancertest.Eventually(t, func() string {
		return fmt.Sprintf("%d connections open (want only the steady one), %d sockets to the balancer or the backend open in this process (want the steady tunnel's 4)", conns, socks)
	}, func() bool {
		conns, socks = len(b.Status().Connections), openSockets(t, ports)
		return conns == 1 && socks == 4 // the steady tunnel's four ends
	})
}

// openSockets counts this process's open TCP sockets, listeners aside,
// with either end on one of ports, as Linux lists them.
func openSockets(t *testing.T, ports []string) int {
	t.Helper()
	ours := map[string]bool{}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd here")
	}
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			ours[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	hexPorts := map[string]bool{}
	for _, p := range ports {
		n, _ := strconv.Atoi(p)
		hexPorts[fmt.Sprintf("%04X", n)] = true
	}
	count := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] == "0A" || !ours[f[9]] { // 0A: listening
				continue
			}
			local, remote := f[1][strings.LastIndex(f[1], ":")+1:], f[2][strings.LastIndex(f[2], ":")+1:]
			if hexPorts[local] || hexPorts[remote] {
				count++
			}
		}
	}
	return count
}

// Status counts no blocked writes for a tunnel whose ends keep up: the
// counter the tests above wait on means a peer that stopped reading, not
// ordinary traffic.
func TestATunnelWhoseEndsKeepUpCountsNoBlockedWrites(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		b := startOne(t, "echo", balancertest.EchoBackend(t), door)
		c, br := openTunnel(t, b.Addr())
		defer c.Close()
		for range 100 {
			echoBack(t, c, br, "ping")
		}
		if w := b.Status().BlockedWrites; w != (balancer.BlockedWrites{}) {
			t.Fatalf("got %+v blocked writes after 100 echoes, want none", w)
		}
	})
}
