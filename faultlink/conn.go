package faultlink

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// dir is a direction through the link.
type dir int

const (
	up   dir = iota // client → upstream
	down            // upstream → client
)

func (d dir) String() string { return [...]string{"up", "down"}[d] }

func (f Faults) dir(d dir) Direction {
	if d == up {
		return f.Up
	}
	return f.Down
}

const (
	readSize  = 32 << 10 // bytes read at once
	queueSize = 16       // chunks a direction holds before its reader waits
	// burst is how far behind the clock a bandwidth-capped direction may
	// fall and still catch up: it absorbs timers that fire late, without
	// letting an idle link save up a burst.
	burst = 200 * time.Millisecond
)

// chunk is what a reader read, stamped with when; eof marks the sender's
// FIN.
type chunk struct {
	data []byte
	at   time.Time
	eof  bool
}

// pipe is one direction of a connection. Only its writer goroutine uses
// rng, last and free.
type pipe struct {
	q    chan chunk
	rng  *rand.Rand
	last time.Time // when the previous chunk was due: chunks keep their order
	free time.Time // bandwidth: when the wire is free for the next byte
}

// conn is one relayed connection: two readers and two writers, owned by
// run.
type conn struct {
	link   *Link
	client *net.TCPConn
	source string // the address it reaches the upstream from; "" the default
	pipes  [2]pipe

	// mu guards upstream (set once, after the dial) against shutdown.
	mu       sync.Mutex
	upstream *net.TCPConn

	once     sync.Once
	done     chan struct{} // closed by shutdown
	dropOnce sync.Once
	silent   chan struct{} // closed when the NAT mapping is dropped
	dropped  atomic.Bool
	moved    atomic.Bool  // the client moved away: its next byte is answered with a RST
	finished atomic.Int32 // directions whose FIN was passed on or swallowed
}

// run dials the upstream from c.source, relays both ways until both are
// finished or the connection is shut down, and waits for its goroutines.
func (c *conn) run() {
	defer c.link.wg.Done()
	defer c.link.forget(c)
	upc, err := c.dial(c.source)
	if err != nil {
		c.link.cfg.Logger.Warn("link dial", "link", c.link.cfg.Name, "err", err)
		c.shutdown(true) // what the client would have seen: a refused connection
		return
	}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		upc.Close()
		return
	default:
	}
	c.upstream = upc
	c.mu.Unlock()
	var wg sync.WaitGroup
	for d, ends := range [2][2]*net.TCPConn{{c.client, upc}, {upc, c.client}} {
		c.pipes[d].q = make(chan chunk, queueSize)
		wg.Go(func() { c.read(dir(d), ends[0]) })
		wg.Go(func() { c.write(dir(d), ends[1]) })
	}
	wg.Wait()
	c.shutdown(false)
}

func (c *conn) dial(sourceIP string) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: c.link.cfg.DialTimeout}
	if sourceIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sourceIP)}
	}
	nc, err := d.DialContext(c.link.ctx, "tcp", c.link.cfg.Upstream)
	switch {
	case err == nil:
		return nc.(*net.TCPConn), nil
	case sourceIP != "" && errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("dial %s from %s: %w (only Linux routes all of 127.0.0.0/8 to loopback; on macOS and the BSDs add the address first: sudo ifconfig lo0 alias %s)",
			c.link.cfg.Upstream, sourceIP, err, sourceIP)
	default:
		return nil, fmt.Errorf("dial %s: %w", c.link.cfg.Upstream, err)
	}
}

// silenced reports whether direction bytes are dropped now: a black hole,
// or a NAT mapping that is gone.
func (c *conn) silenced(st *state) bool { return st.faults.BlackHole || c.dropped.Load() }

// read reads src into the direction's queue until src ends. It owns the
// queue and closes it on return.
func (c *conn) read(d dir, src *net.TCPConn) {
	p := &c.pipes[d]
	defer close(p.q)
	buf := make([]byte, readSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			c.link.bytes[d].Add(int64(n))
			if d == up && c.moved.Load() {
				// What a server does with a packet from an address it does
				// not know: a RST, to the client only.
				c.link.dropped[d].Add(int64(n))
				resetConn(c.client)
				c.put(p, chunk{eof: true})
				return
			}
			if c.silenced(c.link.state.Load()) {
				c.link.dropped[d].Add(int64(n))
			} else if !c.put(p, chunk{data: bytes.Clone(buf[:n]), at: c.link.clk.Now()}) {
				return
			}
		}
		if err == nil {
			continue
		}
		switch {
		case c.isDone():
		case errors.Is(err, io.EOF) || c.silenced(c.link.state.Load()):
			// A FIN, or a RST that the fault keeps from the other end.
			c.put(p, chunk{eof: true})
		default:
			c.shutdown(true) // the peer reset: pass the RST on
		}
		return
	}
}

func (c *conn) put(p *pipe, ch chunk) bool {
	select {
	case p.q <- ch:
		return true
	case <-c.done:
		return false
	}
}

// write passes the direction's chunks to dst as the faults allow.
func (c *conn) write(d dir, dst *net.TCPConn) {
	for ch := range c.pipes[d].q {
		if ch.eof {
			c.finish(d, dst)
			return
		}
		if !c.deliver(d, dst, ch.data, ch.at) {
			return
		}
	}
}

// deliver writes data, read at time at, once its latency has passed and
// the bandwidth lets it through; a capped direction goes out in pieces of
// a fiftieth of a second. It returns false when the connection ended.
func (c *conn) deliver(d dir, dst *net.TCPConn, data []byte, at time.Time) bool {
	p := &c.pipes[d]
	jit := 2*p.rng.Float64() - 1 // one draw per chunk
	for len(data) > 0 {
		st := c.link.state.Load()
		if c.silenced(st) {
			c.link.dropped[d].Add(int64(len(data)))
			return true
		}
		f := st.faults.dir(d)
		due := at.Add(max(0, time.Duration(f.Latency)+time.Duration(jit*float64(f.Jitter))))
		if due.Before(p.last) {
			due = p.last
		}
		n := len(data)
		if r := f.Bandwidth; r > 0 {
			n = min(n, int(max(1, r/50)))
			start := maxTime(due, p.free, c.link.clk.Now().Add(-burst))
			due = start.Add(time.Duration(float64(n) / float64(r) * float64(time.Second)))
		}
		switch c.sleepUntil(due, st) {
		case changed:
			continue
		case ended:
			return false
		}
		p.last, p.free = due, due
		if _, err := dst.Write(data[:n]); err != nil {
			if !c.isDone() {
				c.shutdown(true)
			}
			return false
		}
		data = data[n:]
	}
	return true
}

// finish passes a FIN on: after the slow close, once a black hole is
// cleared; never when the NAT mapping is gone. When both directions are
// finished, the connection closes.
func (c *conn) finish(d dir, dst *net.TCPConn) {
	held := c.link.clk.Now()
	for !c.dropped.Load() {
		st := c.link.state.Load()
		due := held.Add(time.Duration(st.faults.SlowClose))
		if st.faults.BlackHole {
			due = time.Time{}
		}
		switch c.sleepUntil(due, st) {
		case changed:
			continue
		case ended:
			return
		}
		dst.CloseWrite()
		break
	}
	if c.finished.Add(1) == 2 {
		c.shutdown(false)
	}
}

type wake int

const (
	woke    wake = iota // the time came
	changed             // the faults changed (or the mapping was dropped): look again
	ended               // the connection was shut down
)

// sleepUntil waits on the link's clock until due; a zero due waits for a
// change only.
func (c *conn) sleepUntil(due time.Time, st *state) wake {
	var tc <-chan time.Time
	if !due.IsZero() {
		wait := due.Sub(c.link.clk.Now())
		if wait <= 0 {
			return woke
		}
		t := c.link.clk.NewTimer(wait, "faultlink", "deliver")
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-tc:
		return woke
	case <-st.changed:
		return changed
	case <-c.silent:
		return changed
	case <-c.done:
		return ended
	}
}

// move plays the client moving to another address: the connection goes
// half-open (drop), and the client's next byte is answered with a RST. It
// reports whether this call did it.
func (c *conn) move() bool {
	if c.moved.Swap(true) {
		return false
	}
	c.drop()
	return true
}

// drop makes the connection half-open: bytes are dropped both ways and no
// FIN or RST is passed on. It reports whether this call did it.
func (c *conn) drop() bool {
	did := false
	c.dropOnce.Do(func() {
		c.dropped.Store(true)
		close(c.silent)
		c.link.halfOpen.Add(1)
		did = true
	})
	return did
}

// shutdown closes both ends, with a RST when rst, and reports whether this
// call did it.
func (c *conn) shutdown(rst bool) bool {
	did := false
	c.once.Do(func() {
		did = true
		c.mu.Lock()
		defer c.mu.Unlock()
		close(c.done)
		for _, nc := range []*net.TCPConn{c.client, c.upstream} {
			if nc == nil {
				continue
			}
			if rst {
				resetConn(nc)
			} else {
				nc.Close()
			}
		}
	})
	return did
}

func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func maxTime(ts ...time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.After(m) {
			m = t
		}
	}
	return m
}
