//go:build !unix

package balancer

import (
	"net"
	"sync/atomic"
)

// copyConn is the plain copy: Windows' raw connections cannot park a read
// until the socket is readable the way the pumps on Unix do, so each pump
// holds its buffer while it waits. It reports whether the read side ended
// the copy, and the error (nil for the end of the stream).
func (p *netPair) copyConn(tn *tunnel, src, dst net.Conn, up bool) (bool, error) {
	return p.pumpPlain(tn, src, dst, up)
}

// sockWriter writes plainly here: a write that finds the socket full is
// not seen, and Status.BlockedWrites counts only the event loop's.
type sockWriter struct{}

func (*sockWriter) write(c net.Conn, _ *atomic.Uint64, p []byte) error {
	_, err := c.Write(p)
	return err
}
