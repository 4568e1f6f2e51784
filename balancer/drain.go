package balancer

import (
	"fmt"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// startDrain stops new connections to be and closes its tunnels when the
// deregistration delay runs out. Callers hold b.mu.
func (b *Balancer) startDrain(be *backend, snap *snapshot) {
	be.draining.Store(true)
	delay := time.Duration(*snap.cfg.ServerGroup.DeregistrationDelay)
	drain := snap.cfg.ServerGroup.Drain
	b.publish(events.Event{Kind: events.BackendDrain, Backend: be.name, Reason: "draining",
		Detail: fmt.Sprintf("%d open connections close after the deregistration delay of %s", be.active.Load(), delay)})
	be.mu.Lock()
	defer be.mu.Unlock()
	if delay == 0 {
		b.expire(be, drain)
		return
	}
	be.drainTimer = b.clock.AfterFunc(delay, func() {
		be.mu.Lock()
		defer be.mu.Unlock()
		if be.drainTimer != nil {
			b.expire(be, drain)
		}
	}, "balancer", "drain")
}

// expire closes the tunnels of a drained backend, each at a jittered moment
// within the window when drain.jitter is set. Callers hold be.mu.
func (b *Balancer) expire(be *backend, drain config.Drain) {
	be.drainTimer = nil
	if drain.KeepOpen {
		b.publish(events.Event{Kind: events.BackendDrain, Backend: be.name, Reason: "delay_over",
			Detail: fmt.Sprintf("deregistration delay over; drain.keep_open leaves its %d open connections until they close", be.active.Load())})
		return
	}
	for _, tn := range b.tunnelsOf(be) {
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
		b.randMu.Lock()
		d := time.Duration(b.rng.Int64N(int64(drain.Jitter)))
		b.randMu.Unlock()
		b.clock.AfterFunc(d, close, "balancer", "drain-jitter")
	}
}

// cancelDrain takes a backend back into service before its delay ran out.
// Callers hold b.mu.
func (b *Balancer) cancelDrain(be *backend) {
	be.mu.Lock()
	if be.drainTimer != nil {
		be.drainTimer.Stop()
		be.drainTimer = nil
	}
	be.mu.Unlock()
	be.draining.Store(false)
	b.publish(events.Event{Kind: events.BackendDrain, Backend: be.name, Reason: "active", Detail: "back in service"})
}

// tunnelsOf lists the open tunnels to be, oldest first.
func (b *Balancer) tunnelsOf(be *backend) []*tunnel {
	b.tunnelsMu.Lock()
	defer b.tunnelsMu.Unlock()
	var out []*tunnel
	for tn := range b.tunnels {
		if tn.t.b == be {
			out = append(out, tn)
		}
	}
	sortTunnels(out)
	return out
}
