package balancer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
)

// The handshake core: every rule of the WebSocket upgrade, with no I/O.
// Both front doors (the event loop of loop_linux.go and the goroutines of
// front.go) and the net/http path (serveUpgrade) call it, so a rule is
// changed in one place:
//
//   - what is an upgrade, and why one is refused: upgradeHead.verdict;
//   - what of the client's head is forwarded: upgradeHead.field (Host and
//     X-Forwarded-* are rewritten; hop-by-hop fields, RFC 9110 §7.6.1,
//     are dropped, as httputil.ReverseProxy drops them, and the upgrade's
//     own Connection and Upgrade are written back);
//   - the backend's request head: appendRequestHead;
//   - what the backend's answer means: classifyAnswer;
//   - what a refused client hears: refusal;
//   - the Cookie values stickiness follows (cookieHeaders, cookieValue,
//     requestCookies) and the Set-Cookie lines it adds to a 101
//     (withSetCookies): read and written here, judged in sticky.go.
//
// TestOnlyTheHandshakeCoreReadsUpgradeHeaders fails if another file of the
// package looks at an Upgrade or Sec-WebSocket-* header itself.

// upgradeHead is what the rules need from a request head, collected one
// header field at a time. Its byte slices point into the head (the front
// doors) or into the request's header map (net/http); nothing is copied.
type upgradeHead struct {
	method, proto []byte // as the request line had them
	hosts         int
	upgrades      int
	upgrade       []byte // the first Upgrade value
	connUpgrade   bool   // Connection lists "upgrade"
	connOther     bool   // Connection lists a field to drop as hop-by-hop
	conn          [4][]byte
	nconn         int // Connection fields seen; more than len(conn) is refused
	keys          int
	key           []byte
	versions      int
	version       []byte
	contentLength []byte // the last Content-Length value, nil if none
	chunked       bool   // Transfer-Encoding is present
	cookies       cookieHeaders
}

// cookieHeaders are the Cookie header values of a request head, for
// stickiness (sticky.go): slices of the head, nothing copied or parsed.
type cookieHeaders struct {
	v [4][]byte
	n int
}

func (c *cookieHeaders) add(v []byte) {
	if c.n < len(c.v) {
		c.v[c.n] = v
		c.n++
	}
}

func (c *cookieHeaders) values() [][]byte { return c.v[:c.n] }

// cookieValue finds the value of the cookie name in Cookie header values
// ("a=1; b=2"), or nil. Only stickiness calls it, and only when it is on.
func cookieValue(headers [][]byte, name string) []byte {
	for _, h := range headers {
		for len(h) > 0 {
			var pair []byte
			pair, h, _ = bytes.Cut(h, []byte(";"))
			k, v, ok := bytes.Cut(bytes.Trim(pair, " \t"), []byte("="))
			if ok && string(k) == name {
				return bytes.Trim(v, `"`)
			}
		}
	}
	return nil
}

// requestCookies are the Cookie values of a request net/http parsed (plain
// HTTP), for stickiness.
func requestCookies(r *http.Request) [][]byte {
	vs := r.Header["Cookie"]
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = []byte(v)
	}
	return out
}

// setsCookie reports whether a response head sets the cookie name.
func setsCookie(head []byte, name string) bool {
	_, rest, _ := bytes.Cut(head, crlf)
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, crlf)
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && asciiEqualFold(k, "set-cookie") {
			if n, _, ok := bytes.Cut(bytes.TrimLeft(v, " \t"), []byte("=")); ok && string(n) == name {
				return true
			}
		}
	}
	return false
}

// withSetCookies returns the response head (through its blank line at
// end) with Set-Cookie lines added, and what follows it: a new buffer, and
// where its head ends.
func withSetCookies(in []byte, end int, cookies []string) ([]byte, int) {
	n := 0
	for _, c := range cookies {
		n += len("Set-Cookie: \r\n") + len(c)
	}
	out := make([]byte, 0, len(in)+n)
	out = append(out, in[:end-2]...)
	for _, c := range cookies {
		out = append(append(append(out, "Set-Cookie: "...), c...), crlf...)
	}
	out = append(out, in[end-2:]...)
	return out, end + n
}

// fieldRole says what becomes of a header field of the client's upgrade.
type fieldRole uint8

const (
	roleForward fieldRole = iota // sent on as it is
	roleHost                     // written by appendRequestHead
	roleXFF                      // X-Forwarded-For: extended with the client's address
	roleDrop                     // replaced (X-Forwarded-Proto/Port) or hop-by-hop
)

// field notes one header field and says what becomes of it.
func (u *upgradeHead) field(name, value []byte) fieldRole {
	switch {
	case asciiEqualFold(name, "host"):
		u.hosts++
		return roleHost
	case asciiEqualFold(name, "upgrade"):
		if u.upgrades++; u.upgrades == 1 {
			u.upgrade = value
		}
		return roleDrop // hop-by-hop; appendRequestHead writes the upgrade's own
	case asciiEqualFold(name, "connection"):
		if u.nconn < len(u.conn) {
			u.conn[u.nconn] = value
		}
		u.nconn++
		u.connUpgrade = u.connUpgrade || hasToken(value, "upgrade")
		u.connOther = u.connOther || namesOtherFields(value)
		return roleDrop
	case asciiEqualFold(name, "sec-websocket-key"):
		if u.keys++; u.keys == 1 {
			u.key = value
		}
	case asciiEqualFold(name, "sec-websocket-version"):
		if u.versions++; u.versions == 1 {
			u.version = value
		}
	case asciiEqualFold(name, "cookie"):
		u.cookies.add(value) // forwarded: the backend's cookies ride along
	case asciiEqualFold(name, "content-length"):
		u.contentLength = value
	case asciiEqualFold(name, "transfer-encoding"):
		u.chunked = true
		return roleDrop
	case asciiEqualFold(name, "x-forwarded-for"):
		return roleXFF
	case asciiEqualFold(name, "x-forwarded-proto"), asciiEqualFold(name, "x-forwarded-port"),
		asciiEqualFold(name, "keep-alive"), asciiEqualFold(name, "proxy-connection"),
		asciiEqualFold(name, "proxy-authenticate"), asciiEqualFold(name, "proxy-authorization"),
		asciiEqualFold(name, "te"), asciiEqualFold(name, "trailer"):
		return roleDrop
	}
	return roleForward
}

// roleOf says what becomes of a header field named name.
func roleOf(name []byte) fieldRole {
	var u upgradeHead
	return u.field(name, nil)
}

// namesOtherFields reports whether a Connection value lists a field name
// besides the options upgrade, keep-alive and close: that field is
// hop-by-hop too.
func namesOtherFields(v []byte) bool {
	for len(v) > 0 {
		var f []byte
		f, v, _ = bytes.Cut(v, []byte(","))
		f = bytes.Trim(f, " \t")
		if len(f) > 0 && !asciiEqualFold(f, "upgrade") && !asciiEqualFold(f, "keep-alive") && !asciiEqualFold(f, "close") {
			return true
		}
	}
	return false
}

// listedInConnection reports whether Connection names the field name, which
// is then not forwarded.
func (u *upgradeHead) listedInConnection(name []byte) bool {
	for _, v := range u.conn[:min(u.nconn, len(u.conn))] {
		for len(v) > 0 {
			var f []byte
			f, v, _ = bytes.Cut(v, []byte(","))
			if bytes.EqualFold(bytes.Trim(f, " \t"), name) {
				return true
			}
		}
	}
	return false
}

// attempt reports whether the head asks for an upgrade at all; one that
// does not is ordinary HTTP.
func (u *upgradeHead) attempt() bool { return u.upgrades > 0 || u.connUpgrade }

// verdict is the rule table: why the head is refused (400 and the reason),
// or 0 for a valid WebSocket upgrade. Only a head that is an attempt, or
// that has both Content-Length and Transfer-Encoding, is refused.
func (u *upgradeHead) verdict() (int, string) {
	if u.chunked && u.contentLength != nil {
		return http.StatusBadRequest, "Content-Length together with Transfer-Encoding is not allowed (RFC 9112 §6.3): send one"
	}
	if !u.attempt() {
		return 0, ""
	}
	switch {
	case string(u.method) != http.MethodGet:
		return http.StatusBadRequest, fmt.Sprintf("a websocket upgrade must be a GET, not %s", trim(string(u.method)))
	case string(u.proto) != "HTTP/1.1":
		return http.StatusBadRequest, fmt.Sprintf("a websocket upgrade needs HTTP/1.1, not %s", trim(string(u.proto)))
	case u.upgrades > 1:
		return http.StatusBadRequest, "more than one Upgrade header: send one, Upgrade: websocket"
	case !asciiEqualFold(u.upgrade, "websocket"):
		return http.StatusBadRequest, fmt.Sprintf("Upgrade %q is not supported: only websocket", trim(string(u.upgrade)))
	case !u.connUpgrade:
		return http.StatusBadRequest, `the Connection header lacks "upgrade"`
	case u.nconn > len(u.conn):
		return http.StatusBadRequest, fmt.Sprintf("%d Connection headers: list the options in one", u.nconn)
	case u.chunked || len(bytes.Trim(u.contentLength, "0")) > 0: // Content-Length: 0 is no body
		return http.StatusBadRequest, "a websocket upgrade carries no body: drop Content-Length and Transfer-Encoding"
	case u.keys == 0:
		return http.StatusBadRequest, "missing Sec-WebSocket-Key"
	case u.keys > 1:
		return http.StatusBadRequest, "more than one Sec-WebSocket-Key"
	case !validKey(u.key):
		return http.StatusBadRequest, fmt.Sprintf("Sec-WebSocket-Key %q is not 16 base64-encoded bytes", trim(string(u.key)))
	case u.versions > 1:
		return http.StatusBadRequest, "more than one Sec-WebSocket-Version"
	case string(u.version) != "13":
		return http.StatusBadRequest, fmt.Sprintf("Sec-WebSocket-Version %q is not supported: want 13", trim(string(u.version)))
	}
	return 0, ""
}

// validKey reports whether a Sec-WebSocket-Key is 16 bytes in base64.
func validKey(key []byte) bool {
	if len(key) != 24 { // also keeps Decode within k
		return false
	}
	var k [18]byte
	n, err := base64.StdEncoding.Decode(k[:], key)
	return err == nil && n == 16
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// upgradeReq is a valid WebSocket upgrade request, as the backend will get
// it.
type upgradeReq struct {
	uri, host  []byte
	lines      []byte // header lines "Name: value\r\n" to forward as they are
	xff        []byte // X-Forwarded-For the client sent, empty if none
	clientAddr string // ip:port
	tls        bool
	port       string // the listener's port, for X-Forwarded-Port
	pending    []byte // bytes the client sent after the request head
	// cookies are the Cookie values, for stickiness: slices of the head,
	// good until the request is sent to the backend.
	cookies cookieHeaders
}

// headVerdict is what a front door does with a request head it read.
type headVerdict uint8

const (
	headUpgrade headVerdict = iota // a valid upgrade: tunnel it
	headRefuse                     // answer the refusal and hang up
	headNetHTTP                    // ordinary HTTP, or a head net/http parses: pass it on
)

// parseUpgrade reads a request head that a front door read itself, in one
// pass. A valid upgrade comes back with the lines to forward appended to
// lines; a head the rules refuse, with the code and reason; anything else
// — ordinary HTTP, or a head only net/http parses (folded lines, an
// absolute URI, bytes that are not allowed, no Host or two) — goes to
// net/http, which applies the same rules through checkUpgrade.
func parseUpgrade(h, lines []byte) (req upgradeReq, v headVerdict, code int, reason string) {
	line, rest, _ := bytes.Cut(h, crlf)
	method, target, ok1 := bytes.Cut(line, []byte(" "))
	uri, proto, ok2 := bytes.Cut(target, []byte(" "))
	if !ok1 || !ok2 || !isToken(method) || string(proto) != "HTTP/1.1" && string(proto) != "HTTP/1.0" {
		return req, headNetHTTP, 0, ""
	}
	// Only a GET of a path goes to a backend from here; any other request
	// is read on for what the rules refuse whatever the method.
	plain := string(method) == http.MethodGet && string(proto) == "HTTP/1.1" && len(uri) > 0 && uri[0] == '/'
	for _, c := range uri {
		if c <= ' ' || c >= 0x7f {
			return req, headNetHTTP, 0, ""
		}
	}
	u := upgradeHead{method: method, proto: proto}
	req.uri = uri
	for {
		line, rest, _ = bytes.Cut(rest, crlf)
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !isToken(name) {
			return req, headNetHTTP, 0, ""
		}
		value = bytes.Trim(value, " \t")
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return req, headNetHTTP, 0, ""
			}
		}
		switch u.field(name, value) {
		case roleHost:
			req.host = value
		case roleXFF:
			if len(req.xff) > 0 {
				req.xff = append(req.xff, ", "...)
			}
			req.xff = append(req.xff, value...)
		case roleForward:
			lines = append(append(lines, line...), crlf...)
		}
	}
	if u.hosts != 1 {
		return req, headNetHTTP, 0, "" // net/http answers a missing or second Host itself
	}
	if code, reason = u.verdict(); code != 0 {
		return req, headRefuse, code, reason
	}
	if !u.attempt() || !plain {
		return req, headNetHTTP, 0, ""
	}
	if u.connOther {
		lines = dropListed(lines, &u)
	}
	req.lines, req.cookies = lines, u.cookies
	return req, headUpgrade, 0, ""
}

// dropListed removes from lines the fields that Connection names.
func dropListed(lines []byte, u *upgradeHead) []byte {
	out := lines[:0]
	for rest := lines; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, crlf)
		name, _, _ := bytes.Cut(line, []byte(":"))
		if !u.listedInConnection(name) {
			out = append(append(out, line...), crlf...) // never ahead of what it reads
		}
	}
	return out
}

// checkUpgrade applies the rules to a request net/http parsed. It returns
// why r is refused, or 0 and the upgrade request for the backend. (net/http
// drops Content-Length when Transfer-Encoding is present, so a later
// request on a keep-alive connection that has both is read as chunked, as
// RFC 9112 §6.3 allows; only the front doors see the first head raw.)
func checkUpgrade(r *http.Request) (req upgradeReq, code int, reason string) {
	u := upgradeHead{method: []byte(r.Method), proto: []byte(r.Proto)}
	u.field([]byte("Host"), []byte(r.Host))
	for k, vs := range r.Header {
		for _, v := range vs {
			u.field([]byte(k), []byte(v))
		}
	}
	// net/http took these out of the header map.
	if len(r.TransferEncoding) > 0 {
		u.chunked = true
	}
	if r.ContentLength > 0 {
		u.contentLength = strconv.AppendInt(nil, r.ContentLength, 10)
	}
	if code, reason = u.verdict(); code != 0 {
		return req, code, reason
	}
	var xff [][]byte
	for k, vs := range r.Header {
		role := roleOf([]byte(k))
		if role == roleXFF {
			for _, v := range vs {
				xff = append(xff, []byte(v))
			}
		}
		if role != roleForward || u.listedInConnection([]byte(k)) {
			continue
		}
		for _, v := range vs {
			req.lines = append(append(append(append(req.lines, k...), ": "...), v...), crlf...)
		}
	}
	req.uri, req.host, req.xff, req.cookies = []byte(r.RequestURI), []byte(r.Host), bytes.Join(xff, []byte(", ")), u.cookies
	return req, 0, ""
}

// isUpgradeAttempt reports whether a request net/http parsed asks for an
// upgrade; such a request is never proxied as ordinary HTTP.
func isUpgradeAttempt(r *http.Request) bool {
	return len(r.Header["Upgrade"]) > 0 || headerHasToken(r.Header, "Connection", "upgrade")
}

// appendRequestHead appends the request line and headers for the backend:
// the client's Host and end-to-end fields kept, X-Forwarded-* added, and
// the upgrade's Connection and Upgrade written once.
func appendRequestHead(out []byte, req *upgradeReq) []byte {
	out = append(out, "GET "...)
	out = append(out, req.uri...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, req.host...)
	out = append(out, "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"...)
	out = append(out, req.lines...)
	out = append(out, "X-Forwarded-For: "...)
	if len(req.xff) > 0 {
		out = append(append(out, req.xff...), ", "...)
	}
	out = append(out, hostOf(req.clientAddr)...)
	out = append(out, "\r\nX-Forwarded-Proto: "...)
	if req.tls {
		out = append(out, "https"...)
	} else {
		out = append(out, "http"...)
	}
	out = append(out, "\r\nX-Forwarded-Port: "...)
	out = append(out, req.port...)
	return append(out, "\r\n\r\n"...)
}

// answerKind is what becomes of the backend's answer to the upgrade.
type answerKind uint8

const (
	answerTunnel answerKind = iota // 101 to websocket: join the two connections
	answerRelay                    // any other answer: send it to the client as it is
	answerRefuse                   // not a valid answer: the client hears 502
)

// classifyAnswer reads the backend's response head (through its blank
// line) and says what becomes of it; for answerRefuse, the 502's reason.
func classifyAnswer(backend string, head []byte) (answerKind, string) {
	line, rest, _ := bytes.Cut(head, crlf)
	proto, status, _ := bytes.Cut(line, []byte(" "))
	code := 0
	if bytes.HasPrefix(proto, []byte("HTTP/1.")) && len(status) >= 3 {
		code, _ = strconv.Atoi(string(status[:3]))
	}
	if code < 100 {
		return answerRefuse, fmt.Sprintf("backend %s: no valid handshake response: malformed status line %q", backend, trim(string(line)))
	}
	if code != http.StatusSwitchingProtocols {
		return answerRelay, ""
	}
	var upgrade []byte
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && asciiEqualFold(name, "upgrade") {
			upgrade = bytes.TrimSpace(value)
		}
	}
	if !asciiEqualFold(upgrade, "websocket") {
		return answerRefuse, fmt.Sprintf("backend %s switched to %q, not websocket", backend, upgrade)
	}
	return answerTunnel, ""
}
