package lab

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// handlerListener is a handler node's listener. It remembers every
// connection it accepted, hijacked WebSockets included (net/http forgets a
// connection once it is hijacked), so that kill can drop them all and
// stop can wait for the handler to close them; and its connections carry
// the node's hang and slow faults.
type handlerListener struct {
	net.Listener
	h    *handlerNode
	open counter // connections not closed yet
	// upgradesEnded counts the upgraded connections closed, by anyone.
	upgradesEnded atomic.Int64

	// mu guards conns.
	mu    sync.Mutex
	conns map[*handlerConn]struct{}
}

func newHandlerListener(l net.Listener, h *handlerNode) *handlerListener {
	return &handlerListener{Listener: l, h: h, conns: make(map[*handlerConn]struct{})}
}

func (l *handlerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	hc := &handlerConn{Conn: c, l: l, closed: make(chan struct{})}
	l.mu.Lock()
	l.conns[hc] = struct{}{}
	l.mu.Unlock()
	l.open.add(1)
	return hc, nil
}

// dropAll closes every open connection without a WebSocket close frame,
// as the kernel does when a process dies; it returns how many it closed,
// upgraded (WebSockets) and not (plain HTTP, health checks).
func (l *handlerListener) dropAll() (upgraded, other int) {
	for _, c := range l.snapshot() {
		if c.upgraded.Load() {
			upgraded++
		} else {
			other++
		}
		c.Close()
	}
	return upgraded, other
}

func (l *handlerListener) snapshot() []*handlerConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	conns := make([]*handlerConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	return conns
}

// handlerConn is one connection of a handler node.
type handlerConn struct {
	net.Conn
	l        *handlerListener
	upgraded atomic.Bool   // hijacked by the handler: a WebSocket (or another upgrade)
	closed   chan struct{} // closed by Close: ends a wait on the gate or a slow write
	once     sync.Once
}

// Read holds what it read while the node hangs: the handler gets nothing.
func (c *handlerConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if werr := c.waitGate(); werr != nil {
		return 0, werr
	}
	return n, err
}

// Write waits while the node hangs, and on an upgraded connection of a
// slow node for the delay, on the lab's clock.
func (c *handlerConn) Write(p []byte) (int, error) {
	if err := c.waitGate(); err != nil {
		return 0, err
	}
	if d := time.Duration(c.l.h.delay.Load()); d > 0 && c.upgraded.Load() {
		t := c.l.h.clock.NewTimer(d, "lab", "handler", "slow")
		select {
		case <-t.C:
		case <-c.closed:
			t.Stop()
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(p)
}

func (c *handlerConn) waitGate() error {
	g := c.l.h.gate.Load()
	if g == nil {
		return nil
	}
	select {
	case <-*g:
		return nil
	case <-c.closed:
		return net.ErrClosed
	}
}

func (c *handlerConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		if c.upgraded.Load() {
			c.l.upgradesEnded.Add(1)
		}
		close(c.closed)
		c.l.open.add(-1)
	})
	return c.Conn.Close()
}
