//go:build unix

package balancer

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
)

// copyConn copies with non-blocking raw reads where the connection offers
// them, so a waiting pump holds no buffer; otherwise (TLS) it copies plainly.
// It reports whether the read side ended the copy, and the error (nil for
// the end of the stream).
func (p *netPair) copyConn(tn *tunnel, src, dst net.Conn, up bool) (bool, error) {
	if sc, ok := src.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return p.pumpRaw(tn, rc, dst, up)
		}
	}
	return p.pumpPlain(tn, src, dst, up)
}

// pumpRaw borrows a buffer to read what is there and gives it back as soon
// as the socket would block, so it waits for readability holding none. It
// reports whether the read side ended the copy, and the error (nil for the
// end of the stream).
func (p *netPair) pumpRaw(tn *tunnel, rc syscall.RawConn, dst net.Conn, up bool) (bool, error) {
	var st rawRead
	defer st.release()
	read := st.read // one closure for the tunnel's life, not one per read
	for {
		err := rc.Read(read)
		switch {
		case err != nil:
			return true, err
		case st.err != nil:
			return true, st.err
		case st.n == 0:
			return true, nil // EOF
		}
		if werr := p.deliver(tn, dst, (*st.buf)[:st.n], up); werr != nil {
			return false, werr
		}
	}
}

// rawRead is the state of a pump's non-blocking reads.
type rawRead struct {
	buf *[]byte // borrowed from bufPool while the socket has data
	n   int
	err error
}

// read is the syscall.RawConn.Read callback: false parks the pump in the
// poller until the socket is readable. The buffer goes back to the pool
// before parking, so a waiting pump holds none; taking it from the pool is
// far cheaper than a system call to ask first whether data is there.
func (st *rawRead) read(fd uintptr) bool {
	if st.buf == nil {
		st.buf = bufPool.Get().(*[]byte)
	}
	st.n, st.err = readFD(fd, *st.buf)
	if errors.Is(st.err, syscall.EAGAIN) {
		st.err = nil
		st.release()
		return false
	}
	return true
}

func (st *rawRead) release() {
	if st.buf != nil {
		bufPool.Put(st.buf)
		st.buf = nil
	}
}

// readFD reads once from a non-blocking descriptor, retrying a read a
// signal interrupted.
func readFD(fd uintptr, p []byte) (int, error) {
	for {
		n, err := syscall.Read(int(fd), p)
		if err == syscall.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

// sockWriter is a copy's writes to one connection. On a socket it writes
// by hand, as net.Conn.Write does, so that a write that finds the socket
// full is counted (Status.BlockedWrites) before it waits for room: a peer
// that stopped reading shows in the counters, not only in a goroutine
// dump. Anything else (TLS) it writes plainly, uncounted. The cost on the
// way through is one indirect call per write; the count is taken only
// when the kernel said EAGAIN.
type sockWriter struct {
	rc      syscall.RawConn // nil: write plainly
	ready   bool            // rc and fn are set up
	fn      func(fd uintptr) bool
	p       []byte // what is left to write
	err     error
	waited  bool // this write found the socket full (and was counted)
	blocked *atomic.Uint64
}

// write writes all of p to c (the same c every time), counting in blocked
// each write that has to wait for room.
func (w *sockWriter) write(c net.Conn, blocked *atomic.Uint64, p []byte) error {
	if !w.ready {
		w.ready = true
		if sc, ok := c.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				w.rc, w.fn, w.blocked = rc, w.some, blocked
			}
		}
	}
	if w.rc == nil {
		_, err := c.Write(p)
		return err
	}
	w.p, w.err, w.waited = p, nil, false
	err := w.rc.Write(w.fn)
	w.p = nil
	if err != nil {
		if oe, ok := err.(*net.OpError); ok {
			oe.Op = "write" // as net.Conn.Write says it, not "raw-write"
		}
		return err
	}
	if w.err != nil {
		return &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", w.err)}
	}
	return nil
}

// some is the syscall.RawConn.Write callback: it writes what the socket
// takes, and returns false to wait for room (counted once per write).
func (w *sockWriter) some(fd uintptr) bool {
	for len(w.p) > 0 {
		n, err := syscall.Write(int(fd), w.p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if !w.waited {
				w.waited = true
				w.blocked.Add(1)
			}
			return false
		case err != nil:
			w.err = err
			return true
		}
		w.p = w.p[n:]
	}
	return true
}
