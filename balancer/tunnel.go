package balancer

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
)

// Close reasons of tunnels.
const (
	ReasonClientClosed  = "client_closed"  // the client closed or dropped the connection
	ReasonBackendClosed = "backend_closed" // the backend closed or dropped it
	ReasonIdleTimeout   = "idle_timeout"   // no bytes either way for the idle timeout
	ReasonDrained       = "drained"        // its backend's deregistration delay ran out
	ReasonShutdown      = "shutdown"       // the balancer closed
)

// tunnel is one WebSocket connection joined to a backend.
type tunnel struct {
	b          *Balancer
	seq        uint64 // order of opening
	id         string // "c" + seq, as events and status show it
	conns      tunnelConns
	clientAddr string
	t          *target // backend as configured by the generation it started under
	gen        uint64
	idle       time.Duration
	opened     time.Time
	last       atomic.Int64 // unix ns of the last byte either way, on b.clock
	backlog    atomic.Int64 // bytes read from one side, not yet written to the other

	// frames follows the frames sent to the client, so that a close frame
	// is only ever sent between two of them.
	frames frameTracker

	// why is the reason the tunnel ends with: the first to claim it wins,
	// even if the sockets are closed a moment later by someone else.
	why atomic.Pointer[string]

	// mu guards the fields below.
	mu        sync.Mutex
	idleTimer *quartz.Timer
	closed    bool
}

// claim records why the tunnel ends, unless a reason was claimed first.
func (tn *tunnel) claim(reason string) { tn.why.CompareAndSwap(nil, &reason) }

// tunnelConns drives a tunnel's two connections: two pump goroutines over
// net.Conn (netPair), or an event loop over raw sockets (loop_linux.go).
type tunnelConns interface {
	// start begins copying both ways.
	start(tn *tunnel)
	// goAway sends the client a 1001 close frame if no frame is half
	// sent, then closes the tunnel with reason.
	goAway(tn *tunnel, reason string)
	// closeConns closes both connections; any goroutine may call it.
	closeConns()
}

func (b *Balancer) newTunnel(snap *snapshot, t *target, conns tunnelConns, clientAddr string) *tunnel {
	now := b.clock.Now()
	seq := b.nextID.Add(1)
	tn := &tunnel{
		b: b, seq: seq, id: "c" + strconv.FormatUint(seq, 10),
		conns: conns, clientAddr: clientAddr,
		t: t, gen: snap.gen, idle: snap.idleTimeout(), opened: now,
	}
	tn.last.Store(now.UnixNano())
	return tn
}

// registerTunnel makes the tunnel known (status, counters, event) and
// arms its idle timer, unless the balancer is closing; then it closes the
// sockets and reports false. A registered tunnel must get startPumps.
func (b *Balancer) registerTunnel(tn *tunnel) bool {
	b.tunnelsMu.Lock()
	if b.closing {
		b.tunnelsMu.Unlock()
		tn.conns.closeConns()
		return false
	}
	b.tunnels[tn] = struct{}{}
	if _, pumps := tn.conns.(*netPair); pumps {
		b.wg.Add(2) // under tunnelsMu, so never after Close began waiting
	}
	b.tunnelsMu.Unlock()
	be := tn.t.b
	be.active.Add(1)
	be.total.Add(1)
	tn.mu.Lock()
	tn.idleTimer = b.clock.AfterFunc(tn.idle, tn.onIdle, "balancer", "idle")
	tn.mu.Unlock()
	b.publish(events.Event{Kind: events.ConnOpened, Conn: tn.id, Client: tn.clientAddr, Backend: tn.t.name, Generation: tn.gen})
	return true
}

// startPumps starts the tunnel's two copies. A tunnel closed meanwhile (by
// Close, a drain or its idle timer) still gets them: they find the sockets
// closed and end at once.
func (b *Balancer) startPumps(tn *tunnel) {
	tn.conns.start(tn)
	be := tn.t.b
	if be.draining.Load() { // picked just before a drain that already expired
		be.mu.Lock()
		expired := be.drainTimer == nil
		be.mu.Unlock()
		if expired {
			tn.close(ReasonDrained)
		}
	}
}

// touch records activity; the idle timer reads it when it fires, so no
// timer is reset per read.
func (tn *tunnel) touch() { tn.last.Store(tn.b.clock.Now().UnixNano()) }

// onIdle runs when the idle timer fires: close the tunnel if it has been
// quiet for the whole idle timeout, else re-arm for the rest.
func (tn *tunnel) onIdle() {
	quiet := tn.b.clock.Since(time.Unix(0, tn.last.Load()))
	if rest := tn.idle - quiet; rest > 0 {
		tn.mu.Lock()
		if !tn.closed {
			tn.idleTimer.Reset(rest, "balancer", "idle")
		}
		tn.mu.Unlock()
		return
	}
	tn.close(ReasonIdleTimeout)
}

// goAway sends the client a 1001 Going Away close frame if no frame from
// the backend is half-written, then closes the tunnel. The reason is claimed
// first: a quick client answers the frame and hangs up before close runs.
func (tn *tunnel) goAway(reason string) {
	tn.claim(reason)
	tn.conns.goAway(tn, reason)
}

// close ends the tunnel once: counters and the event first, then both
// sockets, so nothing a client can see is ahead of what the balancer
// reports. The first reason claimed wins.
func (tn *tunnel) close(reason string) {
	tn.claim(reason)
	reason = *tn.why.Load()
	tn.mu.Lock()
	if tn.closed {
		tn.mu.Unlock()
		return
	}
	tn.closed = true
	if tn.idleTimer != nil {
		tn.idleTimer.Stop()
	}
	tn.mu.Unlock()
	b := tn.b
	b.tunnelsMu.Lock()
	_, registered := b.tunnels[tn]
	delete(b.tunnels, tn)
	b.tunnelsMu.Unlock()
	if registered {
		tn.t.b.active.Add(-1)
		b.counters.closed(reason)
		b.publish(events.Event{
			Kind: events.ConnClosed, Conn: tn.id, Client: tn.clientAddr, Backend: tn.t.name, Generation: tn.gen, Reason: reason,
			Detail: fmt.Sprintf("after %s", b.clock.Since(tn.opened).Round(time.Millisecond)),
		})
	}
	tn.conns.closeConns()
}

// goAwayWriteWait bounds how long a drain's close frame may wait behind
// earlier bytes to a client that stopped reading. Wall time, as for every
// socket deadline; only a stuck client ever meets it.
const goAwayWriteWait = time.Second

// tunnelEnd is how a tunnel's copy ended: on which connection, and how.
type tunnelEnd struct {
	client bool  // the client's connection, else the backend's
	write  bool  // writing to it failed, else reading it ended
	err    error // nil: the peer closed its end (EOF)
}

// ended closes the tunnel after a copy ended on one of its connections.
// Every copy of both front doors — the event loop's (loop_tunnel_linux.go)
// and the pump goroutines (pump.go) — ends here, first come first served
// (close keeps the first reason claimed): the one place to record who
// ended a tunnel and how.
func (tn *tunnel) ended(e tunnelEnd) {
	if e.client {
		tn.close(ReasonClientClosed)
	} else {
		tn.close(ReasonBackendClosed)
	}
}
