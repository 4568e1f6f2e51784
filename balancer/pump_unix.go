//go:build unix

package balancer

import (
	"errors"
	"net"
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
