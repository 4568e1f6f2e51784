package balancer_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

// raw sends a raw request and returns the status line and body.
func raw(t *testing.T, addr, req string) (string, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.Status, string(body)
}

func TestBadInputGetsItsErrorAndOthersAreUnaffected(t *testing.T) {
	nodes := echoNodes(t, 1)
	r := start(t, config.Config{
		Listener:    config.Listener{HeaderTimeout: config.Duration(300 * time.Millisecond)},
		ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()},
	}, nil)
	healthy := dialWS(t, r.b.URL())
	const up = "GET /echo HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
	tests := []struct {
		name, req, status, body string
	}{
		{"missing key", up + "Sec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request", "missing Sec-WebSocket-Key"},
		{"bad key", up + "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request", `Sec-WebSocket-Key "short" is not 16 base64-encoded bytes`},
		{"wrong version", up + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", "400 Bad Request", `Sec-WebSocket-Version "8" is not supported: want 13`},
		{"not websocket", "GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", "400 Bad Request", `Upgrade "h2c" is not supported`},
		{"POST upgrade", strings.Replace(up, "GET", "POST", 1) + "\r\n", "400 Bad Request", "must be a GET, not POST"},
		{"64 KiB of headers", "GET / HTTP/1.1\r\nHost: lab\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", "431 Request Header Fields Too Large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := raw(t, r.b.Addr(), tt.req)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("got %q %q, want %q containing %q", status, body, tt.status, tt.body)
			}
			healthy.echo(t, tt.name)
		})
	}
	t.Run("slow headers", func(t *testing.T) {
		c, err := net.Dial("tcp", r.b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHo") // and nothing more
		healthy.echo(t, "served while a client dawdles")
		// The header timeout is a wall-clock guard: the balancer answers
		// 408 and hangs up (the deadline is only the test's own bound).
		c.SetReadDeadline(time.Now().Add(waitFor))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("got %v, %v; want 408 Request Timeout", resp, err)
		}
		healthy.echo(t, "still served")
	})
}
