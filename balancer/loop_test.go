package balancer_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer"
)

// echoBytes is a raw backend that accepts the upgrade and then sends back
// every byte it gets.
func echoBytes(t *testing.T) string {
	return rawBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if answer101(c, br) {
			io.Copy(c, br)
		}
	})
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
	bothWays(t, func(t *testing.T, stuck func(*testing.T, *balancer.Balancer, string)) {
		b := startOne(t, "echo", echoBytes(t))
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
		stuck(t, b, "balancer.(*netPair).writeClientHead") // nobody reads the echo yet
		c.SetReadDeadline(time.Now().Add(waitFor))         // the test's own bound
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
		for end := time.Now().Add(waitFor); ; runtime.Gosched() {
			cs := b.Status().Connections
			if len(cs) == 1 && cs[0].Backlog == 0 {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("status after everything was delivered: %+v, want one connection with no backlog", cs)
			}
		}
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
	url := strings.Replace(echoBytes(t), "127.0.0.1", "localhost", 1)
	b := startOne(t, "by-name", url)
	c := sendUpgrade(t, b.Addr())
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitFor)) // the test's own bound
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	hello := maskedText("hello")
	c.Write(hello)
	got := make([]byte, len(hello))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("echo: got %q, %v; want %q", got, err, hello)
	}
	if cs := b.Status().Connections; len(cs) != 1 || cs[0].Backend != "by-name" {
		t.Fatalf("connections: %+v, want one to by-name", cs)
	}
}
