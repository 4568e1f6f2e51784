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

// pumpRaw copies with non-blocking reads inside one syscall.RawConn.Read
// call for the tunnel's whole life. It borrows a buffer only while the
// socket has data, and after a read that did not fill the buffer (the
// socket is drained) it waits for readability at once instead of reading
// again to be told "would block": the poller keeps every readiness edge
// seen since the call began, so no data can be missed. That saves a system
// call per message. It reports whether the read side ended the copy.
func (tn *tunnel) pumpRaw(rc syscall.RawConn, dst net.Conn, up bool) bool {
	p := rawPump{tn: tn, dst: dst, up: up}
	err := rc.Read(p.run)
	p.release()
	return err != nil || !p.writeFailed
}

// rawPump is the state of a pump's copy.
type rawPump struct {
	tn          *tunnel
	dst         net.Conn
	up          bool
	buf         *[]byte // borrowed from bufPool while the socket has data
	writeFailed bool
}

// run is the syscall.RawConn.Read callback: false parks the pump in the
// poller until the socket is readable, true ends the copy. A write inside
// it holds the source's read side: tunnel.close sets a write deadline
// before closing, so that Close never waits on a stuck write.
func (p *rawPump) run(fd uintptr) bool {
	for {
		if p.buf == nil {
			p.buf = bufPool.Get().(*[]byte)
		}
		n, err := readFD(fd, *p.buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			p.release()
			return false
		case err != nil || n == 0:
			return true // the peer hung up, or the socket failed
		}
		if werr := p.tn.deliver(p.dst, (*p.buf)[:n], p.up); werr != nil {
			p.writeFailed = true
			return true
		}
		if n < len(*p.buf) {
			p.release()
			return false
		}
	}
}

func (p *rawPump) release() {
	if p.buf != nil {
		bufPool.Put(p.buf)
		p.buf = nil
	}
}
