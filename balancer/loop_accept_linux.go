//go:build linux

package balancer

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The loop's accepting, its sockets' registrations, and reading a
// client's request head, which goes to a backend or to net/http.

// accept takes the connections waiting on the listener, a batch at a time
// so that the loop's tunnels are served in between.
func (l *loop) accept() {
	snap := l.b.snap.Load()
	timeout := time.Duration(snap.cfg.Listener.HeaderTimeout)
	for range 32 {
		fd, peer, err := sysAccept(l.lnfd, &l.rsa)
		switch {
		case err == unix.EAGAIN || err == unix.ECONNABORTED || err == unix.EINTR:
			return
		case err != nil:
			l.pauseAccepting(err)
			return
		}
		l.acceptPause = 0
		sysNoDelay(fd)
		s := &sock{fd: fd, client: true}
		if !l.add(s) {
			continue
		}
		hs := &pending{client: s, snap: snap}
		hs.req.clientAddr = peer.String()
		hs.req.port = l.port
		s.hs = hs
		l.wait(&l.heads, hs, timeout)
	}
}

// pauseAccepting stops accepting for a while after an error such as
// running out of descriptors, as net/http does, instead of spinning on a
// listener that stays readable.
func (l *loop) pauseAccepting(err error) {
	l.acceptPause = min(max(2*l.acceptPause, 5*time.Millisecond), time.Second)
	l.b.log.Warn("accept failed; retrying", "err", err, "in", l.acceptPause)
	sysEpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnfd, nil)
	time.AfterFunc(l.acceptPause, func() {
		l.post(func() {
			if l.lnfd >= 0 {
				sysEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.lnfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.lnfd)})
			}
		})
	})
}

// add puts s in the loop's epoll set, edge-triggered; on failure it closes
// the socket.
func (l *loop) add(s *sock) bool {
	l.gen++
	s.gen = l.gen
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | epollET, Fd: int32(s.fd), Pad: int32(s.gen)}
	if err := sysEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		l.b.log.Warn("epoll_ctl failed", "err", err)
		sysClose(s.fd)
		return false
	}
	for s.fd >= len(l.socks) {
		l.socks = append(l.socks, make([]*sock, max(64, len(l.socks)))...)
	}
	l.socks[s.fd] = s
	return true
}

// closeSock closes s once.
func (l *loop) closeSock(s *sock) {
	if s.fd < 0 {
		return
	}
	s.dead = true
	sysClose(s.fd) // leaves the epoll set with it: no copy of it exists
	l.socks[s.fd] = nil
	s.fd = -1
	if s.out != nil {
		putOut(s.out)
		s.out = nil
	}
}

// detach takes s out of the loop as a net.Conn (nil if that failed).
func (l *loop) detach(s *sock) net.Conn {
	sysEpollCtl(l.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
	l.socks[s.fd] = nil
	s.dead = true
	f := os.NewFile(uintptr(s.fd), "")
	s.fd = -1
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		l.b.log.Warn("cannot hand a connection over", "err", err)
		return nil
	}
	return c
}

// readRequest reads the client's request head; a complete one that is a
// plain upgrade goes to a backend, anything else to net/http.
func (l *loop) readRequest(hs *pending) {
	if hs.head == nil {
		hs.head = headPool.Get().(*[]byte)
	}
	end, err := l.readHead(hs.client, hs)
	switch {
	case err == errBareLF:
		l.refuse(hs, http.StatusBadRequest, bareLFReason)
	case err != nil: // gone before the head was complete
		l.endHandshake(hs)
		l.closeSock(hs.client)
	case end > 0:
		l.request(hs, (*hs.head)[:cap(*hs.head)], end)
	case hs.n == cap(*hs.head):
		l.toNetHTTP(hs, (*hs.head)[:hs.n]) // too long for the fast path
	}
}

// readHead reads what s has into the handshake's head buffer. It reports
// where the head ends once its blank line is in, or why s ended first; 0
// and no error mean that the head is still incomplete — waiting for more,
// or too long if the buffer is full.
func (l *loop) readHead(s *sock, hs *pending) (end int, err error) {
	buf := (*hs.head)[:cap(*hs.head)]
	for s.readable && hs.n < len(buf) {
		room := len(buf) - hs.n
		m, err := sysRead(s.fd, buf[hs.n:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			s.readable = false
			return 0, nil
		case err != nil:
			return 0, err
		case m == 0:
			return 0, io.EOF
		}
		from := max(0, hs.n-3)
		hs.n += m
		if m < room && !s.hup {
			s.readable = false // read less than there was room for: drained
		}
		if end, bareLF := headEnd(buf[:hs.n], from); end > 0 {
			return end, nil
		} else if bareLF {
			return 0, errBareLF
		}
	}
	return 0, nil
}

func (l *loop) request(hs *pending, buf []byte, end int) {
	hs.lines = headPool.Get().(*[]byte)
	req, verdict, code, reason := parseUpgrade(buf[:end], (*hs.lines)[:0])
	switch verdict {
	case headNetHTTP:
		l.toNetHTTP(hs, buf[:hs.n])
		return
	case headRefuse:
		l.refuse(hs, code, reason)
		return
	}
	*hs.lines = req.lines[:0] // keep a buffer that grew
	req.clientAddr, req.port = hs.req.clientAddr, hs.req.port
	req.pending = buf[end:hs.n]
	hs.req = req
	l.unwait(hs)
	hs.try = l.b.upgradeAttempts(&req, hs.snap) // reads the sticky cookie while the head is still there
	l.tryNext(hs)
}

// toNetHTTP passes the client on to net/http with what it sent so far.
func (l *loop) toNetHTTP(hs *pending, read []byte) {
	timeout := time.Duration(hs.snap.cfg.Listener.HeaderTimeout)
	read = bytes.Clone(read)
	l.endHandshake(hs)
	c := l.detach(hs.client)
	if c == nil {
		return
	}
	l.b.serveWG.Add(1)
	go func() {
		defer l.b.serveWG.Done()
		l.h.give(c, read, timeout)
	}()
}
