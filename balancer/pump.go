package balancer

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// bufPool holds the copy buffers. A pump borrows one only while its socket
// has data, so an idle tunnel holds none (see PERF-NOTES).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pump copies src to dst until either side fails, then ends the tunnel.
// up is the client→backend direction.
func (tn *tunnel) pump(src, dst net.Conn, up bool) {
	defer tn.b.wg.Done()
	var readSide bool
	if sc, ok := src.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			readSide = tn.pumpRaw(rc, dst, up)
			tn.finish(up, readSide)
			return
		}
	}
	readSide = tn.pumpPlain(src, dst, up)
	tn.finish(up, readSide)
}

// deliver writes one chunk onward and counts it.
func (tn *tunnel) deliver(dst net.Conn, p []byte, up bool) error {
	tn.touch()
	if !up {
		return tn.writeClient(p)
	}
	_, err := dst.Write(p)
	tn.t.b.bytesUp.Add(uint64(len(p)))
	return err
}

// pumpPlain is the portable copy (TLS clients): it holds a buffer while it
// waits. It reports whether the read side ended the copy.
func (tn *tunnel) pumpPlain(src, dst net.Conn, up bool) bool {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		n, err := src.Read(*bp)
		if n > 0 {
			if werr := tn.deliver(dst, (*bp)[:n], up); werr != nil {
				return false
			}
		}
		if err != nil {
			return true
		}
	}
}

// pumpRaw borrows a buffer to read what is there and gives it back as soon
// as the socket would block, so it waits for readability holding none. It
// reports whether the read side ended the copy.
func (tn *tunnel) pumpRaw(rc syscall.RawConn, dst net.Conn, up bool) bool {
	var st rawRead
	defer st.release()
	read := st.read // one closure for the tunnel's life, not one per read
	for {
		err := rc.Read(read)
		switch {
		case err != nil || st.err != nil:
			return true
		case st.n == 0:
			return true // EOF
		}
		if werr := tn.deliver(dst, (*st.buf)[:st.n], up); werr != nil {
			return false
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
