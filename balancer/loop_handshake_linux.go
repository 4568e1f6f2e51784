//go:build linux

package balancer

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/coder/quartz"
)

// A handshake on the loop: the client's request to the backend, and the
// backend's answer — a tunnel, a relayed refusal, or a 502 — through the
// handshake core's rules (handshake.go).

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
	sent            time.Time        // when the request went to the backend, on b.clock
	deadline        time.Time        // wall: the head's or the connect's
	prev, next      *pending         // in a waitList
	list            *waitList
	over            bool
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
	hs.sent = l.b.clock.Now()
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
	switch kind, reason := classifyAnswer(hs.t.name, in[:end]); kind {
	case answerRelay:
		l.relay(hs, in)
		return
	case answerRefuse:
		l.failHandshake(hs, reason)
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
	t.b.answered(tn.opened.Sub(hs.sent))
	if !l.b.registerTunnel(tn) {
		return
	}
	frames := in[end:]
	tn.heard(false, frames) // the backend may speak first, even to say goodbye
	t.b.bytesDown.Add(uint64(len(frames)))
	if cookies := hs.try.cookies(t, func(name string) bool { return setsCookie(in[:end], name) }); cookies != nil {
		in, _ = withSetCookies(in, end, cookies)
	}
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

// clientLeft ends a handshake whose client hung up before the backend
// answered: the backend's connection closes at once, and nobody hears a
// refusal.
func (l *loop) clientLeft(hs *pending) {
	l.endHandshake(hs)
	if hs.backend != nil {
		l.closeSock(hs.backend)
	}
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
