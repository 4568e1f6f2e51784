package balancer

import (
	"bytes"
	"context"
	"errors"
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
// the plain listener, with the same handshake core (handshake.go) and the
// same handoff; the goroutine per connection below serves where there are
// none.

// FrontDoor is how a balancer serves its plain listener.
type FrontDoor uint8

// Front doors.
const (
	EventLoop  FrontDoor = iota // an event loop per core where there is one (Linux), else goroutines
	Goroutines                  // an accept loop and a goroutine per connection, two per tunnel
)

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
	if b.frontDoor == EventLoop && b.startLoops(h, port) {
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
	case errors.Is(err, errBareLF):
		b.refuse(c, http.StatusBadRequest, bareLFReason)
		return
	case err != nil:
		c.Close() // gone before the head was complete
		return
	}
	c.SetReadDeadline(time.Time{})

	lp := headPool.Get().(*[]byte)
	defer headPool.Put(lp)
	req, verdict, code, reason := parseUpgrade(buf[:end], (*lp)[:0])
	switch verdict {
	case headNetHTTP:
		h.give(c, buf[:n], timeout)
		return
	case headRefuse:
		b.refuse(c, code, reason)
		return
	}
	*lp = req.lines[:0] // keep a buffer that grew
	req.clientAddr = c.RemoteAddr().String()
	req.port = port
	req.pending = buf[end:n]
	b.tunnelUpgrade(c, &req, snap)
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
