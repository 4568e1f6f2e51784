package balancer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wslab/wslab/events"
)

// checkUpgrade returns why r is not a valid WebSocket upgrade, or "".
func checkUpgrade(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet:
		return fmt.Sprintf("a websocket upgrade must be a GET, not %s", r.Method)
	case !r.ProtoAtLeast(1, 1):
		return fmt.Sprintf("a websocket upgrade needs HTTP/1.1, not %s", r.Proto)
	case !strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		return fmt.Sprintf("Upgrade %q is not supported: only websocket", r.Header.Get("Upgrade"))
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return `the Connection header lacks "upgrade"`
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		return "missing Sec-WebSocket-Key"
	}
	if !validKey([]byte(key)) {
		return fmt.Sprintf("Sec-WebSocket-Key %q is not 16 base64-encoded bytes", trim(key))
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return fmt.Sprintf("Sec-WebSocket-Version %q is not supported: want 13", trim(v))
	}
	return ""
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

// fail answers with a one-line plain-text reason.
func fail(w http.ResponseWriter, code int, reason string) {
	if code == http.StatusBadRequest && strings.HasPrefix(reason, "Sec-WebSocket-Version") {
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s: %s\n", code, http.StatusText(code), reason)
}

// serveUpgrade handles an upgrade that reached net/http (TLS, a keep-alive
// connection's later request, or one the front door passed on): a malformed
// one gets 400 with the reason; a valid one is taken off net/http and
// continues as the front door's would.
func (b *Balancer) serveUpgrade(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	if reason := checkUpgrade(r); reason != "" {
		fail(w, http.StatusBadRequest, reason)
		return
	}
	cc, crw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fail(w, http.StatusInternalServerError, fmt.Sprintf("cannot take over the connection: %v", err))
		return
	}
	var lines []byte
	var xff []string
	for k, vs := range r.Header {
		switch k {
		case "X-Forwarded-For":
			xff = vs
			continue
		case "X-Forwarded-Proto", "X-Forwarded-Port":
			continue
		}
		for _, v := range vs {
			lines = append(append(append(append(lines, k...), ": "...), v...), "\r\n"...)
		}
	}
	req := upgradeReq{
		uri: []byte(r.RequestURI), host: []byte(r.Host), lines: lines, xff: []byte(strings.Join(xff, ", ")),
		clientAddr: r.RemoteAddr, tls: r.TLS != nil, port: localPort(r),
	}
	if n := crw.Reader.Buffered(); n > 0 {
		req.pending, _ = crw.Reader.Peek(n)
	}
	b.tunnelUpgrade(cc, &req, snap)
}

// upgradeReq is a valid WebSocket upgrade request, as the backend will get
// it.
type upgradeReq struct {
	uri, host  []byte
	lines      []byte // header lines "Name: value\r\n", less Host and X-Forwarded-*
	xff        []byte // X-Forwarded-For the client sent, empty if none
	clientAddr string // ip:port
	tls        bool
	port       string // the listener's port, for X-Forwarded-Port
	pending    []byte // bytes the client sent after the request head
}

// tunnelUpgrade picks a backend, dials it (trying the next one after a
// refused dial), forwards the handshake and, on 101, joins the two
// connections into a tunnel. It owns client from here on.
func (b *Balancer) tunnelUpgrade(client net.Conn, req *upgradeReq, snap *snapshot) {
	code, reason := b.pickAndTry(hostOf(req.clientAddr), snap, snap.policy, true, func(t *target) error {
		bc, err := b.dial(t)
		if err != nil && b.ctx.Err() != nil { // closing: not the backend's fault
			b.refuse(client, 0, "")
			return nil
		}
		if err != nil {
			return err
		}
		b.handshake(client, req, snap, t, bc)
		return nil
	})
	if code != 0 {
		b.refuse(client, code, reason)
	}
}

// refuse answers a client that gets no tunnel and hangs up.
func (b *Balancer) refuse(client net.Conn, code int, reason string) {
	client.Write(b.refusal(code, reason))
	client.Close()
}

// refusal is the answer for a client that gets no tunnel: code with
// reason, or 503 whatever they say once the balancer is closing.
func (b *Balancer) refusal(code int, reason string) []byte {
	if b.ctx.Err() != nil {
		code, reason = http.StatusServiceUnavailable, "the balancer is shutting down"
	}
	return failure(code, reason)
}

// dial connects to a backend. There is no TCP keep-alive: the idle timeout
// watches the tunnel. (Dialer.DialTCP would skip parsing the address, but
// it binds the socket to a local port before connecting — a system call
// that searched the port range for seconds once thousands of connections
// had closed, and then failed.)
func (b *Balancer) dial(t *target) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1, Timeout: dialTimeout}
	return d.DialContext(b.ctx, "tcp", t.addr)
}

// dialTimeout bounds connecting to a backend. It guards against a network
// that drops packets; scenarios refuse or accept, they never hold a dial.
const dialTimeout = 5 * time.Second

// pickAndTry picks backends with pol and hands each to try until one takes
// the request. try returns an error only when the backend refused the
// connection: that is a passive failure, and the next backend is tried
// (bounded by retries, and only if the request can be sent again). It
// returns the answer for the client when none took it: 503 with no backend
// to pick, 502 when all refused; 0 otherwise.
func (b *Balancer) pickAndTry(clientIP string, snap *snapshot, pol policy, replayable bool, try func(*target) error) (int, string) {
	a := attempts{b: b, clientIP: clientIP, snap: snap, pol: pol, replayable: replayable}
	for t := a.next(); t != nil; t = a.next() {
		err := try(t)
		if err == nil {
			return 0, ""
		}
		a.failed(t, err)
	}
	return a.answer()
}

// attempts is pickAndTry's walk over the backends, one step at a time, for
// callers that learn later whether a backend took the connection.
type attempts struct {
	b          *Balancer
	clientIP   string
	snap       *snapshot
	pol        policy
	replayable bool
	tried      []*target
	last       error
}

// next picks the backend to try now, or nil when there is none left to try.
func (a *attempts) next() *target {
	if len(a.tried) > *a.snap.cfg.ServerGroup.Retries || len(a.tried) > 0 && !a.replayable {
		return nil // out of retries, or the body is spent and cannot be sent again
	}
	cands := a.snap.candidates(a.tried)
	if len(cands) == 0 {
		return nil
	}
	return a.pol.pick(cands, a.clientIP)
}

// failed records that t refused the connection: a passive failure.
func (a *attempts) failed(t *target, err error) {
	t.b.failures.Add(1)
	a.b.publish(events.Event{Kind: events.BackendFailure, Backend: t.name, Detail: err.Error()})
	a.last = fmt.Errorf("backend %s: %w", t.name, err)
	a.tried = append(a.tried, t)
}

// answer is what the client hears when no backend took the connection.
func (a *attempts) answer() (int, string) {
	if a.last == nil {
		return http.StatusServiceUnavailable, "no healthy backend in the server group"
	}
	return http.StatusBadGateway, fmt.Sprintf("no backend could be reached (tried %d): %v", len(a.tried), a.last)
}

// handshake forwards the upgrade request to the backend and relays its
// answer; on 101 the two connections become a tunnel. The backend has the
// idle timeout, on the balancer's clock, to answer. It owns client and bc.
func (b *Balancer) handshake(client net.Conn, req *upgradeReq, snap *snapshot, t *target, bc net.Conn) {
	timer := b.clock.AfterFunc(snap.idleTimeout(), func() { bc.Close() }, "balancer", "handshake")
	defer timer.Stop()
	// Close does not wait for a backend that is slow to answer.
	stop := context.AfterFunc(b.ctx, func() { bc.Close() })
	defer stop()
	bp := headPool.Get().(*[]byte)
	defer headPool.Put(bp)
	out := appendRequestHead((*bp)[:0], req)
	headLen := len(out)
	out = append(out, req.pending...) // what the client sent early goes right behind
	*bp = out[:0]                     // keep a buffer that grew
	if _, err := bc.Write(out); err != nil {
		b.failHandshake(client, bc, fmt.Sprintf("backend %s: send handshake: %v", t.name, err))
		return
	}
	t.b.bytesUp.Add(uint64(len(out) - headLen))
	rp := headPool.Get().(*[]byte)
	defer headPool.Put(rp)
	in := (*rp)[:cap(*rp)]
	n, end, err := readHead(bc, in)
	if err != nil {
		b.failHandshake(client, bc, fmt.Sprintf("backend %s: no valid handshake response: %v", t.name, err))
		return
	}
	timer.Stop()
	code, upgrade, ok := parseResponseHead(in[:end])
	switch {
	case !ok:
		b.failHandshake(client, bc, fmt.Sprintf("backend %s: no valid handshake response: malformed status line %q", t.name, trim(firstLine(in[:end]))))
		return
	case code != http.StatusSwitchingProtocols:
		relay(client, bc, in[:n])
		return
	case !strings.EqualFold(upgrade, "websocket"):
		b.failHandshake(client, bc, fmt.Sprintf("backend %s switched to %q, not websocket", t.name, upgrade))
		return
	}
	// The tunnel is registered (status, counters, event) before the client
	// hears 101, so nothing a client can see is ahead of introspection.
	pair := &netPair{client: client, backend: bc}
	tn := b.newTunnel(snap, t, pair, req.clientAddr)
	if !b.registerTunnel(tn) {
		return
	}
	// The 101 and whatever the backend sent behind it, in one write.
	if err := pair.writeClientHead(tn, in[:n], end); err != nil {
		tn.close(ReasonClientClosed)
	}
	b.startPumps(tn) // on a closed tunnel they end at once
}

// failHandshake answers 502 with reason and closes both connections.
func (b *Balancer) failHandshake(client, bc net.Conn, reason string) {
	bc.Close()
	b.refuse(client, http.StatusBadGateway, reason)
}

// Handshake buffers are pooled: thousands of handshakes a second must not
// leave thousands of buffers for the collector (and in the resident set).
var headPool = sync.Pool{New: func() any { b := make([]byte, 0, headSize); return &b }}

// headSize is the largest request or response head the fast path reads; a
// longer request goes to net/http, which applies listener.max_header_bytes.
const headSize = 8 << 10

// appendRequestHead appends the request line and headers for the backend,
// with the client's Host and Origin kept and X-Forwarded-* added.
func appendRequestHead(out []byte, req *upgradeReq) []byte {
	out = append(out, "GET "...)
	out = append(out, req.uri...)
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, req.host...)
	out = append(out, "\r\n"...)
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

// readHead reads from c into buf until the blank line that ends an HTTP
// head. It returns how much it read and where the head ends.
func readHead(c net.Conn, buf []byte) (n, end int, err error) {
	for {
		m, err := c.Read(buf[n:])
		from := max(0, n-3)
		n += m
		if i := bytes.Index(buf[from:n], crlfcrlf); i >= 0 {
			return n, from + i + 4, nil
		}
		if err != nil {
			return n, 0, err
		}
		if n == len(buf) {
			return n, 0, errHeadTooLarge
		}
	}
}

var (
	crlfcrlf        = []byte("\r\n\r\n")
	errHeadTooLarge = fmt.Errorf("head larger than %d bytes", headSize)
)

// parseResponseHead reads the status code and the Upgrade header of a
// response head.
func parseResponseHead(h []byte) (code int, upgrade string, ok bool) {
	line, rest, _ := bytes.Cut(h, []byte("\r\n"))
	proto, status, _ := bytes.Cut(line, []byte(" "))
	if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(status) < 3 {
		return 0, "", false
	}
	code, err := strconv.Atoi(string(status[:3]))
	if err != nil || code < 100 {
		return 0, "", false
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && asciiEqualFold(name, "upgrade") {
			upgrade = string(bytes.TrimSpace(value))
		}
	}
	return code, upgrade, true
}

func firstLine(h []byte) string {
	line, _, _ := bytes.Cut(h, []byte("\r\n"))
	return string(line)
}

// failure is fail's answer as raw bytes, for a connection net/http does not
// serve.
func failure(code int, reason string) []byte {
	body := fmt.Sprintf("%d %s: %s\n", code, http.StatusText(code), reason)
	extra := ""
	if code == http.StatusBadRequest && strings.HasPrefix(reason, "Sec-WebSocket-Version") {
		extra = "Sec-WebSocket-Version: 13\r\n"
	}
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n%s\r\n%s",
		code, http.StatusText(code), len(body), extra, body)
}

// relay sends a non-101 handshake answer (a 403 for a foreign Origin, say)
// back to the client as it is, body included up to 1 MiB, and closes both
// connections. head holds what was read of the answer so far.
func relay(client, bc net.Conn, head []byte) {
	defer client.Close()
	defer bc.Close()
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader(head), bc)), nil)
	if err != nil {
		client.Write(failure(http.StatusBadGateway, fmt.Sprintf("no valid handshake response: %v", err)))
		return
	}
	defer resp.Body.Close()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, 1<<20), resp.Body}
	resp.Close = true // the client asked for a tunnel; the connection ends here
	resp.Write(client)
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		_, port, _ := net.SplitHostPort(a.String())
		return port
	}
	return ""
}
