package balancer

import (
	"bufio"
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// FuzzParseUpgrade: any request head goes to net/http, is refused with a
// reason, or yields an upgrade whose forwarded head is well formed, with no
// Host, X-Forwarded-For or hop-by-hop line of the client's left in it. And
// the front doors' one pass agrees with the net/http path: a head they
// take or refuse, parsed by net/http and judged by checkUpgrade, is taken
// with the same fields or refused for the same reason.
func FuzzParseUpgrade(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n Folded: x\r\n\r\n"))
	const up = "Host: lab\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Hop\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range []string{
		"GET /a HTTP/1.1\r\n" + up + "Content-Length: 00\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n\r\n",
		"POST /a HTTP/1.0\r\n" + up + "\r\n",
		"GET /a HTTP/1.1\r\n" + up + "Sec-WebSocket-Version: 8\r\nUpgrade: h2c\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: lab\r\nConnection: upgrade\r\n\r\n",
		"GET /a HTTP/1.1\r\n" + up + "X-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8\r\n\r\n",
	} {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		req, verdict, code, reason := parseUpgrade(h, nil)
		sameAsNetHTTP(t, h, req, verdict, code, reason)
		switch {
		case verdict == headRefuse && (code != 400 || reason == ""):
			t.Fatalf("refused with %d %q, want 400 and a reason", code, reason)
		case verdict != headUpgrade:
			return
		}
		req.clientAddr, req.port = "127.0.0.1:1", "80"
		out := appendRequestHead(nil, &req)
		if !bytes.HasSuffix(out, []byte("\r\n\r\n")) || bytes.Count(out, []byte("\r\n\r\n")) != 1 {
			t.Fatalf("forwarded head is not one head: %q", out)
		}
		for _, line := range bytes.Split(req.lines, []byte("\r\n")) {
			name, _, _ := bytes.Cut(line, []byte(":"))
			if roleOf(name) != roleForward {
				t.Fatalf("client's %s line forwarded as is: %q", name, line)
			}
		}
	})
}

// sameAsNetHTTP fails t if checkUpgrade, given h as net/http parses it,
// does not come to the verdict parseUpgrade came to.
func sameAsNetHTTP(t *testing.T, h []byte, req upgradeReq, verdict headVerdict, code int, reason string) {
	t.Helper()
	if verdict == headNetHTTP || strings.Contains(reason, "RFC 9112 §6.3") {
		return // net/http's to judge; it drops Content-Length beside Transfer-Encoding
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(h)))
	if err != nil {
		return // net/http refuses the head itself
	}
	r.RequestURI = string(req.uri)
	got, gotCode, gotReason := checkUpgrade(r)
	if gotCode != code || gotReason != reason {
		t.Fatalf("front door: %d %q; net/http path: %d %q; want the same verdict", code, reason, gotCode, gotReason)
	}
	if verdict == headUpgrade {
		if a, b := fields(req.lines), fields(got.lines); !slices.Equal(a, b) || string(req.xff) != string(got.xff) || string(req.host) != string(got.host) {
			t.Fatalf("front door forwards %q (X-Forwarded-For %q), net/http path %q (%q); want the same", a, req.xff, b, got.xff)
		}
	}
}

// fields is header lines as sorted "name: value" with the name in lower
// case and the value trimmed.
func fields(lines []byte) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(string(lines), "\r\n"), "\r\n") {
		if name, value, ok := strings.Cut(line, ":"); ok {
			out = append(out, strings.ToLower(name)+": "+strings.Trim(value, " \t"))
		}
	}
	slices.Sort(out)
	return out
}

func TestParseUpgradeTakesOnlyPlainUpgrades(t *testing.T) {
	const ok = "GET /chat?x=1 HTTP/1.1\r\nhost: lab\r\nUPGRADE: WebSocket\r\nConnection: keep-alive, Upgrade, X-Hop\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: 10.0.0.1\r\nOrigin: http://lab\r\n" +
		"Keep-Alive: timeout=5\r\nX-Hop: 1\r\n\r\n"
	req, verdict, _, _ := parseUpgrade([]byte(ok), nil)
	if verdict != headUpgrade {
		t.Fatalf("a plain upgrade: got verdict %d, want it taken", verdict)
	}
	if string(req.host) != "lab" || string(req.uri) != "/chat?x=1" || string(req.xff) != "10.0.0.1" {
		t.Fatalf("parsed %q %q %q", req.host, req.uri, req.xff)
	}
	if string(req.lines) != "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://lab\r\n" {
		t.Fatalf("forwarded lines %q: want the end-to-end ones only (no Host, hop-by-hop or X-Forwarded-*)", req.lines)
	}
	const rest = "Host: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for _, tt := range []struct {
		name, head string
		want       headVerdict
	}{
		{"HTTP/1.0", "GET / HTTP/1.0\r\n" + rest, headRefuse},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\n" + rest, headNetHTTP},
		{"folded line", "GET / HTTP/1.1\r\nX: a\r\n b\r\n" + rest, headNetHTTP},
		{"space in name", "GET / HTTP/1.1\r\nX Y: a\r\n" + rest, headNetHTTP},
		{"control byte", "GET / HTTP/1.1\r\nX: a\x01b\r\n" + rest, headNetHTTP},
		{"absolute URI", "GET http://lab/ HTTP/1.1\r\n" + rest, headNetHTTP},
		{"ordinary GET", "GET / HTTP/1.1\r\nHost: lab\r\n\r\n", headNetHTTP},
		{"version 8", "GET / HTTP/1.1\r\nSec-WebSocket-Version: 8\r\n" + rest, headRefuse},
		{"two keys", "GET / HTTP/1.1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + rest, headRefuse},
		{"body", "GET / HTTP/1.1\r\nContent-Length: 3\r\n" + rest, headRefuse},
		{"no upgrade token", "GET / HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n", headRefuse},
		{"ordinary GET, both lengths", "GET / HTTP/1.1\r\nHost: lab\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", headRefuse},
	} {
		if _, got, _, _ := parseUpgrade([]byte(tt.head), nil); got != tt.want {
			t.Errorf("%s: got verdict %d, want %d", tt.name, got, tt.want)
		}
	}
}

// BenchmarkParseUpgrade measures judging a browser's upgrade head, the
// front doors' one pass over it.
func BenchmarkParseUpgrade(b *testing.B) {
	h := []byte("GET /chat HTTP/1.1\r\nHost: lab.example:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n" +
		"Upgrade: websocket\r\nOrigin: http://lab.example:8080\r\nSec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
	lines := make([]byte, 0, headSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, v, _, _ := parseUpgrade(h, lines[:0]); v != headUpgrade {
			b.Fatal("not taken")
		}
	}
}
