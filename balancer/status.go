package balancer

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

// Status is what the balancer is doing now.
type Status struct {
	Generation  uint64          `json:"generation"`
	Listener    string          `json:"listener"`
	TLSListener string          `json:"tls_listener,omitempty"`
	Profile     string          `json:"profile,omitempty"` // the profile: in force, if any
	Policy      string          `json:"policy"`
	IdleTimeout config.Duration `json:"idle_timeout"` // 0s: no idle timer (idle_reset: none)
	Backends    []BackendStatus `json:"backends"`
	Connections []ConnStatus    `json:"connections"`
	// Closed counts closed tunnels by reason since start (CloseReasons).
	Closed map[string]uint64 `json:"closed"`
	// CloseCodes counts the close frames that ended tunnels, by who sent
	// them and the code: "client 1001", "backend 1000".
	CloseCodes map[string]uint64 `json:"close_codes"`
	// Reloads counts reloads by outcome: applied, rejected.
	Reloads map[string]uint64 `json:"reloads"`
	// BlockedWrites counts, since start, the writes that found a peer's
	// socket full: the balancer had to wait, or keep the bytes, until the
	// peer read. A count that grows means a peer that does not keep up.
	BlockedWrites BlockedWrites `json:"blocked_writes"`
	// Stickiness is the stickiness in force and what it did since start.
	Stickiness StickinessStatus `json:"stickiness"`
}

// StickinessStatus is server_group.stickiness and its counts since start
// (they stay when a reload turns stickiness off).
type StickinessStatus struct {
	Type       string          `json:"type"` // none, lb_cookie, app_cookie or source_ip
	CookieName string          `json:"cookie_name,omitempty"`
	Duration   config.Duration `json:"duration,omitempty"`
	Hits       uint64          `json:"hits"`    // requests the cookie's backend took
	Repicks    uint64          `json:"repicks"` // cookies not followed (forged, expired, backend gone or unavailable): picked again, cookie rewritten
	New        uint64          `json:"new"`     // requests without a cookie that got one
}

// BlockedWrites counts writes that found a socket full, by whose it was.
type BlockedWrites struct {
	Client  uint64 `json:"client"`
	Backend uint64 `json:"backend"`
}

// counters are the balancer's lifetime totals.
type counters struct {
	closed            [len(reasonIndex)]atomic.Uint64 // by reasonIndex
	applied, rejected atomic.Uint64
	// blocked counts writes that found a full socket: [0] a client's,
	// [1] a backend's. Only a write that would block adds to it.
	blocked [2]atomic.Uint64

	// codesMu guards codes: close frames that ended tunnels, by sender
	// and code. Only tunnels that end take it.
	codesMu sync.Mutex
	codes   map[string]uint64
}

// reasonIndex numbers the close reasons for the counters.
var reasonIndex = [...]string{
	ReasonClientCloseFrame, ReasonClientFIN, ReasonClientReset,
	ReasonBackendCloseFrame, ReasonBackendFIN, ReasonBackendReset,
	ReasonIdleTimeout, ReasonMaxLifetime, ReasonDrained, ReasonShutdown,
}

// closedBy counts a tunnel of be that ended as e says, with the close
// frame g, if any.
func (c *counters) closedBy(be *backend, e ending, g *goodbye) {
	for i, r := range reasonIndex {
		if r == e.reason {
			c.closed[i].Add(1)
			be.closed[i].Add(1)
		}
	}
	if g == nil || e.reason != ReasonClientCloseFrame && e.reason != ReasonBackendCloseFrame {
		return
	}
	c.codesMu.Lock()
	if c.codes == nil {
		c.codes = map[string]uint64{}
	}
	c.codes[fmt.Sprintf("%s %d", g.who(), g.code)]++
	c.codesMu.Unlock()
}

// blockedOn returns the counter of writes blocked on a client's socket,
// or on a backend's.
func (c *counters) blockedOn(client bool) *atomic.Uint64 {
	if client {
		return &c.blocked[0]
	}
	return &c.blocked[1]
}

func (c *counters) snapshot() (map[string]uint64, map[string]uint64) {
	closed := closedMap(&c.closed)
	c.codesMu.Lock()
	defer c.codesMu.Unlock()
	return closed, maps.Clone(c.codes)
}

// closedMap turns counts by reasonIndex into counts by reason.
func closedMap(counts *[len(reasonIndex)]atomic.Uint64) map[string]uint64 {
	closed := make(map[string]uint64, len(reasonIndex))
	for i, r := range reasonIndex {
		closed[r] = counts[i].Load()
	}
	return closed
}

// BackendStatus is one backend's live state.
type BackendStatus struct {
	Name     string `json:"name"`
	URL      string `json:"url,omitempty"` // "" once removed from the config
	Weight   int    `json:"weight"`
	State    string `json:"state"`    // in one word for people: deregistering, draining, else the health
	Health   Health `json:"health"`   // what the health checks say, draining or not
	Draining bool   `json:"draining"` // removed by a reload or state: drain; no new connections (after the lag)
	// Lagging: it left the rotation less than deregistration_lag ago and
	// still gets new connections.
	Lagging   bool   `json:"lagging"`
	Active    int64  `json:"active"`
	Total     uint64 `json:"total"`
	BytesUp   uint64 `json:"bytes_up"`
	BytesDown uint64 `json:"bytes_down"`
	Failures  uint64 `json:"failures"`
	LastCheck string `json:"last_check,omitempty"`
	// Upgrades counts the 101s it answered since start, and UpgradeWait
	// sums the time each took, from the request sent to the 101 read
	// (HAProxy's Tr): the mean over an interval is the change of one over
	// the change of the other.
	Upgrades    uint64          `json:"upgrades"`
	UpgradeWait config.Duration `json:"upgrade_wait"`
	// Closed counts its closed tunnels by reason since start, as
	// Status.Closed does for all: a breakdown per backend.
	Closed map[string]uint64 `json:"closed"`
}

// ConnStatus is one open tunnel.
type ConnStatus struct {
	ID           string          `json:"id"`
	Client       string          `json:"client"`
	Backend      string          `json:"backend"`
	Generation   uint64          `json:"generation"`
	Age          config.Duration `json:"age"`
	Idle         config.Duration `json:"idle"`
	IdleTimeout  config.Duration `json:"idle_timeout"` // 0s: no idle timer
	LastActivity time.Time       `json:"last_activity"`
	// Backlog is bytes read from one side that the other has not taken
	// yet: a peer that reads slower than its other end sends.
	Backlog int64 `json:"backlog_bytes"`
}

// Status reports the backends (config order, then any still draining after
// removal) and every open connection (oldest first).
func (b *Balancer) Status() Status {
	snap := b.snap.Load()
	now := b.clock.Now()
	st := Status{
		Generation: snap.gen, Listener: b.Addr(), TLSListener: b.TLSAddr(),
		Profile: snap.cfg.Profile, Policy: snap.cfg.ServerGroup.Policy, IdleTimeout: snap.cfg.Listener.IdleTimeout,
		Backends: []BackendStatus{}, Connections: []ConnStatus{},
		Reloads:       map[string]uint64{"applied": b.counters.applied.Load(), "rejected": b.counters.rejected.Load()},
		BlockedWrites: BlockedWrites{Client: b.counters.blocked[0].Load(), Backend: b.counters.blocked[1].Load()},
	}
	if snap.cfg.Listener.IdleReset == config.IdleResetNone {
		st.IdleTimeout = 0 // no idle timer
	}
	sc := snap.cfg.ServerGroup.Stickiness
	st.Stickiness = StickinessStatus{
		Type: sc.Type, CookieName: sc.CookieName, Duration: sc.Duration,
		Hits: b.sticky.hits.Load(), Repicks: b.sticky.repicks.Load(), New: b.sticky.fresh.Load(),
	}
	st.Closed, st.CloseCodes = b.counters.snapshot()
	if st.CloseCodes == nil {
		st.CloseCodes = map[string]uint64{}
	}
	b.mu.Lock()
	seen := map[string]bool{}
	for _, t := range snap.targets {
		seen[t.name] = true
		st.Backends = append(st.Backends, backendStatus(t.b, t.url.String(), t.weight))
	}
	for name, be := range b.backends {
		if !seen[name] && be.active.Load() > 0 {
			st.Backends = append(st.Backends, backendStatus(be, "", 0))
		}
	}
	b.mu.Unlock()
	for _, tn := range b.tunnels.list(nil) {
		last := time.Unix(0, tn.last.Load())
		idle := tn.idle
		if !tn.resets.timed() {
			idle = 0 // no idle timer
		}
		st.Connections = append(st.Connections, ConnStatus{
			ID: tn.id, Client: tn.clientAddr, Backend: tn.t.name, Generation: tn.gen,
			Age: config.Duration(now.Sub(tn.opened)), Idle: config.Duration(now.Sub(last)), IdleTimeout: config.Duration(idle),
			LastActivity: last, Backlog: tn.backlog.Load(),
		})
	}
	return st
}

func backendStatus(be *backend, url string, weight int) BackendStatus {
	be.mu.Lock()
	last := be.lastCheck
	be.mu.Unlock()
	return BackendStatus{
		Name: be.name, URL: url, Weight: weight, State: be.state(), Health: be.health(), Draining: be.draining.Load(),
		Lagging: be.lagging.Load(),
		Active:  be.active.Load(), Total: be.total.Load(),
		BytesUp: be.bytesUp.Load(), BytesDown: be.bytesDown.Load(), Failures: be.failures.Load(),
		LastCheck: last, Closed: closedMap(&be.closed),
		Upgrades: be.upgrades.Load(), UpgradeWait: config.Duration(be.waitNs.Load()),
	}
}

// Snapshot describes the config in force in one line.
func (b *Balancer) Snapshot() string {
	s := b.snap.Load()
	return fmt.Sprintf("generation %d: %s", s.gen, s.summary())
}
