package balancer

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// drainer takes backends out of service: new connections stop going to
// one at once (backend.draining, which the data path reads), and when the
// deregistration delay runs out its tunnels close, each at a jittered
// moment with drain.jitter. It owns the delays' timers and the jitter's
// randomness.
type drainer struct {
	clock   quartz.Clock
	publish func(events.Event)
	tunnels *registry

	// mu guards the fields below. A delay that runs out holds it while it
	// closes its backend's tunnels.
	mu     sync.Mutex
	rng    *rand.Rand
	delays map[*backend]*quartz.Timer // running deregistration delays
	// expired holds the drain settings a backend's delay ran out under, so
	// that a tunnel picked just before the drain and started after it
	// ends the way its siblings did (lateCut).
	expired map[*backend]config.Drain
	lags    map[*backend]*quartz.Timer // running deregistration lags
}

// lag is the one place of server_group.deregistration_lag: be has just
// left the rotation (why: its health checks failed, or it is draining),
// and for the lag it still gets new connections, as a cloud balancer's
// nodes route to a target until the change reaches them. A backend that
// was out of the rotation already, or is lagging already, starts none.
// The data path reads backend.lagging. Callers: the control path and the
// prober, before they make the change the data path sees.
func (d *drainer) lag(be *backend, lag time.Duration, why string) {
	if lag <= 0 || be.draining.Load() || !be.healthy.Load() {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lags[be] != nil {
		return
	}
	be.lagging.Store(true)
	d.publish(events.Event{Kind: events.BackendLag, Backend: be.name, Reason: "started",
		Detail: fmt.Sprintf("%s; it still gets new connections for the deregistration lag of %s", why, lag)})
	var timer *quartz.Timer
	timer = d.clock.AfterFunc(lag, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.lags[be] != timer {
			return
		}
		delete(d.lags, be)
		be.lagging.Store(false)
		detail := fmt.Sprintf("no new connections from now on (%s, %d open)", be.stateWithoutLag(), be.active.Load())
		if be.healthy.Load() && !be.draining.Load() {
			detail = "it is back in the rotation (healthy)"
		}
		d.publish(events.Event{Kind: events.BackendLag, Backend: be.name, Reason: "over", Detail: detail})
	}, "balancer", "lag")
	if d.lags == nil {
		d.lags = map[*backend]*quartz.Timer{}
	}
	d.lags[be] = timer
}

// start stops new connections to be and closes its tunnels when the
// deregistration delay runs out. The control path calls it.
func (d *drainer) start(be *backend, snap *snapshot) {
	d.lag(be, time.Duration(snap.cfg.ServerGroup.DeregistrationLag), "removed from the server group")
	be.draining.Store(true)
	delay := time.Duration(*snap.cfg.ServerGroup.DeregistrationDelay)
	drain := snap.cfg.ServerGroup.Drain
	d.publish(events.Event{Kind: events.BackendDrain, Backend: be.name, Reason: "draining",
		Detail: fmt.Sprintf("%d open connections close after the deregistration delay of %s", be.active.Load(), delay)})
	d.mu.Lock()
	defer d.mu.Unlock()
	if delay == 0 {
		d.expire(be, drain)
		return
	}
	var timer *quartz.Timer
	timer = d.clock.AfterFunc(delay, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.delays[be] == timer { // not cancelled meanwhile
			d.expire(be, drain)
		}
	}, "balancer", "drain")
	d.delays[be] = timer
}

// expire closes the tunnels of a drained backend, each at a jittered moment
// within the window when drain.jitter is set. Callers hold d.mu.
func (d *drainer) expire(be *backend, drain config.Drain) {
	delete(d.delays, be)
	if d.expired == nil {
		d.expired = map[*backend]config.Drain{}
	}
	d.expired[be] = drain
	if drain.KeepOpen {
		d.publish(events.Event{Kind: events.BackendDrain, Backend: be.name, Reason: "delay_over",
			Detail: fmt.Sprintf("deregistration delay over; drain.keep_open leaves its %d open connections until they close", be.active.Load())})
		return
	}
	for _, tn := range d.tunnels.list(func(tn *tunnel) bool { return tn.t.b == be }) {
		close := func() {
			if drain.CloseFrame {
				tn.goAway(ReasonDrained)
			} else {
				tn.close(ReasonDrained)
			}
		}
		if drain.Jitter <= 0 {
			close()
			continue
		}
		d.clock.AfterFunc(time.Duration(d.rng.Int64N(int64(drain.Jitter))), close, "balancer", "drain-jitter")
	}
}

// cancel takes a backend back into service before its delay ran out. The
// control path calls it.
func (d *drainer) cancel(be *backend) {
	d.mu.Lock()
	if t := d.delays[be]; t != nil {
		t.Stop()
		delete(d.delays, be)
	}
	delete(d.expired, be)
	if t := d.lags[be]; t != nil { // back in service: the lag means nothing now
		t.Stop()
		delete(d.lags, be)
		be.lagging.Store(false)
	}
	d.mu.Unlock()
	be.draining.Store(false)
	d.publish(events.Event{Kind: events.BackendDrain, Backend: be.name, Reason: "active", Detail: "back in service"})
}

// lateCut ends tn, picked for be just before be's drain and started after
// its delay ran out, the way expire ended its siblings: at once (no
// jitter), with a close frame if drain.close_frame, not at all under
// drain.keep_open.
func (d *drainer) lateCut(be *backend, tn *tunnel) {
	d.mu.Lock()
	drain, over := d.expired[be]
	d.mu.Unlock()
	switch {
	case !over || drain.KeepOpen:
	case drain.CloseFrame:
		tn.goAway(ReasonDrained)
	default:
		tn.close(ReasonDrained)
	}
}

// close stops every running delay and lag.
func (d *drainer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for be, t := range d.delays {
		t.Stop()
		delete(d.delays, be)
	}
	for be, t := range d.lags {
		t.Stop()
		delete(d.lags, be)
	}
}
