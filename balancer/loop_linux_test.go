package balancer

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A hang-up queued for a socket that is closed, and whose descriptor number
// a new socket takes, within one epoll batch does not reach the new socket.
// (It did: a fresh backend connect that took the number was failed by it,
// and its healthy backend counted a failure.)
func TestStaleEventDoesNotReachASocketThatReusedItsNumber(t *testing.T) {
	l := &loop{b: newBalancer(Options{}), epfd: -1, evfd: -1, lnfd: -1}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(l.epfd)
	pair := func() (int, int) {
		t.Helper()
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fds[1]) })
		return fds[0], fds[1]
	}
	stuck := &sock{fd: -1, out: new([]byte)} // a peer that takes no bytes: pump stops at once

	oldFD, oldPeer := pair()
	old := &sock{fd: oldFD, client: true, peer: stuck}
	if !l.add(old) {
		t.Fatal("cannot register the first socket")
	}
	unix.Close(oldPeer) // its peer hangs up: a hang-up event is queued for oldFD
	var batch [4]unix.EpollEvent
	n, err := unix.EpollWait(l.epfd, batch[:], 1000)
	if err != nil || n != 1 || int(batch[0].Fd) != oldFD || batch[0].Events&unix.EPOLLRDHUP == 0 {
		t.Fatalf("got %d events %+v, %v; want the hang-up of descriptor %d", n, batch[:max(n, 0)], err, oldFD)
	}

	// Earlier in the same batch, the socket is closed and a new one takes
	// its number.
	l.closeSock(old)
	freshFD, _ := pair()
	defer unix.Close(freshFD)
	if freshFD != oldFD {
		t.Skipf("the new socket got descriptor %d, not %d: nothing to reuse", freshFD, oldFD)
	}
	fresh := &sock{fd: freshFD, client: true, peer: stuck}
	if !l.add(fresh) {
		t.Fatal("cannot register the new socket")
	}
	l.handle(batch[0])
	if fresh.hup || fresh.readable {
		t.Fatalf("the new socket took the old one's hang-up (hup %v, readable %v); want the stale event dropped", fresh.hup, fresh.readable)
	}
}
