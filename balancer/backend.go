package balancer

import (
	"sync"
	"sync/atomic"
	"time"
)

// backend is the live state of one backend, keyed by name. It lives outside
// the snapshots and survives reloads: counters, health, draining.
type backend struct {
	name string

	active    atomic.Int64                    // open tunnels
	total     atomic.Uint64                   // tunnels and HTTP requests ever proxied
	bytesUp   atomic.Uint64                   // client to backend
	bytesDown atomic.Uint64                   // backend to client
	failures  atomic.Uint64                   // refused dials and failed health checks
	closed    [len(reasonIndex)]atomic.Uint64 // its tunnels closed, by reasonIndex
	upgrades  atomic.Uint64                   // 101s it answered
	waitNs    atomic.Int64                    // the time it took to answer them, summed
	healthy   atomic.Bool
	draining  atomic.Bool // removed by a reload, or state: drain
	// lagging: it left the rotation (unhealthy, draining) less than
	// server_group.deregistration_lag ago, and still gets new connections
	// as before (drainer.lag).
	lagging atomic.Bool

	// mu guards the health-check counters.
	mu        sync.Mutex
	okRun     int // consecutive good checks
	failRun   int // consecutive failed checks
	lastCheck string
}

// answered counts a 101 that took d to come after the upgrade request
// was sent.
func (be *backend) answered(d time.Duration) {
	be.upgrades.Add(1)
	be.waitNs.Add(int64(max(d, 0)))
}

func newBackend(name string) *backend {
	b := &backend{name: name}
	b.healthy.Store(true) // optimistic, so a fresh lab serves at once
	return b
}

// Health is what the health checks say of a backend.
type Health string

// Healths.
const (
	Healthy   Health = "healthy"
	Unhealthy Health = "unhealthy"
)

func (b *backend) health() Health {
	if b.healthy.Load() {
		return Healthy
	}
	return Unhealthy
}

// state is a backend's state in one word, as people read it: draining
// says more than health, which a draining backend still has, and
// deregistering (still routed to for the deregistration lag) more than
// either.
func (b *backend) state() string {
	if b.lagging.Load() {
		return "deregistering"
	}
	return b.stateWithoutLag()
}

// stateWithoutLag is the state the backend is in once its lag is over.
func (b *backend) stateWithoutLag() string {
	if b.draining.Load() {
		return "draining"
	}
	return string(b.health())
}
