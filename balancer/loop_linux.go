//go:build linux

package balancer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/quartz"
	"golang.org/x/sys/unix"
)

// The event loop serves the plain listener on Linux: accepting, reading the
// upgrade request, connecting to the backend, the handshake and then the
// tunnel's bytes both ways, all over raw non-blocking sockets in one epoll
// set per loop, with no goroutine per connection. Measured on this machine
// kind (BENCHMARKS.md), Go's net package made about 29 system calls per
// proxied connection where nginx makes 22 — both addresses of every socket,
// an epoll removal before each close, a read that finds nothing before
// every wait — and woke a goroutine for each; here a socket is read only
// when epoll says it has data (EPOLLRDHUP tells whether an end of stream
// is queued behind it), and an idle tunnel is two sockets and a record.
//
// The loop is an ordinary goroutine: its epoll descriptor sits in Go's own
// poller, and the loop parks there when nothing is ready, so the scheduler,
// timers and the rest of the balancer run as before. Everything about a
// socket happens on its loop's goroutine; other goroutines (idle timers,
// drains, Close) post functions to it. Anything unusual leaves the loop as
// a net.Conn: a request that is not a plain upgrade goes to net/http, and a
// backend's answer other than 101 is relayed by a goroutine.

// loopEvents is how many epoll events a loop takes per wait.
const loopEvents = 128

// epollET is EPOLLET as the uint32 the event mask is.
const epollET = 1 << 31

// loop is one event loop; there is one per GOMAXPROCS, all accepting from
// the listener.
type loop struct {
	b     *Balancer
	h     *handoff
	port  string // the listener's, for X-Forwarded-Port
	epfd  int
	evfd  int // an eventfd: posting work to a parked loop writes to it
	lnfd  int // the loop's own copy of the listening socket; -1 once stopped
	poll  *os.File
	socks []*sock // by descriptor
	buf   []byte  // the loop's one read buffer
	ev    [loopEvents]unix.EpollEvent
	rsa   unix.RawSockaddrAny // scratch for accept and connect

	mu     sync.Mutex
	posted []func()
	asleep bool // parked in the poller: a post must wake it

	// Loop goroutine only.
	running     []func()
	done        bool
	acceptPause time.Duration // after running out of descriptors
	heads       waitList      // clients still sending their request head
	dials       waitList      // connects in progress
	sweep       *time.Timer   // fires at the earliest wall deadline of the two
	sweepAt     time.Time
}

// sock is one connection of a loop: a client's or a backend's.
type sock struct {
	fd     int
	client bool // the client's connection, else the backend's
	peer   *sock
	hs     *pending // while the handshake runs
	tn     *tunnel  // once the tunnel is open
	dead   bool     // closed, or about to be: ignore its events

	readable bool    // data (or the end) may be waiting to be read
	hup      bool    // the peer's end of stream is queued: read to the end
	held     bool    // do not read: a close frame went out after it
	out      *[]byte // bytes waiting to be written (pooled), nil if none
	outOff   int
	thenEnd  bool // close the tunnel once out is written
}

// pending is a handshake in progress: the client's request until the
// backend answers.
type pending struct {
	client, backend *sock
	snap            *snapshot
	head            *[]byte // the request head, then the response head
	n               int
	req             upgradeReq
	lines           *[]byte // req.lines' buffer
	try             attempts
	t               *target
	ap              netip.AddrPort   // t's address being connected to
	addrs           []netip.AddrPort // t's addresses left to try
	answerTimer     *quartz.Timer    // the backend's time to answer, on b.clock
	deadline        time.Time        // wall: the head's or the connect's
	prev, next      *pending         // in a waitList
	list            *waitList
	over            bool
}

// startLoops serves ln with event loops. It reports false, with nothing
// started, if the system refuses what a loop needs; the caller then serves
// ln with goroutines.
func (b *Balancer) startLoops(h *handoff, port string) bool {
	tl, ok := h.ln.(*net.TCPListener)
	if !ok {
		return false
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	var loops []*loop
	fail := func(err error) bool {
		b.log.Warn("event loop unavailable; serving with goroutines", "err", err)
		for _, l := range loops {
			l.release()
		}
		return false
	}
	for range runtime.GOMAXPROCS(0) {
		l := &loop{b: b, h: h, port: port, epfd: -1, evfd: -1, lnfd: -1, buf: make([]byte, 32<<10)}
		loops = append(loops, l)
		var derr error
		cerr := rc.Control(func(fd uintptr) {
			l.lnfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		})
		if err := errors.Join(cerr, derr); err != nil {
			return fail(err)
		}
		if err := l.init(); err != nil {
			return fail(err)
		}
	}
	h.loops = loops
	for _, l := range loops {
		b.serveWG.Add(1)
		go l.run()
	}
	return true
}

func (l *loop) init() error {
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	if l.evfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.evfd, &unix.EpollEvent{Events: unix.EPOLLIN | epollET, Fd: int32(l.evfd)}); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	// Level-triggered and exclusive: one loop wakes for a new connection,
	// and a loop that stops accepting part-way is reminded.
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.lnfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.lnfd)}); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	if err := unix.SetNonblock(l.epfd, true); err != nil {
		return err
	}
	l.poll = os.NewFile(uintptr(l.epfd), "epoll") // registers it with Go's poller
	if l.poll == nil {
		return errors.New("cannot watch the epoll descriptor")
	}
	return nil
}

// release closes what init opened, for a loop that never ran.
func (l *loop) release() {
	for _, fd := range []int{l.lnfd, l.evfd} {
		if fd >= 0 {
			sysClose(fd)
		}
	}
	if l.poll != nil {
		l.poll.Close()
	} else if l.epfd >= 0 {
		sysClose(l.epfd)
	}
}

// post runs f on the loop's goroutine, soon. After the loop stopped, f
// runs on the caller's: there is nothing left for it to race with.
func (l *loop) post(f func()) {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		f()
		return
	}
	l.posted = append(l.posted, f)
	wake := l.asleep
	l.asleep = false
	l.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		sysWrite(l.evfd, one[:])
	}
}

// stopAccepting closes the loop's copy of the listening socket.
func (l *loop) stopAccepting() { l.post(l.closeListener) }

// closeListener leaves the listening socket. The epoll entry goes first:
// it belongs to the socket, which Go's listener keeps open a moment longer.
func (l *loop) closeListener() {
	if l.lnfd >= 0 {
		sysEpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnfd, nil)
		sysClose(l.lnfd)
		l.lnfd = -1
	}
}

// stop ends the loop: handshakes in progress hear 503, tunnels still open
// are closed (Close has closed and reported them already), and the loop's
// goroutine returns.
func (l *loop) stop() {
	l.post(func() {
		l.closeListener()
		for _, s := range l.socks {
			switch {
			case s == nil || s.dead:
			case s.hs != nil && s.client:
				l.refuse(s.hs, http.StatusServiceUnavailable, "")
			case s.hs == nil:
				l.closeSock(s)
			}
		}
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
}

func (l *loop) run() {
	defer l.b.serveWG.Done()
	defer func() {
		if l.sweep != nil {
			l.sweep.Stop()
		}
		sysClose(l.evfd)
		l.poll.Close()
	}()
	rc, err := l.poll.SyscallConn()
	if err != nil {
		l.b.log.Error("event loop cannot wait", "err", err)
		return
	}
	for {
		err := rc.Read(l.turn)
		if l.isDone() {
			return
		}
		if err != nil {
			l.b.log.Error("event loop cannot wait", "err", err)
			return
		}
	}
}

func (l *loop) isDone() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// turn handles whatever is ready, then reports false to park the loop in
// Go's poller until its epoll set has events again (or true once stopped).
func (l *loop) turn(uintptr) bool {
	for {
		n, err := sysEpollPoll(l.epfd, l.ev[:])
		if err != nil && err != unix.EINTR {
			l.b.log.Error("epoll_wait failed", "err", err)
			return true
		}
		for i := range max(n, 0) {
			l.handle(l.ev[i])
		}
		// Run what was posted, including by the events just handled. (A
		// socket closed while this batch is handled may leave an event in
		// it that names a new socket with the same number; events are only
		// hints — every read and write copes with finding nothing — so the
		// new socket at most tries once for nothing.)
		l.mu.Lock()
		l.running, l.posted = l.posted, l.running[:0]
		l.mu.Unlock()
		for i, f := range l.running {
			f()
			l.running[i] = nil
		}
		l.mu.Lock()
		switch {
		case l.done:
			l.mu.Unlock()
			return true
		case n > 0 || len(l.posted) > 0:
			// More may be ready — a socket just added with its data
			// already in, an answer to what was just written — and taking
			// it now is cheaper than a round through the scheduler.
			l.mu.Unlock()
			continue
		}
		// Nothing was ready: park. Events that arrive from here on make
		// the epoll descriptor readable, and Go's poller wakes the loop.
		l.asleep = true
		l.mu.Unlock()
		return false
	}
}

func (l *loop) handle(e unix.EpollEvent) {
	fd := int(e.Fd)
	switch fd {
	case l.evfd:
		var b [8]byte
		sysRead(l.evfd, b[:])
		return
	case l.lnfd:
		l.accept()
		return
	}
	if fd >= len(l.socks) || l.socks[fd] == nil || l.socks[fd].dead {
		return
	}
	s := l.socks[fd]
	if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.readable = true
		if e.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			s.hup = true
		}
	}
	writable := e.Events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
	if hs := s.hs; hs != nil {
		switch {
		case s.client: // read until the head is in; the rest waits for the tunnel
			if s.readable && hs.list == &l.heads {
				l.readRequest(hs)
			}
		case hs.list == &l.dials:
			if writable {
				l.connected(hs, e.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0)
			}
		default:
			if writable && s.out != nil {
				l.flush(s)
			}
			if s.readable && !hs.over {
				l.readAnswer(hs)
			}
		}
		return
	}
	if writable && s.out != nil {
		l.flush(s)
	}
	if s.readable && !s.dead {
		l.pump(s)
	}
}

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
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | epollET, Fd: int32(s.fd)}
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

// --- the request ---

// readRequest reads the client's request head; a complete one that is a
// plain upgrade goes to a backend, anything else to net/http.
func (l *loop) readRequest(hs *pending) {
	if hs.head == nil {
		hs.head = headPool.Get().(*[]byte)
	}
	end, err := l.readHead(hs.client, hs)
	switch {
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
		if i := bytes.Index(buf[from:hs.n], crlfcrlf); i >= 0 {
			return from + i + 4, nil
		}
	}
	return 0, nil
}

func (l *loop) request(hs *pending, buf []byte, end int) {
	hs.lines = headPool.Get().(*[]byte)
	req, ok := parseUpgrade(buf[:end], (*hs.lines)[:0])
	if !ok {
		l.toNetHTTP(hs, buf[:hs.n])
		return
	}
	*hs.lines = req.lines[:0] // keep a buffer that grew
	req.clientAddr, req.port = hs.req.clientAddr, hs.req.port
	req.pending = buf[end:hs.n]
	hs.req = req
	l.unwait(hs)
	hs.try = attempts{b: l.b, clientIP: hostOf(req.clientAddr), snap: hs.snap, pol: hs.snap.policy, replayable: true}
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

// --- the backend ---

// tryNext connects to the next backend the policy picks, or answers the
// client when none is left.
func (l *loop) tryNext(hs *pending) {
	for {
		t := hs.try.next()
		if t == nil {
			code, reason := hs.try.answer()
			l.refuse(hs, code, reason)
			return
		}
		hs.t = t
		if t.literal {
			hs.addrs = append(hs.addrs[:0], t.ap)
			if err := l.connect(hs); err != nil {
				hs.try.failed(t, err)
				continue
			}
			return
		}
		l.resolve(hs, t)
		return
	}
}

// resolve looks a backend's host name up off the loop, then connects.
func (l *loop) resolve(hs *pending, t *target) {
	l.b.serveWG.Add(1)
	go func() {
		defer l.b.serveWG.Done()
		addrs, err := lookup(l.b.ctx, t.addr)
		l.post(func() {
			if hs.over {
				return
			}
			if err == nil {
				hs.addrs = addrs
				err = l.connect(hs)
			}
			if err != nil {
				hs.try.failed(t, err)
				l.tryNext(hs)
			}
		})
	}()
}

// lookup resolves host:port, IPv4 addresses first.
func lookup(ctx context.Context, addr string) ([]netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", port)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	for _, v4 := range []bool{true, false} {
		for _, ip := range ips {
			if ip.Unmap().Is4() == v4 {
				out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(p)))
			}
		}
	}
	return out, nil
}

// connect starts connecting to hs.addrs[0], trying the next address when
// one is refused at once; the error is the last address's.
func (l *loop) connect(hs *pending) error {
	var err error
	for len(hs.addrs) > 0 {
		ap := hs.addrs[0]
		hs.addrs = hs.addrs[1:]
		if err = l.connectTo(hs, ap); err == nil {
			return nil
		}
	}
	return err
}

func (l *loop) connectTo(hs *pending, ap netip.AddrPort) error {
	if l.b.ctx.Err() != nil {
		l.refuse(hs, http.StatusServiceUnavailable, "")
		return nil
	}
	fd, err := sysSocket(ap)
	if err != nil {
		return dialError(ap, "socket", err)
	}
	sysNoDelay(fd)
	err = sysConnect(fd, ap, &l.rsa)
	if err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		sysClose(fd)
		return dialError(ap, "connect", err)
	}
	hs.ap = ap
	s := &sock{fd: fd, hs: hs, peer: hs.client}
	if !l.add(s) {
		return dialError(ap, "epoll_ctl", unix.ENOMEM)
	}
	hs.backend, hs.client.peer = s, s
	l.wait(&l.dials, hs, dialTimeout) // connected or not, epoll says when it is writable
	return nil
}

// nextAddr goes on after connecting to hs.ap failed with err: to the
// backend's next address, else to the next backend.
func (l *loop) nextAddr(hs *pending, err error) {
	if len(hs.addrs) > 0 && l.connect(hs) == nil {
		return
	}
	hs.try.failed(hs.t, err)
	l.tryNext(hs)
}

// dialError reads as net.Dialer's errors do.
func dialError(ap netip.AddrPort, call string, err error) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: os.NewSyscallError(call, err)}
}

// connected runs when a connecting backend socket turns writable: either
// it is connected, and the request goes out, or it failed (epoll says so
// with EPOLLERR), and the next backend is tried. Only a failure costs a
// system call to learn why.
func (l *loop) connected(hs *pending, failed bool) {
	s := hs.backend
	var err error
	if failed {
		if err = sysSoError(s.fd); err == nil {
			err = unix.ECONNRESET // hung up before anything was sent
		}
	}
	switch err {
	case nil:
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return // woken early
	default:
		l.unwait(hs)
		l.closeSock(s)
		hs.backend, hs.client.peer = nil, nil
		l.nextAddr(hs, dialError(hs.ap, "connect", err))
		return
	}
	l.unwait(hs)
	l.sendRequest(hs)
}

// sendRequest forwards the upgrade request, with what the client sent
// behind it, and waits for the backend's answer for the idle timeout, on
// the balancer's clock.
func (l *loop) sendRequest(hs *pending) {
	bp := headPool.Get().(*[]byte)
	out := appendRequestHead((*bp)[:0], &hs.req)
	headLen := len(out)
	out = append(out, hs.req.pending...)
	early := len(out) - headLen
	*bp = out[:0]
	// The request is out of the client's buffers: the same buffer reads
	// the answer.
	headPool.Put(hs.lines)
	hs.lines = nil
	hs.req = upgradeReq{clientAddr: hs.req.clientAddr}
	hs.n = 0
	s := hs.backend
	if !l.send(s, out) {
		headPool.Put(bp)
		l.failHandshake(hs, fmt.Sprintf("backend %s: send handshake: connection lost", hs.t.name))
		return
	}
	headPool.Put(bp)
	hs.t.b.bytesUp.Add(uint64(early))
	d := hs.snap.idleTimeout()
	hs.answerTimer = l.b.clock.AfterFunc(d, func() {
		l.post(func() {
			if !hs.over {
				l.failHandshake(hs, fmt.Sprintf("backend %s: no handshake response within %s", hs.t.name, d))
			}
		})
	}, "balancer", "handshake")
	if s.readable {
		l.readAnswer(hs)
	}
}

// readAnswer reads the backend's response head: 101 opens the tunnel; any
// other answer goes back to the client as it is.
func (l *loop) readAnswer(hs *pending) {
	end, err := l.readHead(hs.backend, hs)
	switch {
	case err != nil:
		l.failHandshake(hs, fmt.Sprintf("backend %s: no valid handshake response: %v", hs.t.name, err))
	case end > 0:
		l.answer(hs, (*hs.head)[:hs.n], end)
	case hs.n == cap(*hs.head):
		l.failHandshake(hs, fmt.Sprintf("backend %s: no valid handshake response: %v", hs.t.name, errHeadTooLarge))
	}
}

func (l *loop) answer(hs *pending, in []byte, end int) {
	code, upgrade, ok := parseResponseHead(in[:end])
	switch {
	case !ok:
		l.failHandshake(hs, fmt.Sprintf("backend %s: no valid handshake response: malformed status line %q", hs.t.name, trim(firstLine(in[:end]))))
		return
	case code != http.StatusSwitchingProtocols:
		l.relay(hs, in)
		return
	case !strings.EqualFold(upgrade, "websocket"):
		l.failHandshake(hs, fmt.Sprintf("backend %s switched to %q, not websocket", hs.t.name, upgrade))
		return
	}
	client, backend, t := hs.client, hs.backend, hs.t
	head := hs.head
	hs.head = nil // in holds it until the client has it
	defer headPool.Put(head)
	l.endHandshake(hs)
	client.hs, backend.hs = nil, nil
	// Registered (status, counters, event) before the client hears 101, so
	// nothing a client can see is ahead of introspection.
	tn := l.b.newTunnel(hs.snap, t, &rawPair{l: l, client: client, backend: backend}, hs.req.clientAddr)
	client.tn, backend.tn = tn, tn
	if !l.b.registerTunnel(tn) {
		return
	}
	frames := in[end:]
	tn.frames.feed(frames)
	t.b.bytesDown.Add(uint64(len(frames)))
	l.send(client, in) // the 101 and whatever the backend sent behind it
	l.b.startPumps(tn)
}

// relay hands a non-101 answer (a 403 for a foreign Origin, say) to a
// goroutine that sends it to the client as it is, body included.
func (l *loop) relay(hs *pending, in []byte) {
	head := bytes.Clone(in)
	client, backend := hs.client, hs.backend
	l.endHandshake(hs)
	cc, bc := l.detach(client), l.detach(backend)
	if cc == nil || bc == nil {
		for _, c := range []net.Conn{cc, bc} {
			if c != nil {
				c.Close()
			}
		}
		return
	}
	l.b.serveWG.Add(1)
	go func() {
		defer l.b.serveWG.Done()
		relay(cc, bc, head)
	}()
}

// failHandshake answers 502 with reason and closes both connections.
func (l *loop) failHandshake(hs *pending, reason string) {
	if hs.backend != nil {
		l.closeSock(hs.backend)
	}
	l.refuse(hs, http.StatusBadGateway, reason)
}

// refuse answers a client that gets no tunnel (Balancer.refusal) and
// hangs up.
func (l *loop) refuse(hs *pending, code int, reason string) {
	l.endHandshake(hs)
	if hs.backend != nil {
		l.closeSock(hs.backend)
	}
	sysWrite(hs.client.fd, l.b.refusal(code, reason)) // a new socket's buffer has room
	l.closeSock(hs.client)
}

// endHandshake releases what the handshake holds; its sockets stay as
// they are.
func (l *loop) endHandshake(hs *pending) {
	hs.over = true
	l.unwait(hs)
	if hs.answerTimer != nil {
		hs.answerTimer.Stop()
	}
	for _, p := range []**[]byte{&hs.head, &hs.lines} {
		if *p != nil {
			headPool.Put(*p)
			*p = nil
		}
	}
}

// --- wall-clock deadlines ---

// waitList holds handshakes in the order their deadlines were set; one
// list per kind of deadline, so each is in deadline order too (a reload
// that shortens the header timeout lets a few wait their old time).
type waitList struct{ head, tail *pending }

func (l *loop) wait(w *waitList, hs *pending, d time.Duration) {
	l.unwait(hs)
	hs.deadline = time.Now().Add(d)
	hs.list, hs.prev = w, w.tail
	if w.tail != nil {
		w.tail.next = hs
	} else {
		w.head = hs
	}
	w.tail = hs
	l.armSweep(hs.deadline)
}

func (l *loop) unwait(hs *pending) {
	w := hs.list
	if w == nil {
		return
	}
	if hs.prev != nil {
		hs.prev.next = hs.next
	} else {
		w.head = hs.next
	}
	if hs.next != nil {
		hs.next.prev = hs.prev
	} else {
		w.tail = hs.prev
	}
	hs.prev, hs.next, hs.list = nil, nil, nil
}

func (l *loop) armSweep(at time.Time) {
	if l.sweep != nil && !l.sweepAt.IsZero() && !at.Before(l.sweepAt) {
		return // an earlier sweep will re-arm for this one
	}
	l.sweepAt = at
	d := time.Until(at)
	if l.sweep == nil {
		l.sweep = time.AfterFunc(d, func() { l.post(l.expire) })
	} else {
		l.sweep.Reset(d)
	}
}

// expire ends the handshakes past their deadline: a client still sending
// its head hears 408; a backend that did not accept in time counts as a
// failed connect, and the next one is tried.
func (l *loop) expire() {
	now := time.Now()
	l.sweepAt = time.Time{}
	for hs := l.heads.head; hs != nil && !hs.deadline.After(now); hs = l.heads.head {
		l.endHandshake(hs)
		timeout := time.Duration(hs.snap.cfg.Listener.HeaderTimeout)
		sysWrite(hs.client.fd, requestTimeout(timeout))
		l.closeSock(hs.client)
	}
	for hs := l.dials.head; hs != nil && !hs.deadline.After(now); hs = l.dials.head {
		l.unwait(hs)
		l.closeSock(hs.backend)
		hs.backend, hs.client.peer = nil, nil
		l.nextAddr(hs, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(hs.ap), Err: os.ErrDeadlineExceeded})
	}
	for _, w := range []*waitList{&l.heads, &l.dials} {
		if w.head != nil {
			l.armSweep(w.head.deadline)
		}
	}
}

// --- the tunnel ---

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

func (p *rawPair) goAway(tn *tunnel, reason string) {
	l := p.l
	l.post(func() {
		c := p.client
		if c.dead {
			return
		}
		p.backend.held = true // nothing from the backend after the close frame
		if tn.frames.atBoundary() {
			l.send(c, drainFrame)
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
			l.ended(tn, s)
			return
		}
		tn.touch()
		p := l.buf[:n]
		if s.client {
			tn.t.b.bytesUp.Add(uint64(n))
		} else {
			tn.frames.feed(p)
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
			l.ended(s.tn, s)
		}
		return false
	}
	if w < len(p) {
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
		l.ended(s.tn, s)
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
		s.tn.close(*s.tn.why.Load())
		return
	}
	if s.peer != nil && s.peer.readable && s.tn != nil {
		l.pump(s.peer)
	}
}

// ended closes the tunnel after s failed or ended; the sockets stop being
// served at once, and close after the tunnel is reported closed.
func (l *loop) ended(tn *tunnel, s *sock) {
	s.dead, s.peer.dead = true, true
	tn.ended(s.client)
}

// Kept bytes use the pumps' buffers.
func getOut() *[]byte  { return bufPool.Get().(*[]byte) }
func putOut(p *[]byte) { *p = (*p)[:cap(*p)]; bufPool.Put(p) }
