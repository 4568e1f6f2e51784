package balancer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// Close reasons of tunnels: who ended it first, and how. The first close
// frame either side sends decides (its code is in the event's detail);
// without one, the first side to hang up does.
const (
	ReasonClientCloseFrame  = "client_close_frame"  // the client said goodbye: a closed tab sends 1001
	ReasonBackendCloseFrame = "backend_close_frame" // the backend said goodbye: a graceful stop sends 1001
	ReasonClientFIN         = "client_fin"          // the client hung up without a close frame
	ReasonClientReset       = "client_reset"        // the client's connection was reset, or writing to it failed
	ReasonBackendFIN        = "backend_fin"         // the backend hung up without a close frame: a crash, a kill
	ReasonBackendReset      = "backend_reset"       // the backend's connection was reset, or writing to it failed
	ReasonIdleTimeout       = "idle_timeout"        // no traffic that counts (listener.idle_reset) for the idle timeout
	ReasonMaxLifetime       = "max_lifetime"        // open for listener.max_lifetime, busy or not
	ReasonDrained           = "drained"             // its backend's deregistration delay ran out
	ReasonShutdown          = "shutdown"            // the balancer shut down
)

// CloseReasons lists every close reason, as status and metrics show them.
func CloseReasons() []string { return slices.Clone(reasonIndex[:]) }

// Groups of reasons by who ended the tunnel, for expectations that care
// only about that (a scenario's expect_closed: backend_closed).
const (
	ReasonClientClosed  = "client_closed"  // any client_* reason
	ReasonBackendClosed = "backend_closed" // any backend_* reason
)

// ReasonMatches reports whether a tunnel closed with got satisfies want:
// the same reason, or the group it belongs to.
func ReasonMatches(got, want string) bool {
	switch want {
	case ReasonClientClosed:
		return strings.HasPrefix(got, "client_")
	case ReasonBackendClosed:
		return strings.HasPrefix(got, "backend_")
	}
	return got == want
}

// ending is why a tunnel ends, as its event says it.
type ending struct {
	reason string
	detail string // e.g. the close frame's code; "" when the reason says it all
}

// goodbye is the first close frame a side of a tunnel sent.
type goodbye struct {
	client bool
	code   uint16
	text   string
}

// who names the side that sent it, as event details and status say it.
func (g *goodbye) who() string {
	if g.client {
		return "client"
	}
	return "backend"
}

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
	lifetime   time.Duration // 0: no cap
	resets     resetRule     // the traffic that restarts the idle timer
	cutWith    string        // listener.cut: how the idle timeout and lifetime end it
	opened     time.Time
	last       atomic.Int64 // unix ns of the last traffic that counts (resets), on b.clock
	backlog    atomic.Int64 // bytes read from one side, not yet written to the other

	// frames follows the frames sent to the client, and fromClient those
	// sent to the backend, so that a close frame is only ever sent between
	// two of them, and so that a side's own close frame is heard. Each is
	// fed by the one copy of its direction.
	frames, fromClient frameTracker
	// said is the first close frame either side sent.
	said atomic.Pointer[goodbye]
	// bye is set once the balancer said goodbye to both ends (shutdown):
	// from then on nothing is forwarded, and the tunnel ends when both
	// sides answered with a close frame, or one hung up.
	bye atomic.Bool
	// closeFrom records that the client ([0]) or the backend ([1]) sent a
	// close frame.
	closeFrom [2]atomic.Bool

	// why is the reason the tunnel ends with: the first to claim it wins,
	// even if the sockets are closed a moment later by someone else.
	why atomic.Pointer[ending]

	// mu guards the fields below.
	mu        sync.Mutex
	idleTimer *quartz.Timer
	closed    bool
}

// claim records why the tunnel ends, unless a reason was claimed first.
func (tn *tunnel) claim(reason, detail string) {
	tn.why.CompareAndSwap(nil, &ending{reason: reason, detail: detail})
}

// heard feeds bytes one side sent to the tracker of that direction and
// notes the side's close frame when one completes. The caller is that
// direction's copy.
func (tn *tunnel) heard(client bool, p []byte) {
	f := &tn.frames
	if client {
		f = &tn.fromClient
	}
	closed := f.feed(p)
	if r := tn.resets; r&resetDataOnly != 0 && f.takeData() && r.counts(client) {
		tn.last.Store(tn.b.clock.Now().UnixNano())
	}
	if closed {
		code, text, _ := f.closed()
		tn.said.CompareAndSwap(nil, &goodbye{client: client, code: code, text: text})
		tn.closeFrom[side(client)].Store(true)
	}
}

func side(client bool) int {
	if client {
		return 0
	}
	return 1
}

// answered reports whether, after the balancer said goodbye, both sides
// have answered with their close frames: the tunnel can end.
func (tn *tunnel) answered() bool {
	return tn.closeFrom[0].Load() && tn.closeFrom[1].Load()
}

// tunnelConns drives a tunnel's two connections: two pump goroutines over
// net.Conn (netPair), or an event loop over raw sockets (loop_linux.go).
type tunnelConns interface {
	// start begins copying both ways.
	start(tn *tunnel)
	// sayGoodbye sends both ends a 1001 close frame, each between two
	// frames, and stops forwarding (tn.bye); the tunnel ends when a side
	// answers.
	sayGoodbye(tn *tunnel)
	// goAway sends the client a 1001 close frame if no frame is half
	// sent, then closes the tunnel with reason.
	goAway(tn *tunnel, reason string)
	// closeConns closes both connections; any goroutine may call it.
	closeConns()
	// abort makes the close of the client's connection a TCP reset
	// (SO_LINGER 0); closeConns still closes it.
	abort()
}

func (b *Balancer) newTunnel(snap *snapshot, t *target, conns tunnelConns, clientAddr string) *tunnel {
	now := b.clock.Now()
	seq := b.tunnels.nextID.Add(1)
	tn := &tunnel{
		b: b, seq: seq, id: "c" + strconv.FormatUint(seq, 10),
		conns: conns, clientAddr: clientAddr,
		t: t, gen: snap.gen, idle: snap.idleTimeout(), opened: now,
		lifetime: time.Duration(*snap.cfg.Listener.MaxLifetime), resets: resetRuleOf(snap.cfg.Listener), cutWith: snap.cfg.Listener.Cut,
	}
	tn.last.Store(now.UnixNano())
	return tn
}

// registerTunnel makes the tunnel known (status, counters, event) and
// arms its idle timer, unless the balancer is closing; then it closes the
// sockets and reports false. A registered tunnel must get startPumps.
func (b *Balancer) registerTunnel(tn *tunnel) bool {
	pumps := 0
	if _, ok := tn.conns.(*netPair); ok {
		pumps = 2
	}
	if !b.tunnels.add(tn, &b.wg, pumps) {
		tn.conns.closeConns()
		return false
	}
	be := tn.t.b
	be.active.Add(1)
	be.total.Add(1)
	if first, ok := tn.nextCheck(b.clock.Now()); ok {
		tn.mu.Lock()
		tn.idleTimer = b.clock.AfterFunc(first, tn.onIdle, "balancer", "idle")
		tn.mu.Unlock()
	}
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
		b.drains.lateCut(be, tn)
	}
}

// resetRule is listener.idle_reset and control_frames_reset as bits, so
// that touch decides with one load of a field the tunnel never changes.
type resetRule uint8

const (
	resetByClient  resetRule = 1 << iota // bytes from the client count
	resetByBackend                       // bytes from the backend count
	resetDataOnly                        // ...but only data frames, not ping/pong (heard decides)
)

func resetRuleOf(l config.Listener) resetRule {
	var r resetRule
	switch l.IdleReset {
	case config.IdleResetBoth:
		r = resetByClient | resetByBackend
	case config.IdleResetClientToBackend:
		r = resetByClient
	case config.IdleResetBackendToClient:
		r = resetByBackend
	}
	if r != 0 && l.ControlFramesReset != nil && !*l.ControlFramesReset {
		r |= resetDataOnly
	}
	return r
}

// timed reports whether the tunnel has an idle timer.
func (r resetRule) timed() bool { return r&(resetByClient|resetByBackend) != 0 }

func (r resetRule) counts(client bool) bool {
	if client {
		return r&resetByClient != 0
	}
	return r&resetByBackend != 0
}

// touch records traffic from one side; the idle timer reads it when it
// fires, so no timer is reset per read. With the default rule (both ways,
// every frame) it is one store. A rule that skips control frames leaves
// the store to heard, which knows the frames.
func (tn *tunnel) touch(client bool) {
	if r := tn.resets; r == resetByClient|resetByBackend || r&resetDataOnly == 0 && r.counts(client) {
		tn.last.Store(tn.b.clock.Now().UnixNano())
	}
}

// nextCheck is how long from now until the idle timeout or the lifetime
// could end the tunnel; false when neither ever will.
func (tn *tunnel) nextCheck(now time.Time) (time.Duration, bool) {
	var next time.Duration
	ok := false
	if tn.resets.timed() {
		next, ok = tn.idle-now.Sub(time.Unix(0, tn.last.Load())), true
	}
	if tn.lifetime > 0 {
		if rest := tn.lifetime - now.Sub(tn.opened); !ok || rest < next {
			next, ok = rest, true
		}
	}
	return next, ok
}

// onIdle runs when the tunnel's timer fires: cut the tunnel if it reached
// its lifetime or has been quiet for the whole idle timeout, else re-arm
// for the rest.
func (tn *tunnel) onIdle() {
	now := tn.b.clock.Now()
	if tn.lifetime > 0 && now.Sub(tn.opened) >= tn.lifetime {
		tn.cut(ReasonMaxLifetime)
		return
	}
	rest, _ := tn.nextCheck(now)
	if rest > 0 {
		tn.mu.Lock()
		if !tn.closed {
			tn.idleTimer.Reset(rest, "balancer", "idle")
		}
		tn.mu.Unlock()
		return
	}
	tn.cut(ReasonIdleTimeout)
}

// cut ends the tunnel for the idle timeout or its lifetime the way
// listener.cut says: a close, a reset, or a 1001 close frame first.
func (tn *tunnel) cut(reason string) {
	switch tn.cutWith {
	case config.CutCloseFrame:
		tn.goAway(reason)
	case config.CutReset:
		tn.claim(reason, "TCP reset to the client")
		tn.conns.abort()
		tn.close(reason)
	default:
		tn.close(reason)
	}
}

// goAway sends the client a 1001 Going Away close frame if no frame from
// the backend is half-written, then closes the tunnel. The reason is claimed
// first: a quick client answers the frame and hangs up before close runs.
func (tn *tunnel) goAway(reason string) {
	tn.claim(reason, "")
	tn.conns.goAway(tn, reason)
}

// close ends the tunnel once: counters and the event first, then both
// sockets, so nothing a client can see is ahead of what the balancer
// reports. The first reason claimed wins.
func (tn *tunnel) close(reason string) { tn.closeFor(reason, "") }

// closeFor is close with a detail for the event.
func (tn *tunnel) closeFor(reason, detail string) {
	tn.claim(reason, detail)
	why := *tn.why.Load()
	reason = why.reason
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
	if b.tunnels.remove(tn) {
		tn.t.b.active.Add(-1)
		b.counters.closedBy(tn.t.b, why, tn.said.Load())
		detail := fmt.Sprintf("after %s", b.clock.Since(tn.opened).Round(time.Millisecond))
		if why.detail != "" {
			detail = why.detail + ", " + detail
		}
		b.publish(events.Event{
			Kind: events.ConnClosed, Conn: tn.id, Client: tn.clientAddr, Backend: tn.t.name, Generation: tn.gen, Reason: reason,
			Detail: detail,
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
	tn.closeFor(tn.endOf(e))
}

// endOf says who ended the tunnel first and how: the first close frame
// either side sent, else the side whose copy ended — a FIN when its read
// found the end of the stream, a reset when its read or a write to it
// failed.
func (tn *tunnel) endOf(e tunnelEnd) (reason, detail string) {
	if g := tn.said.Load(); g != nil {
		reason := ReasonBackendCloseFrame
		if g.client {
			reason = ReasonClientCloseFrame
		}
		detail = fmt.Sprintf("%s sent close %d", g.who(), g.code)
		if g.text != "" {
			detail += fmt.Sprintf(" %q", g.text)
		}
		return reason, detail
	}
	switch {
	case e.client && e.err == nil && !e.write:
		return ReasonClientFIN, "the client hung up without a close frame"
	case e.client:
		return ReasonClientReset, "client: " + shortErr(e.err)
	case e.err == nil && !e.write:
		return ReasonBackendFIN, "the backend hung up without a close frame"
	}
	return ReasonBackendReset, "backend: " + shortErr(e.err)
}
