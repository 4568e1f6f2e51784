package faultlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
)

// DefaultDialTimeout bounds a dial to the upstream. It is wall-clock time:
// a dial is the operating system's business, not a scenario's.
const DefaultDialTimeout = 5 * time.Second

// Config describes a link. Name and Upstream are required.
type Config struct {
	Name     string // e.g. "client", "node-1"; names the link in events and the API
	Listen   string // listen address; default 127.0.0.1:0
	Upstream string // host:port every connection is relayed to
	// ClientSide marks the link between clients and the balancer: only it
	// takes the client-only faults (DropMappings, Faults.SourceIP).
	ClientSide bool
	// SourceIP (client-side links only) is the link's default address:
	// where connections reach the upstream from while Faults.SourceIP is
	// "" — after a Clear, or a Move to "". Default: the host's choice
	// (127.0.0.1 on loopback). A lab gives each client process's link one
	// of its own, so that clearing its faults keeps the address the
	// balancer knows the process by.
	SourceIP    string
	Faults      Faults        // faults from the start; default none
	DialTimeout time.Duration // default DefaultDialTimeout (wall clock)

	Clock  quartz.Clock // latency, bandwidth and slow-close timers; nil: real time
	Rand   *rand.Rand   // jitter draws; nil: a random seed
	Events *events.Bus  // fault changes are published here; nil: none
	Logger *slog.Logger // nil: slog.Default()
}

// Link is a running fault link: a TCP relay from its listen address to its
// upstream that applies its faults to every connection, open or new.
type Link struct {
	cfg    Config
	clk    quartz.Clock
	ln     net.Listener
	ctx    context.Context // ends at Close: stops dials in flight
	cancel context.CancelFunc
	state  atomic.Pointer[state]

	// ctlMu serializes fault changes, so events come in the order the
	// changes took effect.
	ctlMu sync.Mutex

	// mu guards the fields below.
	mu     sync.Mutex
	conns  map[*conn]struct{}
	rng    *rand.Rand
	closed bool

	wg sync.WaitGroup // the accept loop and every connection's goroutines

	accepted, halfOpen atomic.Int64
	bytes, dropped     [2]atomic.Int64 // by direction
}

// state is one immutable fault state; changed is closed when it is
// replaced, waking every wait that depends on it.
type state struct {
	faults  Faults
	changed chan struct{}
}

// Start listens and relays. On a bad Config it returns every problem at
// once.
func Start(cfg Config) (*Link, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Link{cfg: cfg, clk: cfg.Clock, conns: map[*conn]struct{}{}, rng: cfg.Rand}
	if l.clk == nil {
		l.clk = quartz.NewReal()
	}
	if l.rng == nil {
		l.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("link %s: listen on %s: %w", cfg.Name, cfg.Listen, err)
	}
	l.ln = ln
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.state.Store(&state{faults: cfg.Faults, changed: make(chan struct{})})
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

func (c Config) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("link: name is empty; name the hop, e.g. client or node-1"))
	}
	if _, _, err := net.SplitHostPort(c.Upstream); err != nil {
		errs = append(errs, fmt.Errorf("link %s: upstream %q is not host:port", c.Name, c.Upstream))
	}
	if err := c.Faults.Validate(c.ClientSide); err != nil {
		errs = append(errs, fmt.Errorf("link %s: %w", c.Name, err))
	}
	if err := (Faults{SourceIP: c.SourceIP}).Validate(c.ClientSide); err != nil {
		errs = append(errs, fmt.Errorf("link %s: default %w", c.Name, err))
	}
	return errors.Join(errs...)
}

// Name is the link's name; Addr its listen address (host:port); Upstream
// where it relays to.
func (l *Link) Name() string     { return l.cfg.Name }
func (l *Link) Addr() string     { return l.ln.Addr().String() }
func (l *Link) Upstream() string { return l.cfg.Upstream }

// ClientSide reports whether the link takes the client-only faults.
func (l *Link) ClientSide() bool { return l.cfg.ClientSide }

// Faults is the link's fault state now.
func (l *Link) Faults() Faults { return l.state.Load().faults }

// Set replaces the link's faults. Open connections take them at their
// next chunk (a chunk waiting for its latency is rescheduled); new ones
// from the start. A bad state is refused whole, naming every problem.
func (l *Link) Set(f Faults) error {
	if err := f.Validate(l.cfg.ClientSide); err != nil {
		return fmt.Errorf("link %s: %w", l.cfg.Name, err)
	}
	l.ctlMu.Lock()
	defer l.ctlMu.Unlock()
	old := l.state.Load()
	if old.faults == f {
		return nil
	}
	reason := "set"
	if f.IsZero() {
		reason = "cleared"
	}
	l.publish(reason, f.String()) // before any byte can show the change
	l.state.Store(&state{faults: f, changed: make(chan struct{})})
	close(old.changed)
	return nil
}

// Clear removes every fault: Set(Faults{}).
func (l *Link) Clear() error { return l.Set(Faults{}) }

// Reset sends a RST (SO_LINGER 0) to both ends of every open connection
// and reports how many it reset. New connections are not affected; set
// Faults.ResetNew for them.
func (l *Link) Reset() int {
	l.ctlMu.Lock()
	defer l.ctlMu.Unlock()
	open := l.open()
	l.publish("reset", fmt.Sprintf("%d open connections reset", len(open)))
	n := 0
	for _, c := range open {
		if c.shutdown(true) {
			n++
		}
	}
	return n
}

// DropMappings plays a NAT that forgets the mappings of every open
// connection (client-side links only): from now on their bytes are
// dropped both ways, and neither end gets a FIN or a RST — each finds out
// only by its own heartbeat or idle timeout. New connections get a new
// mapping and pass. It reports how many connections went half-open.
func (l *Link) DropMappings() (int, error) {
	if !l.cfg.ClientSide {
		return 0, fmt.Errorf("link %s: only the link in front of the balancer (client side) has a NAT to drop mappings", l.cfg.Name)
	}
	l.ctlMu.Lock()
	defer l.ctlMu.Unlock()
	open := l.open()
	l.publish("nat_drop", fmt.Sprintf("%d open connections lost their NAT mapping", len(open)))
	n := 0
	for _, c := range open {
		if c.drop() {
			n++
		}
	}
	return n, nil
}

// Move plays the client changing its address (client-side links only):
// new connections come from sourceIP (Faults.SourceIP; "" is the link's
// default, Config.SourceIP),
// and every open connection is left behind as a real address change
// leaves it. The server side goes silently half-open, as with
// DropMappings — the server learns only from its heartbeat or idle
// timeout — and the client gets a RST the next time it sends, as a server
// answers a packet from an address it does not know. A TCP connection
// cannot follow its client to a new address, so nothing is re-dialed. It
// reports how many connections were left behind.
func (l *Link) Move(sourceIP string) (int, error) {
	if !l.cfg.ClientSide {
		return 0, fmt.Errorf("link %s: only the link in front of the balancer (client side) can move the client", l.cfg.Name)
	}
	f := l.Faults()
	f.SourceIP = sourceIP
	if err := l.Set(f); err != nil {
		return 0, err
	}
	l.ctlMu.Lock()
	defer l.ctlMu.Unlock()
	to := l.source(f)
	var behind []*conn
	for _, c := range l.open() {
		if c.source != to { // not one that already came from the new address
			behind = append(behind, c)
		}
	}
	l.publish("move", fmt.Sprintf("client moved to %s; %d open connections left behind", or(to, "the default address"), len(behind)))
	n := 0
	for _, c := range behind {
		if c.move() {
			n++
		}
	}
	return n, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (l *Link) open() []*conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		out = append(out, c)
	}
	return out
}

func (l *Link) publish(reason, detail string) {
	l.cfg.Events.Publish(events.Event{
		Time: l.clk.Now(), Kind: events.LinkFault, Source: "link " + l.cfg.Name,
		Reason: reason, Detail: detail,
	})
}

// Stats are a link's counters.
type Stats struct {
	Name        string `json:"name"`
	Listen      string `json:"listen"`
	Upstream    string `json:"upstream"`
	ClientSide  bool   `json:"client_side"`
	Faults      Faults `json:"faults"`
	Open        int    `json:"open"`        // connections open now
	HalfOpen    int64  `json:"half_open"`   // of those ever opened, how many lost their NAT mapping
	Connections int64  `json:"connections"` // connections accepted, ever
	BytesUp     int64  `json:"bytes_up"`    // read from clients
	BytesDown   int64  `json:"bytes_down"`  // read from the upstream
	DroppedUp   int64  `json:"dropped_up"`  // read from clients, never passed on
	DroppedDown int64  `json:"dropped_down"`
}

// Stats returns the link's counters now.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	open := len(l.conns)
	l.mu.Unlock()
	return Stats{
		Name: l.cfg.Name, Listen: l.Addr(), Upstream: l.cfg.Upstream, ClientSide: l.cfg.ClientSide,
		Faults: l.Faults(), Open: open, HalfOpen: l.halfOpen.Load(), Connections: l.accepted.Load(),
		BytesUp: l.bytes[up].Load(), BytesDown: l.bytes[down].Load(),
		DroppedUp: l.dropped[up].Load(), DroppedDown: l.dropped[down].Load(),
	}
}

// Close stops listening, closes every connection (a plain close, not a
// fault) and waits for every goroutine the link started.
func (l *Link) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	err := l.ln.Close()
	l.cancel()
	for _, c := range l.open() {
		c.shutdown(false)
	}
	l.wg.Wait()
	return err
}

func (l *Link) accept() {
	defer l.wg.Done()
	pause := time.Duration(0)
	for {
		nc, err := l.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of descriptors, say: wait and try again, as net/http does
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			l.cfg.Logger.Error("link accept", "link", l.cfg.Name, "err", err, "retry_in", pause)
			select {
			case <-time.After(pause): // wall clock: the operating system's business
			case <-l.ctx.Done():
				return
			}
			continue
		}
		pause = 0
		l.accepted.Add(1)
		client := nc.(*net.TCPConn)
		st := l.state.Load()
		if st.faults.ResetNew {
			resetConn(client)
			continue
		}
		c := l.newConn(client, l.source(st.faults))
		if c == nil {
			return
		}
		go c.run()
	}
}

// source is the address new connections reach the upstream from under f:
// its SourceIP, or the link's default.
func (l *Link) source(f Faults) string {
	return or(f.SourceIP, l.cfg.SourceIP)
}

// newConn registers a connection; nil when the link is closing.
func (l *Link) newConn(client *net.TCPConn, sourceIP string) *conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		client.Close()
		return nil
	}
	c := &conn{link: l, client: client, source: sourceIP, done: make(chan struct{}), silent: make(chan struct{})}
	for d := range c.pipes {
		c.pipes[d].rng = rand.New(rand.NewPCG(l.rng.Uint64(), l.rng.Uint64()))
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	return c
}

func (l *Link) forget(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// resetConn closes c with a RST instead of a FIN.
func resetConn(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}
