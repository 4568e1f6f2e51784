package balancer

import (
	"bytes"
	"testing"
)

// FuzzParseUpgrade: any request head either goes to net/http or yields an
// upgrade whose forwarded head is well formed, with no Host or
// X-Forwarded-* line of the client's left in it.
func FuzzParseUpgrade(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n Folded: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, h []byte) {
		req, ok := parseUpgrade(h, nil)
		if !ok {
			return
		}
		req.clientAddr, req.port = "127.0.0.1:1", "80"
		out := appendRequestHead(nil, &req)
		if !bytes.HasSuffix(out, []byte("\r\n\r\n")) || bytes.Count(out, []byte("\r\n\r\n")) != 1 {
			t.Fatalf("forwarded head is not one head: %q", out)
		}
		for _, line := range bytes.Split(req.lines, []byte("\r\n")) {
			name, _, _ := bytes.Cut(line, []byte(":"))
			if asciiEqualFold(name, "host") || asciiEqualFold(name, "x-forwarded-for") {
				t.Fatalf("client's %s line forwarded as is: %q", name, line)
			}
		}
	})
}

func TestParseUpgradeTakesOnlyPlainUpgrades(t *testing.T) {
	const ok = "GET /chat?x=1 HTTP/1.1\r\nhost: lab\r\nUPGRADE: WebSocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: 10.0.0.1\r\nOrigin: http://lab\r\n\r\n"
	req, took := parseUpgrade([]byte(ok), nil)
	if !took {
		t.Fatal("a plain upgrade went to net/http")
	}
	if string(req.host) != "lab" || string(req.uri) != "/chat?x=1" || string(req.xff) != "10.0.0.1" {
		t.Fatalf("parsed %q %q %q", req.host, req.uri, req.xff)
	}
	if bytes.Contains(req.lines, []byte("host:")) || !bytes.Contains(req.lines, []byte("Origin: http://lab\r\n")) {
		t.Fatalf("forwarded lines %q: want Origin kept and Host left to the request line's", req.lines)
	}
	for name, h := range map[string]string{
		"HTTP/1.0":       "GET / HTTP/1.0\r\n",
		"two hosts":      "GET / HTTP/1.1\r\nHost: a\r\n",
		"folded line":    "GET / HTTP/1.1\r\nX: a\r\n b\r\n",
		"body":           "GET / HTTP/1.1\r\nContent-Length: 3\r\n",
		"space in name":  "GET / HTTP/1.1\r\nX Y: a\r\n",
		"control byte":   "GET / HTTP/1.1\r\nX: a\x01b\r\n",
		"absolute URI":   "GET http://lab/ HTTP/1.1\r\n",
		"version 8":      "GET / HTTP/1.1\r\nSec-WebSocket-Version: 8\r\n",
		"two keys":       "GET / HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
		"no upgrade tok": "GET / HTTP/1.1\r\nConnection: close\r\n",
	} {
		head := h + "Host: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		if name == "no upgrade tok" {
			head = h + "Host: lab\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
		}
		if _, took := parseUpgrade([]byte(head), nil); took {
			t.Errorf("%s: taken by the front door, want it passed to net/http", name)
		}
	}
}
