package balancer

import (
	"net"
	"sync"
	"time"
)

// bufPool holds the copy buffers. A pump borrows one only while its socket
// has data, so an idle tunnel holds none (see PERF-NOTES).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// netPair is a tunnel's two net.Conns, each copied onward by its own pump
// goroutine: the tunnels of the TLS listener and of connections net/http
// served first, and every tunnel where there is no event loop.
type netPair struct {
	client, backend net.Conn
	// wmu serializes writes to the client with the frame tracker, so a
	// close frame is only ever sent between two frames.
	wmu sync.Mutex
}

func (p *netPair) start(tn *tunnel) {
	go p.pump(tn, p.client, p.backend, true)
	go p.pump(tn, p.backend, p.client, false)
}

func (p *netPair) closeConns() {
	p.client.Close()
	p.backend.Close()
}

func (p *netPair) goAway(tn *tunnel, reason string) {
	// A client that stopped reading leaves its pump stuck in a write that
	// holds wmu, and the drain (and Close behind it) would wait for ever:
	// that write gets a moment to finish, then fails.
	p.client.SetWriteDeadline(time.Now().Add(goAwayWriteWait))
	p.wmu.Lock()
	if tn.frames.atBoundary() {
		p.client.Write(drainFrame)
	}
	p.wmu.Unlock()
	tn.close(reason)
}

// writeClientHead sends the client p: the backend's 101 head (its first
// headLen bytes) and what followed it, in one write. Only what followed is
// WebSocket frames.
func (p *netPair) writeClientHead(tn *tunnel, b []byte, headLen int) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.client.Write(b)
	frames := b[headLen:]
	tn.frames.feed(frames)
	tn.t.b.bytesDown.Add(uint64(len(frames)))
	return err
}

// pump copies src to dst until either side fails, then ends the tunnel.
// up is the client→backend direction.
func (p *netPair) pump(tn *tunnel, src, dst net.Conn, up bool) {
	defer tn.b.wg.Done()
	readSide := p.copyConn(tn, src, dst, up)
	tn.ended(up == readSide) // reading the client, or writing to it
}

// deliver writes one chunk onward and counts it.
func (p *netPair) deliver(tn *tunnel, dst net.Conn, b []byte, up bool) error {
	tn.touch()
	tn.backlog.Add(int64(len(b)))
	defer tn.backlog.Add(-int64(len(b)))
	if !up {
		return p.writeClientHead(tn, b, 0)
	}
	_, err := dst.Write(b)
	tn.t.b.bytesUp.Add(uint64(len(b)))
	return err
}

// pumpPlain is the portable copy (TLS clients, and every tunnel where
// there are no raw reads): it holds a buffer while it waits. It reports
// whether the read side ended the copy.
func (p *netPair) pumpPlain(tn *tunnel, src, dst net.Conn, up bool) bool {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		n, err := src.Read(*bp)
		if n > 0 {
			if werr := p.deliver(tn, dst, (*bp)[:n], up); werr != nil {
				return false
			}
		}
		if err != nil {
			return true
		}
	}
}
