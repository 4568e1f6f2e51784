//go:build linux

package balancer

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// The loop's tunnel copy: both directions of a tunnel read when epoll says
// a socket has data and written until the peer would block, then kept and
// flushed when it is writable again.

// rawPair is a tunnel's two sockets in a loop.
type rawPair struct {
	l               *loop
	client, backend *sock
}

// start copies whatever arrived during the handshake; from then on the
// loop copies as data arrives. It runs on the loop.
func (p *rawPair) start(*tunnel) {
	for _, s := range []*sock{p.client, p.backend} {
		if s.readable && !s.dead {
			p.l.pump(s)
		}
	}
}

func (p *rawPair) closeConns() {
	p.l.post(func() {
		p.l.closeSock(p.client)
		p.l.closeSock(p.backend)
	})
}

func (p *rawPair) sayGoodbye(tn *tunnel) {
	l := p.l
	l.post(func() {
		if p.client.dead || p.backend.dead {
			return
		}
		tn.bye.Store(true)
		if tn.frames.atBoundary() {
			l.send(p.client, shutdownFrame)
		}
		if tn.fromClient.atBoundary() && !p.backend.dead {
			l.send(p.backend, shutdownFrameMasked)
		}
	})
}

func (p *rawPair) goAway(tn *tunnel, reason string) {
	l := p.l
	l.post(func() {
		c := p.client
		if c.dead {
			return
		}
		p.backend.held = true // nothing from the backend after the close frame
		if tn.frames.atBoundary() {
			l.send(c, goAwayFrame(reason))
		}
		if c.out == nil || c.dead {
			tn.close(reason)
			return
		}
		// The client is behind: the frame goes when it reads, or the
		// tunnel closes anyway after a moment.
		c.thenEnd = true
		time.AfterFunc(goAwayWriteWait, func() { tn.close(reason) })
	})
}

// pump copies what s has to its peer until s would block, the peer stops
// taking bytes, or either fails.
func (l *loop) pump(s *sock) {
	d, tn := s.peer, s.tn
	for s.readable && d.out == nil && !s.held && !s.dead && !d.dead {
		n, err := sysRead(s.fd, l.buf)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			s.readable = false
			return
		}
		if n <= 0 { // the end, or an error: the tunnel is over
			l.ended(tn, s, tunnelEnd{client: s.client, err: err})
			return
		}
		tn.touch(s.client)
		p := l.buf[:n]
		tn.heard(s.client, p)
		if tn.bye.Load() { // said goodbye: forward nothing, wait for the answer
			if tn.answered() {
				l.ended(tn, s, tunnelEnd{client: s.client})
				return
			}
			continue
		}
		if s.client {
			tn.t.b.bytesUp.Add(uint64(n))
		} else {
			tn.t.b.bytesDown.Add(uint64(n))
		}
		if !l.send(d, p) {
			return
		}
		if n < len(l.buf) && !s.hup {
			s.readable = false // read less than there was room for: drained
		}
	}
}

// send writes p to s, keeping what does not fit until s is writable again.
// It reports false if s failed (and the tunnel, if any, is ending).
func (l *loop) send(s *sock, p []byte) bool {
	if s.out != nil {
		*s.out = append(*s.out, p...)
		s.backlog(len(p))
		return true
	}
	w, err := writeSome(s.fd, p)
	if err != nil {
		if s.tn != nil {
			l.ended(s.tn, s, tunnelEnd{client: s.client, write: true, err: err})
		}
		return false
	}
	if w < len(p) { // the socket is full: keep the rest
		l.b.counters.blockedOn(s.client).Add(1)
		s.out = getOut()
		*s.out = append((*s.out)[:0], p[w:]...)
		s.outOff = 0
		s.backlog(len(p) - w)
	}
	return true
}

// writeSome writes as much of p as fd takes now.
func writeSome(fd int, p []byte) (int, error) {
	w := 0
	for w < len(p) {
		m, err := sysWrite(fd, p[w:])
		switch err {
		case nil:
			w += m
		case unix.EINTR:
		case unix.EAGAIN:
			return w, nil
		default:
			return w, err
		}
	}
	return w, nil
}

// backlog counts n more (or fewer) bytes kept for s in its tunnel's
// backlog, which status shows.
func (s *sock) backlog(n int) {
	if s.tn != nil {
		s.tn.backlog.Add(int64(n))
	}
}

// flush writes what s kept; once it is all out, the peer is read again.
func (l *loop) flush(s *sock) {
	w, err := writeSome(s.fd, (*s.out)[s.outOff:])
	s.outOff += w
	s.backlog(-w)
	switch {
	case err != nil && s.tn != nil:
		l.ended(s.tn, s, tunnelEnd{client: s.client, write: true, err: err})
		return
	case err != nil:
		l.failHandshake(s.hs, fmt.Sprintf("backend %s: send handshake: %v", s.hs.t.name, err))
		return
	case s.outOff < len(*s.out):
		return // the rest when s is writable again
	}
	putOut(s.out)
	s.out = nil
	if s.thenEnd {
		s.tn.close(s.tn.why.Load().reason)
		return
	}
	if s.peer != nil && s.peer.readable && s.tn != nil {
		l.pump(s.peer)
	}
}

// ended closes the tunnel after s failed or ended; the sockets stop being
// served at once, and close after the tunnel is reported closed.
func (l *loop) ended(tn *tunnel, s *sock, e tunnelEnd) {
	s.dead, s.peer.dead = true, true
	tn.ended(e)
}

// Kept bytes use the pumps' buffers.
func getOut() *[]byte  { return bufPool.Get().(*[]byte) }
func putOut(p *[]byte) { *p = (*p)[:cap(*p)]; bufPool.Put(p) }
