package balancer

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// headerListener wraps accepted connections so that a client too slow to
// send its request headers gets a specific 408 instead of net/http's
// generic 400.
type headerListener struct {
	net.Listener
	timeout time.Duration
}

func (l headerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &headerConn{Conn: c, timeout: l.timeout}, nil
}

type headerConn struct {
	net.Conn
	timeout time.Duration

	// mu guards the fields below.
	mu       sync.Mutex
	waiting  bool // net/http set a future read deadline: the header deadline
	answered bool // a 408 went out: later writes are dropped
}

// SetReadDeadline sees net/http arm the header deadline (a future time),
// clear it (zero) or abort a background read (a time in the past).
func (c *headerConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.waiting = !t.IsZero() && t.After(time.Now())
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *headerConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.mu.Lock()
		if c.waiting && !c.answered {
			c.answered = true
			c.Conn.Write(requestTimeout(c.timeout))
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *headerConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	answered := c.answered
	c.mu.Unlock()
	if answered {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// SyscallConn lets tunnels reach the socket itself (see pumpRaw).
func (c *headerConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}
