package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/store"
)

// Node is a running chat (or echo) node.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *store.Client       // nil in echo mode
	sub   *store.Subscription // nil in echo mode and with recovery on
	// With recovery on, the stream reader replaces sub; pos (posID
	// parsed) is the last entry it handed to the room, guarded by
	// membersMu. touchStop ends the loop that refreshes resume records.
	stream    *store.StreamReader
	pos       string
	posID     store.StreamID
	touchStop context.CancelFunc
	touchDone chan struct{}

	// randMu guards cfg.Rand, which is not safe for concurrent use.
	randMu sync.Mutex

	// mu serializes the control path (start, kill, stop, close) and guards
	// the fields below.
	mu        sync.Mutex
	addr      string // resolved listen address, reused by Start after a stop
	srv       *http.Server
	ln        *trackingListener
	serveDone chan struct{}
	runCancel context.CancelFunc // cancels the sessions of this incarnation
	closed    bool
	grace     *quartz.Timer // a stop's grace period running (Config.StopGrace); nil if none

	// membersMu guards members (the sessions in the chat room), conns
	// (every session, chat or echo) and sio (Socket.IO sessions by their
	// Engine.IO id, for polling requests and upgrades).
	membersMu sync.Mutex
	members   map[string]*session
	conns     map[*session]struct{}
	sio       map[string]*sioConn

	// sessions counts live sessions; each owns a reader and a writer.
	sessions sync.WaitGroup

	ending    atomic.Int32 // endRunning, endKilled or endStopping
	stopping  atomic.Bool  // within a stop's grace: /healthz answers 503
	slow      atomic.Int64 // delay added to every outgoing message, in ns
	gate      atomic.Pointer[chan struct{}]
	storeDown atomic.Bool  // Redis is unreachable, as last reported
	awaiting  atomic.Int64 // sessions with a ping out and no pong yet

	// healthMu orders Redis health transitions and their events, and
	// guards the fields below.
	healthMu sync.Mutex
	busDown  bool // the bus subscription lost Redis
	cmdDown  bool // the last command failed

	// The keeper (chat mode) restores sessions when Redis lost its data.
	// epoch is the store epoch this node's sessions were written under;
	// only Start and the keeper goroutine touch it.
	epoch      string
	kick       chan struct{}
	keeperStop context.CancelFunc
	keeperDone chan struct{}
}

// AwaitingPongs is the number of Socket.IO clients that were pinged and
// have not answered yet. A mock-clock driver waits for it to reach zero
// before moving time on, so heartbeats never race virtual time.
func (n *Node) AwaitingPongs() int64 { return n.awaiting.Load() }

const (
	endRunning int32 = iota
	endKilled
	endStopping
)

// Start validates cfg, connects to the store (chat mode), and starts
// listening. Close releases everything.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("node %q: %w", cfg.Name, err)
	}
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.Name), addr: cfg.Addr, members: make(map[string]*session), conns: make(map[*session]struct{}), sio: make(map[string]*sioConn)}
	if cfg.Mode == ModeChat {
		c, err := store.Dial(ctx, store.Options{URL: cfg.RedisURL, Channel: cfg.Channel})
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", cfg.Name, err)
		}
		n.store = c
		if n.epoch, err = c.Epoch(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("node %q: %w", cfg.Name, err)
		}
		if err := n.startBus(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("node %q: %w", cfg.Name, err)
		}
		keepCtx, cancel := context.WithCancel(context.Background())
		n.kick, n.keeperStop, n.keeperDone = make(chan struct{}, 1), cancel, make(chan struct{})
		go n.keep(keepCtx)
	}
	if err := n.listen(); err != nil {
		n.closeStore()
		return nil, err
	}
	return n, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Mode is what the node serves.
func (n *Node) Mode() Mode { return n.cfg.Mode }

// Addr is the host:port the node listens on (kept across restarts).
func (n *Node) Addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// URL is the node's base URL, http://host:port.
func (n *Node) URL() string { return "http://" + n.Addr() }

// Listening reports whether the node accepts connections (not killed or
// stopped).
func (n *Node) Listening() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv != nil
}

// Sessions is the number of clients in this node's chat room.
func (n *Node) Sessions() int {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	return len(n.members)
}

// listen starts an HTTP server on n.addr. Callers hold n.mu or own n.
func (n *Node) listen() error {
	l, err := net.Listen("tcp", n.addr)
	if err != nil {
		return fmt.Errorf("node %q: listen on %s: %w", n.cfg.Name, n.addr, err)
	}
	n.addr = l.Addr().String()
	n.ln = newTrackingListener(l)
	runCtx, cancel := context.WithCancel(context.Background())
	n.runCancel = cancel
	n.srv = &http.Server{
		Handler: n.handler(),
		// Wall-clock guards against stuck header reads; nothing a scenario
		// controls passes through here.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithValue(runCtx, runCtxKey{}, runCtx) },
	}
	n.ending.Store(endRunning)
	n.serveDone = make(chan struct{})
	go func(srv *http.Server, ln net.Listener, done chan struct{}) {
		defer close(done)
		srv.Serve(ln)
	}(n.srv, n.ln, n.serveDone)
	n.publish(events.Event{Kind: events.NodeStarted, Detail: "listening on " + n.addr})
	return nil
}

// halt stops listening and ends every session: how depends on mode. Callers
// hold n.mu.
func (n *Node) halt(ctx context.Context, mode int32) {
	if n.srv == nil {
		return
	}
	n.membersMu.Lock()
	n.ending.Store(mode) // under membersMu: no session is added after this
	n.membersMu.Unlock()
	n.releaseGate() // sessions parked by a hang must be able to end
	switch mode {
	case endKilled:
		n.srv.Close()
		n.ln.dropAll()
	case endStopping:
		n.ln.Close()
		for _, s := range n.snapshotSessions() {
			s.goAway(ctx)
		}
		n.sessions.Wait()
		if err := n.srv.Shutdown(ctx); err != nil {
			n.srv.Close()
		}
	}
	n.runCancel()
	n.sessions.Wait()
	<-n.serveDone
	n.srv, n.ln = nil, nil
}

// runCtxKey holds, in every request's context, the context of the node's
// current incarnation: a polling session outlives the request that opened
// it, not the incarnation.
type runCtxKey struct{}

func runContext(r *http.Request) context.Context {
	if ctx, ok := r.Context().Value(runCtxKey{}).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

func (n *Node) snapshotSessions() []*session {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	out := make([]*session, 0, len(n.conns))
	for s := range n.conns {
		out = append(out, s)
	}
	return out
}

// Close stops the node gracefully (close frames 1001, leave messages), then
// releases the store. It waits for every goroutine the node started.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wasUp := n.srv != nil
	n.endGrace()
	n.halt(ctx, endStopping)
	if wasUp {
		n.publish(events.Event{Kind: events.NodeStopped, Reason: "closed"})
	}
	n.closeStore()
	return nil
}

func (n *Node) closeStore() {
	if n.keeperStop != nil {
		n.keeperStop()
		<-n.keeperDone
	}
	n.stopBus()
	if n.sub != nil {
		n.sub.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
}

// ErrClosed is returned by faults on a closed node.
var ErrClosed = errors.New("node: closed")

func (n *Node) publish(e events.Event) {
	e.Source = n.cfg.Name
	e.Time = n.cfg.Clock.Now()
	n.cfg.Events.Publish(e)
}

// State is what a node is doing now, for status pages.
type State struct {
	Name      string        `json:"name"`
	URL       string        `json:"url"`
	Mode      Mode          `json:"mode,omitempty"`     // chat or echo: nodes that run in-process
	Listening bool          `json:"listening"`          // false after kill or stop
	Stopping  bool          `json:"stopping,omitempty"` // within a stop's grace: health 503, still serving
	Hung      bool          `json:"hung"`
	Slow      time.Duration `json:"slow_ns"`
	Sessions  int           `json:"sessions"` // clients in the chat room
	Redis     string        `json:"redis,omitempty"`

	// A lab also runs nodes that are not this package's (package lab):
	// they report what they are in the same shape.
	Kind      string   `json:"kind"`                // chat, echo, command or url
	PID       int      `json:"pid,omitempty"`       // command: the process, leader of its group
	Processes int      `json:"processes,omitempty"` // command: live processes in its group
	Command   string   `json:"command,omitempty"`   // command: what the lab runs
	Faults    []string `json:"faults"`              // the faults this node can take
	Note      string   `json:"note,omitempty"`      // why it is down, or what it cannot do
}

// Faults are the faults a node of this package takes.
var Faults = []string{"kill", "stop", "hang", "slow", "start", "restart"}

// State reports the node's state.
func (n *Node) State() State {
	st := State{
		Name: n.cfg.Name, URL: n.URL(), Mode: n.cfg.Mode, Listening: n.Listening(), Stopping: n.stopping.Load(),
		Hung: n.gate.Load() != nil, Slow: time.Duration(n.slow.Load()), Sessions: n.Sessions(),
		Kind: string(n.cfg.Mode), Faults: Faults,
	}
	if n.cfg.Mode == ModeChat {
		st.Redis = "ok"
		if n.storeDown.Load() {
			st.Redis = "unreachable"
		}
	}
	return st
}
