// Package events is the lab's event bus: every component publishes typed
// events (connections opened and closed, faults, health changes, reloads) and
// the CLI, the admin API, scenarios and tests all read the same stream.
//
// # Concurrency
//
// Publish never blocks. The bus keeps the last History events for those who
// arrive late (Recent, SubscribeAfter). Each subscriber owns a bounded buffer; a subscriber
// whose buffer is full when an event arrives is dropped: its channel is closed,
// its Err reports the overflow, and the bus counts it. A dropped subscriber
// must resubscribe. All methods are safe for concurrent use.
package events

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind names what happened.
type Kind string

// Event kinds published by the lab's components.
const (
	ConnOpened     Kind = "conn.opened"     // a client connection was accepted
	ConnClosed     Kind = "conn.closed"     // a client connection ended; Reason says why
	RequestTimeout Kind = "request.timeout" // the idle timeout ended a proxied HTTP request (a long poll): answered 504, or cut mid-answer; Detail names the request
	NodeStarted    Kind = "node.started"    // a node is listening
	NodeStopped    Kind = "node.stopped"    // a node stopped listening; Reason says how
	NodeFault      Kind = "node.fault"      // a fault was injected or cleared; Detail names it
	StoreError     Kind = "store.error"     // a node could not reach Redis
	StoreRecovered Kind = "store.recovered" // a node reached Redis again
	StoreRestored  Kind = "store.restored"  // Redis came back without its data; a node wrote its sessions back
	BackendHealth  Kind = "backend.health"  // a backend changed health state; Reason is the new state
	BackendCheck   Kind = "backend.check"   // one health check ran; Reason is ok or failed
	BackendDrain   Kind = "backend.drain"   // a backend started or stopped draining
	BackendLag     Kind = "backend.lag"     // a backend out of the rotation still gets new connections (Reason started) until the deregistration lag is over (over)
	GroupHealth    Kind = "group.health"    // every backend unhealthy (Reason all_unhealthy), or one back (recovered)
	BackendFailure Kind = "backend.failure" // a dial to a backend failed (passive failure)
	StickyRepick   Kind = "sticky.repick"   // a sticky cookie was not followed; Reason invalid, expired, removed, unavailable or refused; Backend is the new pick
	ConfigApplied  Kind = "config.applied"  // a balancer config generation was applied
	ConfigRejected Kind = "config.rejected" // a config was rejected; Detail holds every problem
	LinkFault      Kind = "link.fault"      // a link's faults changed or it acted on its connections; Reason set, cleared, reset, nat_drop or move
)

// kinds is every Kind above, in order: what scenario files are checked
// against (a test keeps it equal to the constants).
var kinds = [...]Kind{
	ConnOpened, ConnClosed, RequestTimeout, NodeStarted, NodeStopped, NodeFault, StoreError, StoreRecovered,
	StoreRestored, BackendHealth, BackendCheck, BackendDrain, BackendLag, GroupHealth, BackendFailure, StickyRepick,
	ConfigApplied, ConfigRejected, LinkFault,
}

// Kinds lists every event kind the lab publishes.
func Kinds() []Kind { return append([]Kind(nil), kinds[:]...) }

// Event is one thing that happened in the lab. Only the fields that matter
// for its Kind are set.
type Event struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Kind       Kind      `json:"kind"`
	Source     string    `json:"source"`               // component: "balancer", "node-1", ...
	Conn       string    `json:"conn,omitempty"`       // connection or session id
	Client     string    `json:"client,omitempty"`     // client address
	Backend    string    `json:"backend,omitempty"`    // backend (node) name
	Generation uint64    `json:"generation,omitempty"` // balancer config generation
	Reason     string    `json:"reason,omitempty"`     // why a connection closed or a node stopped
	Detail     string    `json:"detail,omitempty"`     // free text for people
}

// Routine reports whether e is one of the many events a person does not
// need to see unless asked (lab up -v, lab ctl events -v): every health
// check, every node-side session that came and went normally.
func (e Event) Routine() bool {
	switch e.Kind {
	case BackendCheck:
		return true
	case ConnOpened:
		return e.Backend == ""
	case ConnClosed:
		return e.Backend == "" && e.Reason != "ping_timeout" && e.Reason != "protocol_error" && e.Reason != "slow_consumer"
	}
	return false
}

// String formats the event as one readable line without its time.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Source, e.Kind)
	for _, f := range [...]struct{ k, v string }{
		{"conn", e.Conn}, {"client", e.Client}, {"backend", e.Backend},
		{"reason", e.Reason},
	} {
		if f.v != "" {
			fmt.Fprintf(&b, " %s=%s", f.k, f.v)
		}
	}
	if e.Generation != 0 {
		fmt.Fprintf(&b, " generation=%d", e.Generation)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	return b.String()
}

// ErrOverflow is reported by a subscription that was dropped because it did
// not keep up.
var ErrOverflow = errors.New("events: subscriber too slow, dropped")

// Bus fans events out to subscribers. The zero value is not usable; call New.
type Bus struct {
	seq     atomic.Uint64
	dropped atomic.Uint64

	// mu guards subs and history.
	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	history ring
}

// New returns an empty bus.
func New() *Bus {
	return &Bus{subs: make(map[*Subscription]struct{})}
}

// Publish stamps e with the next sequence number and hands it to every
// subscriber without blocking. A nil bus discards the event.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e.Seq = b.seq.Add(1)
	b.history.add(e)
	for s := range b.subs {
		select {
		case s.c <- e:
		default:
			s.err.Store(&ErrOverflow)
			delete(b.subs, s)
			close(s.c)
			b.dropped.Add(1)
		}
	}
}

// Dropped reports how many subscribers were dropped for being too slow.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// Subscribe returns a subscription with a buffer of size events (at least 1).
func (b *Bus) Subscribe(size int) *Subscription {
	s := &Subscription{bus: b, c: make(chan Event, max(size, 1))}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Subscription receives events published after it was created.
type Subscription struct {
	bus *Bus
	c   chan Event
	err atomic.Pointer[error]
}

// C delivers events in publish order. It is closed by Close or when the
// subscriber is dropped.
func (s *Subscription) C() <-chan Event { return s.c }

// Err reports ErrOverflow if the subscription was dropped, nil otherwise.
func (s *Subscription) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Close ends the subscription and closes C. It is safe to call twice.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.c)
	}
}
