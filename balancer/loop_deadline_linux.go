//go:build linux

package balancer

import (
	"net"
	"os"
	"time"
)

// The loop's wall-clock deadlines: a client's request head (the header
// timeout) and a backend's connect (dialTimeout). Neither is something a
// scenario controls; the backend's time to answer is on the balancer's
// clock (sendRequest).

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
