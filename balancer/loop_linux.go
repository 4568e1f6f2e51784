//go:build linux

package balancer

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

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
// drains, Close) post functions to it. The loop judges heads and answers
// by the handshake core's rules (handshake.go), as the goroutine front door
// does, and answers a refused upgrade itself. Anything else unusual leaves
// the loop as a net.Conn: a request that is not an upgrade, or that only
// net/http parses, goes to net/http, and a backend's answer other than 101
// is relayed by a goroutine.
//
// Files by concern: this one runs the loop (start, turn, events, stop);
// loop_accept_linux.go accepts, registers sockets and reads the request
// head; loop_dial_linux.go connects to a backend; loop_handshake_linux.go
// sends the request and reads the answer; loop_deadline_linux.go keeps the
// wall-clock deadlines; loop_tunnel_linux.go copies a tunnel's bytes.

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
	gen   uint32              // the last registration's number
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
	gen    uint32   // its registration, as its epoll events carry it

	readable bool    // data (or the end) may be waiting to be read
	hup      bool    // the peer's end of stream is queued: read to the end
	held     bool    // do not read: a close frame went out after it
	out      *[]byte // bytes waiting to be written (pooled), nil if none
	outOff   int
	thenEnd  bool // close the tunnel once out is written
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
		// it for a new socket with the same number; handle drops it, by the
		// registration number the event carries.)
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
	// An event carries the registration it was queued for: one for a
	// socket closed earlier in this batch, whose number a new socket took,
	// is not the new socket's.
	if fd >= len(l.socks) || l.socks[fd] == nil || l.socks[fd].dead || l.socks[fd].gen != uint32(e.Pad) {
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
			} else if e.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && hs.list != &l.heads {
				l.clientLeft(hs) // gone while the backend is dialled or answers
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
