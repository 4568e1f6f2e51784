package balancer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The front door is the plain listener's own accept loop. It reads the
// first request head of each connection itself, in one pass and into a
// pooled buffer, and when that is a valid WebSocket upgrade goes straight
// to the backend with it. Anything else — ordinary HTTP, a malformed or
// unusual upgrade, a head too long for the buffer — is passed to net/http
// with the bytes read so far replayed, and is answered exactly as before.
// Measured on this machine kind, net/http's server around a handler that
// hijacks (a request and header map, a background read with its own
// goroutine and system call, the hijack itself) cost about a third of the
// balancer's CPU per handshake.
//
// On Linux the event loops of loop_linux.go do the front door's work for
// the plain listener, with the same parseUpgrade and the same handoff;
// the goroutine per connection below serves where there are none.

// goroutinesOnly makes the front door serve with goroutines even where
// event loops are available (tests of that path set it).
var goroutinesOnly bool

// serveFront starts the accept loop on ln and srv for the connections it
// passes on.
func (b *Balancer) serveFront(srv *http.Server, ln net.Listener) {
	h := &handoff{ln: ln, conns: make(chan net.Conn), done: make(chan struct{})}
	port := ""
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		port = strconv.Itoa(a.Port)
	}
	b.addrs = append(b.addrs, ln.Addr().String())
	b.handoffs = append(b.handoffs, h)
	b.serveWG.Add(1)
	go func() {
		defer b.serveWG.Done()
		srv.Serve(h)
	}()
	if !goroutinesOnly && b.startLoops(h, port) {
		return
	}
	b.serveWG.Add(1)
	go func() {
		defer b.serveWG.Done()
		b.accept(h, port)
	}()
}

func (b *Balancer) accept(h *handoff, port string) {
	var delay time.Duration
	for {
		c, err := h.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, say: wait and try again, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			b.log.Warn("accept failed; retrying", "err", err, "in", delay)
			select {
			case <-time.After(delay):
			case <-h.done:
				return
			}
			continue
		}
		delay = 0
		b.serveWG.Add(1)
		go b.front(c, h, port)
	}
}

// front serves one new connection's first request.
func (b *Balancer) front(c net.Conn, h *handoff, port string) {
	defer b.serveWG.Done()
	snap := b.snap.Load()
	timeout := time.Duration(snap.cfg.Listener.HeaderTimeout)
	bp := headPool.Get().(*[]byte)
	defer headPool.Put(bp)
	buf := (*bp)[:cap(*bp)]

	stop := context.AfterFunc(b.ctx, func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(timeout)) // wall clock, as net/http's: no scenario controls it
	n, end, err := readHead(c, buf)
	stop()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.Write(requestTimeout(timeout))
		c.Close()
		return
	case errors.Is(err, errHeadTooLarge):
		h.give(c, buf[:n], timeout)
		return
	case err != nil:
		c.Close() // gone before the head was complete
		return
	}
	c.SetReadDeadline(time.Time{})

	lp := headPool.Get().(*[]byte)
	defer headPool.Put(lp)
	req, ok := parseUpgrade(buf[:end], (*lp)[:0])
	if !ok {
		h.give(c, buf[:n], timeout)
		return
	}
	*lp = req.lines[:0] // keep a buffer that grew
	req.clientAddr = c.RemoteAddr().String()
	req.port = port
	req.pending = buf[end:n]
	b.tunnelUpgrade(c, &req, snap)
}

// requestTimeout is the answer to a client too slow to send its request
// head.
func requestTimeout(d time.Duration) []byte {
	return fmt.Appendf(nil, "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+
		"408 Request Timeout: the request headers did not arrive within %s\n", d)
}

// parseUpgrade reads a request head that the front door may take itself:
// a GET over HTTP/1.1 with one Host, Upgrade: websocket, Connection:
// upgrade, a valid Sec-WebSocket-Key and version 13, no body, and nothing
// unusual (folded lines, bytes that are not allowed). Every other head
// reports false and goes to net/http. The header lines to forward (all but
// Host and X-Forwarded-*) are appended to lines.
func parseUpgrade(h, lines []byte) (req upgradeReq, ok bool) {
	line, rest, _ := bytes.Cut(h, crlf)
	if len(line) <= len("GET  HTTP/1.1") || !bytes.HasPrefix(line, []byte("GET ")) || !bytes.HasSuffix(line, []byte(" HTTP/1.1")) {
		return req, false
	}
	uri := line[len("GET ") : len(line)-len(" HTTP/1.1")]
	if len(uri) == 0 || uri[0] != '/' {
		return req, false
	}
	for _, c := range uri {
		if c <= ' ' || c >= 0x7f {
			return req, false
		}
	}
	req.uri = uri
	var host, upgrade, key, version, connUpgrade bool
	for {
		line, rest, _ = bytes.Cut(rest, crlf)
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !isToken(name) {
			return req, false
		}
		value = bytes.Trim(value, " \t")
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return req, false
			}
		}
		keep := true
		switch {
		case asciiEqualFold(name, "host"):
			if host {
				return req, false
			}
			host, keep, req.host = true, false, value
		case asciiEqualFold(name, "upgrade"):
			if upgrade || !asciiEqualFold(value, "websocket") {
				return req, false
			}
			upgrade = true
		case asciiEqualFold(name, "connection"):
			connUpgrade = connUpgrade || hasToken(value, "upgrade")
		case asciiEqualFold(name, "sec-websocket-key"):
			if key || !validKey(value) {
				return req, false
			}
			key = true
		case asciiEqualFold(name, "sec-websocket-version"):
			if version || string(value) != "13" {
				return req, false
			}
			version = true
		case asciiEqualFold(name, "content-length"), asciiEqualFold(name, "transfer-encoding"):
			return req, false
		case asciiEqualFold(name, "x-forwarded-for"):
			if len(req.xff) > 0 {
				req.xff = append(req.xff, ", "...)
			}
			req.xff = append(req.xff, value...)
			keep = false
		case asciiEqualFold(name, "x-forwarded-proto"), asciiEqualFold(name, "x-forwarded-port"):
			keep = false
		}
		if keep {
			lines = append(append(lines, line...), crlf...)
		}
	}
	req.lines = lines
	return req, host && upgrade && connUpgrade && key && version
}

var crlf = []byte("\r\n")

// tokenChars are the bytes allowed in a header name (RFC 9110 tchar).
var tokenChars = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenChars[c] {
			return false
		}
	}
	return len(b) > 0
}

// asciiEqualFold compares b to the lower-case ASCII s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v has token.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var f []byte
		f, v, _ = bytes.Cut(v, []byte(","))
		if asciiEqualFold(bytes.Trim(f, " \t"), token) {
			return true
		}
	}
	return false
}

// handoff is the listener net/http serves: the connections the front door
// passes on.
type handoff struct {
	ln    net.Listener // the real one, closed with this
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	loops []*loop // the event loops accepting from ln, if any
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() {
		close(h.done)
		for _, l := range h.loops {
			l.stopAccepting()
		}
	})
	return h.ln.Close()
}

func (h *handoff) Addr() net.Addr { return h.ln.Addr() }

// give passes c to net/http, which reads read first.
func (h *handoff) give(c net.Conn, read []byte, timeout time.Duration) {
	c.SetReadDeadline(time.Time{})
	rc := &replayConn{Conn: c, pending: bytes.Clone(read)}
	select {
	case h.conns <- &headerConn{Conn: rc, timeout: timeout}:
	case <-h.done:
		c.Close()
	}
}

// replayConn returns the bytes the front door read before reading on.
type replayConn struct {
	net.Conn
	pending []byte // only net/http's goroutine for the connection reads it
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// SyscallConn lets a tunnel read the socket itself once nothing is left to
// replay; until then its pump must read through Read.
func (c *replayConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok && len(c.pending) == 0 {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
