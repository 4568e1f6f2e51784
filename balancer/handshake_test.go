package balancer_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
)

// doorsBackend answers as the table of TestBothFrontDoorsAnswerAlike
// wants, by path, and reports the head of every request it gets.
func doorsBackend(t *testing.T) (url string, seen chan http.Header) {
	t.Helper()
	seen = make(chan http.Header, 100)
	hijack := func(w http.ResponseWriter, answer string) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		io.WriteString(c, answer)
		c.Close()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		h.Set("X-Request-Uri", r.RequestURI)
		seen <- h
		switch {
		case r.URL.Path == "/refuse":
			http.Error(w, "forbidden origin", http.StatusForbidden)
		case r.URL.Path == "/bogus":
			hijack(w, "garbage\r\n\r\n")
		case r.URL.Path == "/h2c":
			hijack(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
		case r.Header.Get("Upgrade") != "":
			hijack(w, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Lab-Node: doors\r\n\r\n")
		default:
			io.WriteString(w, "ok\n")
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, seen
}

// answer is what a client heard, less what differs between any two
// answers (the date).
type answer struct {
	status, body                    string
	connection, version, upgrade    string
	backendSaw, backendHopByHopSeen string
}

// ask sends head to addr and reads the answer, and what the backend saw.
func ask(t *testing.T, addr, head string, seen chan http.Header) answer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitFor)) // the test's own bound
	io.WriteString(c, head)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return answer{status: "no answer: " + err.Error()}
	}
	body, _ := io.ReadAll(resp.Body)
	a := answer{
		status: resp.Status, body: string(body),
		connection: resp.Header.Get("Connection"), version: resp.Header.Get("Sec-WebSocket-Version"), upgrade: resp.Header.Get("Upgrade"),
	}
	select {
	case h := <-seen:
		for _, k := range []string{"Host", "X-Request-Uri", "Connection", "Upgrade", "Origin", "X-Forwarded-For", "X-Forwarded-Proto", "Sec-Websocket-Key"} {
			a.backendSaw += fmt.Sprintf("%s=%q ", k, h.Values(k))
		}
		for _, k := range []string{"Keep-Alive", "X-Hop", "Proxy-Authorization", "Te", "Proxy-Connection"} {
			if h.Get(k) != "" {
				a.backendHopByHopSeen += k + " "
			}
		}
	default:
		a.backendSaw = "nothing"
	}
	return a
}

// The event loop and the goroutine front door answer every head the same
// way — ordinary, odd and malformed ones, and each kind of backend answer —
// because both apply the handshake core's rules.
func TestBothFrontDoorsAnswerAlike(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("one front door only on " + runtime.GOOS)
	}
	url, seen := doorsBackend(t)
	cfg := config.Config{ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "doors", URL: url}}, HealthCheck: noChecks()}}
	loop := start(t, cfg, nil)
	goroutines := start(t, cfg, nil, balancer.Goroutines)

	const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	const up = "Host: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Sec-WebSocket-Version: 13\r\n"
	tests := []struct {
		name, head, status string
	}{
		{"plain upgrade", "GET /ws HTTP/1.1\r\n" + up + "Origin: http://lab\r\n\r\n", "101 Switching Protocols"},
		{"odd spelling", "GET /ws?a=b HTTP/1.1\r\nhost: lab\r\nupgrade: WebSocket\r\nconnection: keep-alive,  upgrade\r\n" +
			"sec-websocket-key:dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13 \r\nX-Forwarded-For: 203.0.113.9\r\n\r\n", "101 Switching Protocols"},
		{"hop-by-hop fields", "GET /ws HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Hop\r\n" + key +
			"Sec-WebSocket-Version: 13\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nProxy-Authorization: Basic eA==\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n", "101 Switching Protocols"},
		{"absolute URI", "GET http://lab/ws HTTP/1.1\r\n" + up + "\r\n", "101 Switching Protocols"},
		{"head larger than the front door reads", "GET /ws HTTP/1.1\r\n" + up + "Cookie: c=" + strings.Repeat("c", 9<<10) + "\r\n\r\n", "101 Switching Protocols"},
		{"ordinary GET", "GET /page HTTP/1.1\r\nHost: lab\r\n\r\n", "200 OK"},
		{"folded line", "GET /ws HTTP/1.1\r\n" + up + "X-Folded: a\r\n b\r\n\r\n", "101 Switching Protocols"}, // net/http unfolds it
		{"no Host", "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request"},
		{"HTTP/1.0 upgrade", "GET /ws HTTP/1.0\r\n" + up + "\r\n", "400 Bad Request"},
		{"POST upgrade", "POST /ws HTTP/1.1\r\n" + up + "\r\n", "400 Bad Request"},
		{"h2c upgrade", "GET /ws HTTP/1.1\r\nHost: lab\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", "400 Bad Request"},
		{"no upgrade token", "GET /ws HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: close\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request"},
		{"missing key", "GET /ws HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request"},
		{"bad key", "GET /ws HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request"},
		{"two keys", "GET /ws HTTP/1.1\r\n" + up + key + "\r\n", "400 Bad Request"},
		{"version 8", "GET /ws HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Sec-WebSocket-Version: 8\r\n\r\n", "400 Bad Request"},
		{"two versions", "GET /ws HTTP/1.1\r\n" + up + "Sec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request"},
		{"five Connection headers", "GET /ws HTTP/1.1\r\n" + up + strings.Repeat("Connection: keep-alive\r\n", 4) + "\r\n", "400 Bad Request"},
		{"upgrade with a body", "GET /ws HTTP/1.1\r\n" + up + "Content-Length: 5\r\n\r\nhello", "400 Bad Request"},
		{"both lengths", "POST /page HTTP/1.1\r\nHost: lab\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400 Bad Request"},
		{"bare LF", "GET /page HTTP/1.1\nHost: lab\n\n", "400 Bad Request"},
		{"bare LF upgrade", "GET /ws HTTP/1.1\r\nHost: lab\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n", "400 Bad Request"},
		{"backend refuses", "GET /refuse HTTP/1.1\r\n" + up + "\r\n", "403 Forbidden"},
		{"backend answers garbage", "GET /bogus HTTP/1.1\r\n" + up + "\r\n", "502 Bad Gateway"},
		{"backend switches to h2c", "GET /h2c HTTP/1.1\r\n" + up + "\r\n", "502 Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fromLoop := ask(t, loop.b.Addr(), tt.head, seen)
			fromGoroutines := ask(t, goroutines.b.Addr(), tt.head, seen)
			if fromLoop != fromGoroutines {
				t.Fatalf("event loop: got\n%+v\ngoroutines: got\n%+v\nwant the same answer", fromLoop, fromGoroutines)
			}
			if !strings.HasPrefix(fromLoop.status, tt.status) {
				t.Fatalf("got %s (%q), want %s", fromLoop.status, fromLoop.body, tt.status)
			}
			if fromLoop.backendHopByHopSeen != "" {
				t.Fatalf("the backend got the client's hop-by-hop fields %s", fromLoop.backendHopByHopSeen)
			}
		})
	}
}

// The upgrade rules live in the handshake core alone: no other file of the
// package reads an Upgrade or Sec-WebSocket-* header itself.
func TestOnlyTheHandshakeCoreReadsUpgradeHeaders(t *testing.T) {
	core := map[string]bool{"handshake.go": true, "refusal.go": true}
	names := regexp.MustCompile(`(?i)"(upgrade|sec-websocket-[a-z]+)"`)
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || core[name] {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if m := names.FindString(line); m != "" {
				t.Errorf("%s:%d reads the %s header itself; want the rule in handshake.go, which both front doors call", name, i+1, m)
			}
		}
	}
}
