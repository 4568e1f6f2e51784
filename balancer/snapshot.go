package balancer

import (
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

// snapshot is one immutable generation of the config, as the data path
// sees it. The request path loads it once and uses that value throughout.
type snapshot struct {
	gen     uint64
	cfg     config.Config // defaulted and validated
	targets []*target
	// Tunnels and plain HTTP requests keep separate policy state, so that
	// page and asset loads do not skew how WebSocket connections spread.
	policy     policy  // WebSocket upgrades
	httpPolicy policy  // everything else
	sticky     *sticky // cookie stickiness; nil when off
	// leaving are targets of earlier generations, removed from the group,
	// that still take new connections while their backend lags
	// (server_group.deregistration_lag); nothing else sees them.
	leaving []*target
}

// target is a backend as one generation configures it.
type target struct {
	name string
	url  *url.URL
	addr string // host:port to dial
	// ap is addr when it is an IP address and port (literal), which the
	// event loop connects to without resolving.
	ap      netip.AddrPort
	literal bool
	weight  int
	drain   bool // state: drain in this generation
	lambda  bool // type: lambda
	b       *backend
}

// eligible reports whether t may take a new connection. A backend within
// its deregistration lag still does, whatever took it out.
func (t *target) eligible() bool {
	return t.weight > 0 && (t.b.lagging.Load() || !t.drain && t.b.healthy.Load() && !t.b.draining.Load())
}

func (s *snapshot) idleTimeout() time.Duration { return time.Duration(s.cfg.Listener.IdleTimeout) }

// failOpen reports whether t may take a new connection when no backend is
// healthy and the group fails open (AWS ALB): health is disregarded, the
// rest (weight, drain) is not.
func (t *target) failOpen() bool {
	return t.weight > 0 && (t.b.lagging.Load() || !t.drain && !t.b.draining.Load())
}

// candidates are the targets that may take a new connection, less those
// already tried for this request. With fail_open and no healthy backend,
// they are every one that is not taken out by weight or drain.
func (s *snapshot) candidates(tried []*target) []*target {
	eligible := (*target).eligible
	if s.cfg.ServerGroup.HealthCheck.FailOpen && !s.anyHealthy() {
		eligible = (*target).failOpen
	}
	out := make([]*target, 0, len(s.targets))
	all := s.targets
	if len(s.leaving) > 0 {
		all = append(slices.Clip(s.targets), s.leaving...)
	}
outer:
	for _, t := range all {
		if !eligible(t) {
			continue
		}
		for _, x := range tried {
			if x == t {
				continue outer
			}
		}
		out = append(out, t)
	}
	return out
}

func (s *snapshot) anyHealthy() bool {
	for _, t := range s.targets {
		if t.b.healthy.Load() {
			return true
		}
	}
	return false
}

// lookup finds a target by name.
func (s *snapshot) lookup(name string) *target {
	for _, t := range s.targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

// leavingAfter lists the targets of old that snap removes and that still
// take new connections for the deregistration lag: those removed now (a
// backend in the rotation, whose lag drainer.start begins) and those
// removed earlier whose lag still runs.
func (snap *snapshot) leavingAfter(old *snapshot) []*target {
	lag := snap.cfg.ServerGroup.DeregistrationLag
	var out []*target
	for _, t := range append(slices.Clip(old.targets), old.leaving...) {
		if snap.lookup(t.name) != nil {
			continue
		}
		if t.b.lagging.Load() || lag > 0 && t.b.healthy.Load() && !t.b.draining.Load() {
			out = append(out, t)
		}
	}
	return out
}
