package balancer

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// bufPool holds the copy buffers. A pump borrows one only while its socket
// has data, so an idle tunnel holds none: measured on this machine kind, a
// tunnel that owns a 32 KiB buffer per direction for its life cost ~20 KiB
// per held tunnel, one that borrows only when readable 11.4 KiB; and pooled
// 32 KiB buffers used 37–53 % less CPU per message than 4 KiB ones under
// pipelined load, with the same idle memory.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// netPair is a tunnel's two net.Conns, each copied onward by its own pump
// goroutine: the tunnels of the TLS listener and of connections net/http
// served first, and every tunnel where there is no event loop.
type netPair struct {
	client, backend net.Conn
	// wmu serializes writes to the client with the frame tracker, so a
	// close frame is only ever sent between two frames; bmu does the same
	// for writes to the backend.
	wmu, bmu sync.Mutex
	// toClient (under wmu) and toBackend (under bmu) are the copies'
	// writes, which count the ones that find the socket full.
	toClient, toBackend sockWriter
}

// errAnswered ends a pump whose side answered the balancer's goodbye.
var errAnswered = errors.New("answered the goodbye")

func (p *netPair) sayGoodbye(tn *tunnel) {
	// As in goAway: a peer that stopped reading gets a moment, not ever.
	deadline := time.Now().Add(goAwayWriteWait)
	p.client.SetWriteDeadline(deadline)
	p.backend.SetWriteDeadline(deadline)
	p.wmu.Lock()
	tn.bye.Store(true)
	if tn.frames.atBoundary() {
		p.client.Write(shutdownFrame)
	}
	p.wmu.Unlock()
	p.bmu.Lock()
	if tn.fromClient.atBoundary() {
		p.backend.Write(shutdownFrameMasked)
	}
	p.bmu.Unlock()
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
		p.client.Write(goAwayFrame(reason))
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
	frames := b[headLen:]
	tn.heard(false, frames)
	if tn.bye.Load() { // said goodbye: forward nothing, wait for the answer
		if tn.answered() {
			return errAnswered
		}
		return nil
	}
	err := p.toClient.write(p.client, &tn.b.counters.blocked[0], b)
	tn.t.b.bytesDown.Add(uint64(len(frames)))
	return err
}

// pump copies src to dst until either side fails, then ends the tunnel.
// up is the client→backend direction.
func (p *netPair) pump(tn *tunnel, src, dst net.Conn, up bool) {
	defer tn.b.wg.Done()
	readSide, err := p.copyConn(tn, src, dst, up)
	tn.ended(tunnelEnd{client: up == readSide, write: !readSide, err: err}) // reading the client, or writing to it
}

// deliver writes one chunk onward and counts it.
func (p *netPair) deliver(tn *tunnel, dst net.Conn, b []byte, up bool) error {
	tn.touch(up)
	tn.backlog.Add(int64(len(b)))
	defer tn.backlog.Add(-int64(len(b)))
	if !up {
		return p.writeClientHead(tn, b, 0)
	}
	p.bmu.Lock()
	defer p.bmu.Unlock()
	tn.heard(true, b)
	if tn.bye.Load() {
		if tn.answered() {
			return errAnswered
		}
		return nil
	}
	err := p.toBackend.write(dst, &tn.b.counters.blocked[1], b)
	tn.t.b.bytesUp.Add(uint64(len(b)))
	return err
}

// pumpPlain is the portable copy (TLS clients, and every tunnel where
// there are no raw reads): it holds a buffer while it waits. It reports
// whether the read side ended the copy, and the error (nil for the end of
// the stream).
func (p *netPair) pumpPlain(tn *tunnel, src, dst net.Conn, up bool) (bool, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for {
		n, err := src.Read(*bp)
		if n > 0 {
			if werr := p.deliver(tn, dst, (*bp)[:n], up); werr != nil {
				return false, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return true, err
		}
	}
}
