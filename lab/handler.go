package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

// HandlerEnv is what the lab hands NodeSpec.NewHandler each time it starts
// a handler node: at launch and at every start after a kill or stop, as a
// restarted process starts from nothing.
type HandlerEnv struct {
	Name     string // the node's name, e.g. node-1
	Addr     string // host:port the node listens on (the same at every start)
	RedisURL string // the lab's Redis
	// Clock is the lab's clock: a quartz mock in go test and scenarios,
	// the real clock otherwise; never nil. A handler that is to be
	// deterministic takes every timer, ticker, deadline and Now from it.
	Clock quartz.Clock
	// Stopping is closed when the lab stops this incarnation gracefully
	// (stop, restart, Close): the handler's cue to close its WebSockets
	// with 1001 Going Away. The same channel is in every request's
	// context (see Stopping).
	Stopping <-chan struct{}
	Logger   *slog.Logger // the lab's logger, with node=Name
}

// Stopping returns, from the context of a request a handler node serves
// (r.Context()), the channel that is closed when the lab stops the node
// gracefully; nil (which never fires) for any other context. It is
// HandlerEnv.Stopping for handlers given as a plain http.Handler.
func Stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey{}).(chan struct{})
	return ch
}

type stoppingKey struct{}

// handlerKill bounds, in wall time, how long a kill waits for the
// handler's ServeHTTP calls to return once their connections are gone.
// No scenario time passes through it.
const handlerKill = 5 * time.Second

// handlerNode serves a user's http.Handler in-process, on a port of its
// own, with the faults of the lab's own nodes done on its connections.
type handlerNode struct {
	name     string
	spec     NodeSpec
	clock    quartz.Clock // never nil
	redisURL string
	log      *slog.Logger
	publish  func(events.Event)

	gate  atomic.Pointer[chan struct{}] // set while hung; closed by start
	delay atomic.Int64                  // delay of every write to an upgraded connection, in ns

	// mu serializes the control path (faults and close) and guards the
	// fields below.
	mu     sync.Mutex
	addr   string      // resolved listen address, reused by start
	run    *handlerRun // the running incarnation; nil while down
	down   string      // how it went down, for State
	closed bool
}

// handlerRun is one incarnation: from a start to a kill or stop.
type handlerRun struct {
	srv      *http.Server
	ln       *handlerListener
	stopping chan struct{}
	cancel   context.CancelFunc // ends every request's context
	served   chan struct{}      // closed when Serve returned
	calls    counter            // ServeHTTP calls in flight
}

func newHandlerNode(name, host string, port int, spec NodeSpec, clock quartz.Clock, redisURL string, log *slog.Logger, publish func(events.Event)) *handlerNode {
	if clock == nil {
		clock = quartz.NewReal()
	}
	if log == nil {
		log = slog.Default()
	}
	return &handlerNode{
		name: name, spec: spec, clock: clock, redisURL: redisURL, log: log.With("node", name), publish: publish,
		addr: net.JoinHostPort(host, fmt.Sprint(port)),
	}
}

func (h *handlerNode) url() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return "http://" + h.addr
}

func (h *handlerNode) state() node.State {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := node.State{
		URL: "http://" + h.addr, Listening: h.run != nil, Hung: h.gate.Load() != nil,
		Slow: time.Duration(h.delay.Load()), Faults: Faults,
	}
	if h.run == nil {
		st.Note = h.down
	}
	return st
}

// listen starts an incarnation on h.addr. Callers hold h.mu.
func (h *handlerNode) listen() error {
	l, err := net.Listen("tcp", h.addr)
	if err != nil {
		return fmt.Errorf("node %q: listen on %s: %w", h.name, h.addr, err)
	}
	h.addr = l.Addr().String()
	run := &handlerRun{ln: newHandlerListener(l, h), stopping: make(chan struct{}), served: make(chan struct{})}
	inner := h.spec.Handler
	if h.spec.NewHandler != nil {
		inner = h.spec.NewHandler(HandlerEnv{Name: h.name, Addr: h.addr, RedisURL: h.redisURL, Clock: h.clock, Stopping: run.stopping, Logger: h.log})
	}
	if inner == nil {
		l.Close()
		return fmt.Errorf("node %q: NewHandler returned a nil http.Handler", h.name)
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), stoppingKey{}, run.stopping))
	run.cancel = cancel
	run.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			run.calls.add(1)
			defer run.calls.add(-1)
			w.Header().Set("X-Lab-Node", h.name) // as the lab's own nodes do: transcripts name the node
			inner.ServeHTTP(w, r)
		}),
		// Wall-clock guard against stuck header reads; nothing a scenario
		// controls passes through here.
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnState: func(c net.Conn, s http.ConnState) {
			if hc, ok := c.(*handlerConn); ok && s == http.StateHijacked {
				hc.upgraded.Store(true)
			}
		},
	}
	go func() {
		defer close(run.served)
		run.srv.Serve(run.ln)
	}()
	h.run, h.down = run, ""
	h.publish(events.Event{Kind: events.NodeStarted, Source: h.name, Detail: "listening on " + h.addr + " (handler, in-process)"})
	return nil
}

// running is the incarnation a fault acts on. Callers hold h.mu.
func (h *handlerNode) running(fault string) (*handlerRun, error) {
	if h.closed {
		return nil, fmt.Errorf("node %q: the lab is closed", h.name)
	}
	if h.run == nil {
		return nil, fmt.Errorf("%w (%s): nothing to %s; lab ctl node %s start brings it back", &notRunning{h.name}, h.down, fault, h.name)
	}
	return h.run, nil
}

// kill crashes the node: every connection is closed at once, with no
// close frame, and every request's context ends.
func (h *handlerNode) kill(context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	run, err := h.running("kill")
	if err != nil {
		return "", err
	}
	run.ln.Close()
	run.srv.Close()
	upgraded, other := run.ln.dropAll()
	did := fmt.Sprintf("%s dropped without a close frame; stopped listening on %s", conns(upgraded, other), h.addr)
	did += h.end(run, "killed")
	return did, nil
}

// stop shuts the node down gracefully. A foreign handler's WebSockets are
// hijacked connections the lab cannot write a close frame on (it would
// cut into the handler's own frames), so the handler says goodbye itself:
// the lab closes Stopping, stops accepting, lets plain requests finish,
// and waits up to the stop grace for the handler to close its upgraded
// connections; it drops what is left, as SIGKILL after SIGTERM does.
func (h *handlerNode) stop(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	run, err := h.running("stop")
	if err != nil {
		return "", err
	}
	return h.stopRun(ctx, run), nil
}

// stopRun is stop's work. Callers hold h.mu.
func (h *handlerNode) stopRun(ctx context.Context, run *handlerRun) string {
	ended := run.ln.upgradesEnded.Load()
	close(run.stopping)
	h.releaseGate() // a hung node's writes must be able to go out
	run.ln.Close()
	grace := h.spec.StopGrace
	if grace == 0 {
		grace = DefaultStopGrace
	}
	// Wall time: the handler closes its connections in real time, and
	// nothing a scenario controls waits on it.
	gctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if err := run.srv.Shutdown(gctx); err != nil {
		run.srv.Close()
	}
	run.ln.open.waitZero(gctx)
	closed := int(run.ln.upgradesEnded.Load() - ended) // by the handler (or its clients)
	dropped, _ := run.ln.dropAll()
	did := fmt.Sprintf("the handler was told to stop (Stopping) and closed %d of %s", closed, conns(closed+dropped, 0))
	if dropped > 0 {
		did += fmt.Sprintf("; the lab dropped the other %d without a close frame after the %s stop grace", dropped, grace)
	}
	did += "; stopped listening on " + h.addr
	return did + h.end(run, "stopped")
}

// end finishes an incarnation: request contexts end, Serve and the
// handler's calls return. It says what did not. Callers hold h.mu.
func (h *handlerNode) end(run *handlerRun, how string) string {
	run.cancel()
	h.releaseGate()
	<-run.served
	ctx, cancel := context.WithTimeout(context.Background(), handlerKill)
	defer cancel()
	note := ""
	if !run.calls.waitZero(ctx) {
		note = fmt.Sprintf(" (%d ServeHTTP calls still running %s later: a handler must return once its connection fails or r.Context() ends)", run.calls.get(), handlerKill)
		h.log.Warn("handler calls outlive their node", "node", h.name, "calls", run.calls.get())
	}
	h.run, h.down = nil, how
	h.publish(events.Event{Kind: events.NodeStopped, Source: h.name, Reason: how})
	return note
}

// conns says how many connections: "2 upgraded connections and 1 other".
func conns(upgraded, other int) string {
	s := fmt.Sprintf("%d upgraded connections", upgraded)
	if upgraded == 1 {
		s = "1 upgraded connection"
	}
	if other > 0 {
		s += fmt.Sprintf(" and %d other", other)
	}
	return s
}

// hang wedges the node: it accepts connections, and every read and write
// on them waits until start, so requests get no answer (health checks
// time out) and WebSocket messages go nowhere.
func (h *handlerNode) hang(context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.running("hang"); err != nil {
		return "", err
	}
	if h.gate.Load() == nil {
		g := make(chan struct{})
		h.gate.Store(&g)
	}
	return "accepts connections and answers nothing (health checks time out) until start", nil
}

// slow holds every write to an upgraded connection d on the lab's clock;
// plain HTTP answers (health checks) are not held.
func (h *handlerNode) slow(d time.Duration) (string, error) {
	if d < 0 {
		return "", fmt.Errorf("node %q: slow: delay %s is negative", h.name, d)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.running("slow"); err != nil {
		return "", err
	}
	h.delay.Store(int64(d))
	if d == 0 {
		return "slow cleared", nil
	}
	return fmt.Sprintf("slow %s: every write to an upgraded connection goes out %s late", d, d), nil
}

// start clears hang and slow and, after a kill or stop, listens again on
// the same address with a handler built anew.
func (h *handlerNode) start(context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return "", fmt.Errorf("node %q: the lab is closed", h.name)
	}
	cleared := h.releaseGate()
	cleared = h.delay.Swap(0) != 0 || cleared
	if h.run != nil {
		if cleared {
			return "faults cleared", nil
		}
		return "running already", nil
	}
	if err := h.listen(); err != nil {
		return "", err
	}
	return "listening on " + h.addr, nil
}

func (h *handlerNode) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	if h.run != nil {
		h.stopRun(context.Background(), h.run)
	}
	return nil
}

// releaseGate ends a hang; it reports whether one was in force.
func (h *handlerNode) releaseGate() bool {
	g := h.gate.Swap(nil)
	if g != nil {
		close(*g)
	}
	return g != nil
}

// counter counts things in flight and lets a caller wait until none is.
type counter struct {
	// mu guards n and zero.
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil while n is 0
}

func (c *counter) add(d int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 && d > 0 {
		c.zero = make(chan struct{})
	}
	c.n += d
	if c.n == 0 && c.zero != nil {
		close(c.zero)
		c.zero = nil
	}
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// waitZero waits until nothing is in flight; false if ctx ended first.
func (c *counter) waitZero(ctx context.Context) bool {
	for {
		c.mu.Lock()
		z := c.zero
		c.mu.Unlock()
		if z == nil {
			return true
		}
		select {
		case <-z:
		case <-ctx.Done():
			return c.get() == 0
		}
	}
}
