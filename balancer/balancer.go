// Package balancer is the lab's ALB-like listener: WebSocket upgrades joined
// into byte tunnels, ordinary HTTP proxied, a server group with
// round_robin/least_conn/source_hash, an idle timeout, active health checks,
// hot reload of immutable config snapshots, and draining.
//
// # Owners
//
// The Balancer composes one owner per moving part, each with its own state
// and lock: the registry of open tunnels (registry.go), the health prober
// (health.go), the drainer (drain.go), the HTTP proxy's shared state
// (httpproxy.go), and the front doors (front.go; on Linux the event loops,
// loop_*_linux.go). Configuration is package config: the balancer
// composes, validates and runs immutable snapshots of it (snapshot.go).
//
// # Concurrency
//
// The data path (picking a backend, copying bytes) reads the current
// snapshot (an atomic pointer) and per-backend atomics only. The control
// path (Reload, Patch, Close) is serialized by Balancer.mu. Every goroutine
// has an owner, and Close stops them all and waits:
//
//   - the HTTP servers' Serve loops (Balancer.serveWG);
//   - on Linux, one event loop per GOMAXPROCS for the plain listener
//     (serveWG): accepting, handshakes and tunnels run on it, with no
//     goroutine per connection. A loop starts a short-lived goroutine
//     (serveWG) only to look up a backend's host name, to relay a
//     backend's non-101 answer, or to hand a connection to net/http;
//   - where there is no event loop, an accept loop and a goroutine per new
//     connection (serveWG);
//   - for a tunnel not on an event loop (the TLS listener's, one net/http
//     served first, every one where there is no loop), two pump goroutines
//     (Balancer.wg, added under the registry's lock);
//   - health probes and their tickers (the prober's wg and tickers).
//
// Locks are taken in this order, never the other way round (a lock only
// ever waits for one to its right):
//
//	Balancer.mu → drainer.mu → netPair.wmu/bmu → tunnel.mu → registry.mu
//	Balancer.mu → backend.mu → prober.mu
//
// Reload takes Balancer.mu, then starts or cancels drains and restarts the
// prober; Status takes Balancer.mu, then each backend's. A delay that runs
// out holds drainer.mu while it closes that backend's tunnels (a close
// frame under the pair's write lock, then the tunnel's close); a tunnel's
// close takes its own mu, lets go, then takes the registry's. A probe's
// result holds its backend's mu, then marks the probe settled under
// prober.mu. The rest are leaves, held for a few lines and nothing taken
// inside: httpProxy.mu, counters.codesMu, a policy's mu, a loop's mu,
// slowHeader's mu, the HTTP proxy's per-request mu. Publishing an event
// takes none of them and never blocks (the bus drops for slow
// subscribers).
//
// docs/ARCHITECTURE.md follows one connection from accept to close on both
// front doors, file by file.
package balancer

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// Options are the balancer's collaborators. Zero fields get real ones.
type Options struct {
	Clock  quartz.Clock // nil: real time
	Events *events.Bus  // nil: events are discarded
	Logger *slog.Logger // nil: slog.Default()
	Rand   *rand.Rand   // drain jitter; nil: seeded from crypto/rand
	Name   string       // event source; default "balancer"
	// FrontDoor says how the plain listener is served: the event loop
	// where there is one (the zero value), or goroutines, as the TLS
	// listener is (to compare the two, or to test both).
	FrontDoor FrontDoor

	// Overrides win over every document, at start and at each reload: the
	// settings a user gave as flags. Defaults fill in what a document
	// leaves out, before the balancer's own defaults: lab up's nodes and
	// their health path. Zero fields of either take no part (see config.Compose).
	Overrides, Defaults config.Config
}

// Balancer is a running load balancer.
type Balancer struct {
	clock  quartz.Clock
	events *events.Bus
	log    *slog.Logger
	name   string

	snap atomic.Pointer[snapshot]

	// mu serializes the control path and guards the fields below.
	mu        sync.Mutex
	backends  map[string]*backend
	closed    bool
	doc       config.Config // the running document, before overrides and defaults
	overrides config.Config
	defaults  config.Config
	frontDoor FrontDoor

	servers      []*http.Server
	addrs        []string        // listen addresses: [0] http, [1] https if any
	asConfigured config.Listener // before ports were resolved, for reloads

	tunnels *registry // open tunnels

	counters counters
	sticky   stickyCounters
	// stickyKey signs the sticky cookies: drawn at start, so a cookie
	// outlives a reload but not the balancer.
	stickyKey []byte

	health *prober  // active health checks
	drains *drainer // backends taken out of service
	proxy  *httpProxy

	wg       sync.WaitGroup  // tunnel pumps and health probes
	serveWG  sync.WaitGroup  // accept loops, front doors, http.Server.Serve loops
	handoffs []*handoff      // the front doors' listeners
	ctx      context.Context // cancelled by Close: ends dials and handshakes
	cancel   context.CancelFunc
}

// Start composes doc with opts.Overrides and opts.Defaults, validates the
// result, listens, and starts health checks. The config becomes generation
// 1.
func Start(_ context.Context, doc config.Config, opts Options) (*Balancer, error) {
	b := newBalancer(opts)
	cfg := b.compose(doc, nil)
	if err := cfg.Validate(); err != nil {
		b.Close()
		return nil, fmt.Errorf("invalid balancer config: %w", err)
	}
	b.doc = doc
	cfg = cfg.WithDefaults()
	b.asConfigured = cfg.Listener
	lns, err := b.listen(&cfg)
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		b.Close()
		return nil, err
	}
	snap := b.buildSnapshot(cfg, 1)
	b.snap.Store(snap)
	b.serveFront(b.servers[0], lns[0])
	for i, ln := range lns[1:] {
		b.serve(b.servers[i+1], ln)
	}
	b.mu.Lock()
	b.health.restart(snap)
	b.mu.Unlock()
	b.publish(events.Event{Kind: events.ConfigApplied, Generation: 1, Detail: snap.summary()})
	return b, nil
}

func newBalancer(opts Options) *Balancer {
	b := &Balancer{
		clock: opts.Clock, events: opts.Events, log: opts.Logger, name: opts.Name,
		overrides: opts.Overrides, defaults: opts.Defaults, frontDoor: opts.FrontDoor,
		backends: map[string]*backend{}, tunnels: newRegistry(),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.stickyKey = make([]byte, 32)
	crand.Read(b.stickyKey)
	if b.clock == nil {
		b.clock = quartz.NewReal()
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.name == "" {
		b.name = "balancer"
	}
	rng := opts.Rand
	if rng == nil {
		var seed [16]byte
		crand.Read(seed[:])
		rng = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	b.drains = &drainer{clock: b.clock, publish: b.publish, tunnels: b.tunnels, rng: rng, delays: map[*backend]*quartz.Timer{}}
	b.health = newProber(b.clock, b.publish, b.snap.Load, b.drains.lag)
	b.proxy = newHTTPProxy(b.clock, b.snap.Load)
	return b
}

// compose is config.Compose with the balancer's overrides and defaults.
func (b *Balancer) compose(doc config.Config, running []config.Server) config.Config {
	return config.Compose(b.overrides, doc, b.defaults, running)
}

// buildSnapshot makes generation gen of cfg, linking each server to its live
// state (created on first sight). Callers hold b.mu or own b.
func (b *Balancer) buildSnapshot(cfg config.Config, gen uint64) *snapshot {
	s := &snapshot{gen: gen, cfg: cfg, policy: newPolicy(cfg.ServerGroup.Policy), httpPolicy: newPolicy(cfg.ServerGroup.Policy)}
	for _, sc := range cfg.ServerGroup.Servers {
		u, _ := config.ParseServerURL(sc.URL) // validated
		be := b.backends[sc.Name]
		if be == nil {
			be = newBackend(sc.Name)
			b.backends[sc.Name] = be
		}
		t := &target{name: sc.Name, url: u, addr: u.Host, weight: *sc.Weight, drain: sc.State == "drain", lambda: sc.Type == "lambda", b: be}
		if ap, err := netip.ParseAddrPort(u.Host); err == nil {
			t.ap, t.literal = ap, true
		}
		s.targets = append(s.targets, t)
	}
	s.sticky = newSticky(cfg.ServerGroup.Stickiness, b.stickyKey, s.targets)
	return s
}

func (s *snapshot) summary() string {
	names := make([]string, len(s.targets))
	for i, t := range s.targets {
		names[i] = t.name
	}
	profile := ""
	if s.cfg.Profile != "" {
		profile = "profile " + s.cfg.Profile + ", "
	}
	idle := "idle timeout " + s.idleTimeout().String()
	if s.cfg.Listener.IdleReset == config.IdleResetNone {
		idle = "no idle timeout"
	}
	if life := time.Duration(*s.cfg.Listener.MaxLifetime); life > 0 {
		idle += ", max lifetime " + life.String()
	}
	return fmt.Sprintf("%slistener %s, policy %s, %s, servers [%s]",
		profile, s.cfg.Listener.Addr, s.cfg.ServerGroup.Policy, idle, strings.Join(names, " "))
}

// listen binds the HTTP listener and, if configured, the HTTPS one, and
// writes the bound addresses (a port 0 resolved) into cfg. Serving starts
// later, once a snapshot exists.
func (b *Balancer) listen(cfg *config.Config) ([]net.Listener, error) {
	var lns []net.Listener
	// No TCP keep-alive probes: the idle timeout decides when a quiet
	// connection goes, and each accept saves three setsockopt calls.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Listener.Addr)
	if err != nil {
		return nil, fmt.Errorf("listener.addr: listen on %s: %w", cfg.Listener.Addr, err)
	}
	cfg.Listener.Addr = ln.Addr().String()
	lns = append(lns, ln) // served by the front door, which handles slow heads itself
	b.servers = append(b.servers, b.newServer(*cfg))
	if t := cfg.Listener.TLS; t != nil {
		tlsCfg, err := loadTLS(t)
		if err != nil {
			return lns, fmt.Errorf("listener.tls: %w", err)
		}
		tln, err := lc.Listen(context.Background(), "tcp", t.Addr)
		if err != nil {
			return lns, fmt.Errorf("listener.tls.addr: listen on %s: %w", t.Addr, err)
		}
		lns = append(lns, tlsListener(headerListener{Listener: tln, timeout: time.Duration(cfg.Listener.HeaderTimeout)}, tlsCfg))
		resolved := *t
		resolved.Addr = tln.Addr().String()
		cfg.Listener.TLS = &resolved
		srv := b.newServer(*cfg)
		srv.TLSConfig = tlsCfg
		b.servers = append(b.servers, srv)
	}
	return lns, nil
}

func (b *Balancer) newServer(cfg config.Config) *http.Server {
	return &http.Server{
		Handler: b,
		// Wall-clock guard against clients that send headers slowly; the
		// idle timeout, which scenarios control, runs on b.clock.
		ReadHeaderTimeout: time.Duration(cfg.Listener.HeaderTimeout),
		MaxHeaderBytes:    cfg.Listener.MaxHeaderBytes,
		ConnState:         b.proxy.connState,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
		TLSNextProto:      map[string]func(*http.Server, *tlsConn, http.Handler){}, // HTTP/1.1 only: WebSockets need it
	}
}

func (b *Balancer) serve(srv *http.Server, ln net.Listener) {
	b.addrs = append(b.addrs, ln.Addr().String())
	b.serveWG.Add(1)
	go func() {
		defer b.serveWG.Done()
		srv.Serve(ln)
	}()
}

// Addr is the host:port of the HTTP listener.
func (b *Balancer) Addr() string { return b.addrs[0] }

// URL is http://host:port of the HTTP listener.
func (b *Balancer) URL() string { return "http://" + b.Addr() }

// TLSAddr is the host:port of the HTTPS listener, "" if none.
func (b *Balancer) TLSAddr() string {
	if len(b.addrs) > 1 {
		return b.addrs[1]
	}
	return ""
}

// Generation is the current config generation.
func (b *Balancer) Generation() uint64 { return b.snap.Load().gen }

// Config returns the current config, defaults filled in.
func (b *Balancer) Config() config.Config { return b.snap.Load().cfg }

// ServeHTTP routes a request: WebSocket upgrades become tunnels, anything
// else is proxied as ordinary HTTP.
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := b.snap.Load()
	if isUpgradeAttempt(r) {
		b.serveUpgrade(w, r, snap)
		return
	}
	b.serveHTTP(w, r, snap)
}

// ErrClosed is returned by Reload on a closed balancer.
var ErrClosed = errors.New("balancer: closed")

// Shutdown ends the balancer the way a person wants it to: it stops
// listening, says goodbye to every open tunnel — a 1001 Going Away close
// frame to both ends, each between two frames, as a drain sends it — and
// waits until ctx ends for the tunnels to close (a side's close frame or
// hang-up ends its tunnel), then closes the rest and everything else as
// Close does. Every tunnel ends with reason shutdown. progress, if not nil,
// is called with the number of tunnels still open: once when the goodbyes
// are sent, then as they close, at most every 200 ms.
func (b *Balancer) Shutdown(ctx context.Context, progress func(open int)) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	for _, srv := range b.servers {
		srv.Close()
	}
	for _, h := range b.handoffs {
		h.Close()
	}
	b.mu.Unlock()
	open := b.tunnels.list(nil)
	for _, tn := range open {
		tn.claim(ReasonShutdown, "the balancer said goodbye (1001) to both ends")
		tn.conns.sayGoodbye(tn)
	}
	if progress != nil {
		progress(len(open))
	}
	tick := time.NewTicker(200 * time.Millisecond) // people's time: the shutdown timeout is wall time
	defer tick.Stop()
	last := len(open)
	for last > 0 {
		select {
		case <-ctx.Done():
			return b.Close()
		case <-tick.C:
		}
		if n := len(b.tunnels.list(nil)); n != last {
			last = n
			if progress != nil {
				progress(n)
			}
		}
	}
	return b.Close()
}

// Close stops listening, closes every tunnel with reason "shutdown", stops
// health checks and drains, and waits for every goroutine.
func (b *Balancer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.cancel()
	for _, srv := range b.servers {
		srv.Close()
	}
	for _, h := range b.handoffs {
		h.Close()
	}
	b.mu.Unlock()
	b.drains.close()
	b.health.close()

	for _, t := range b.tunnels.close() {
		t.close(ReasonShutdown)
	}
	for _, h := range b.handoffs {
		for _, l := range h.loops {
			l.stop() // after the tunnels' closes, which it runs first
		}
	}
	b.serveWG.Wait()
	b.wg.Wait()
	b.proxy.close()
	return nil
}

func (b *Balancer) publish(e events.Event) {
	e.Source = b.name
	e.Time = b.clock.Now()
	b.events.Publish(e)
}

// headerHasToken reports whether a comma-separated header has token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}
