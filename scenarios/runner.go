package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"time"

	"math/rand/v2"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node/client"
)

// settle bounds how long, in wall time, the runner waits for something that
// virtual time says has happened (a message crossing real sockets, a
// close). It is a failure detector, never a way to let time pass: when it
// runs out, the expectation has failed.
const settle = 5 * time.Second

// Result is the outcome of one scenario.
type Result struct {
	Name       string        `json:"name"`
	File       string        `json:"file,omitempty"`
	Profile    string        `json:"profile,omitempty"` // the load-balancer profile it ran against
	Passed     bool          `json:"passed"`
	Seed       uint64        `json:"seed"`
	Virtual    time.Duration `json:"virtual_ns"`
	Wall       time.Duration `json:"wall_ns"`
	Steps      int           `json:"steps"`
	Transcript []string      `json:"transcript"`
	Failure    *Failure      `json:"failure,omitempty"`
	// Clock says which clock the run's times are on, and why: the mock
	// clock when every node runs in-process, the real clock as soon as one
	// is a command or url node.
	Clock lab.Clocking `json:"clock"`
	// Clients is what each scenario client went through; its lines also
	// end the transcript.
	Clients []ClientSummary `json:"clients,omitempty"`
}

// Failure says which step failed, when, and what happened instead.
type Failure struct {
	Step     int           `json:"step"` // 1-based
	Line     int           `json:"line"`
	Kind     string        `json:"kind"`
	Virtual  time.Duration `json:"virtual_ns"`
	Message  string        `json:"message"`
	Observed string        `json:"observed,omitempty"`
}

func (f *Failure) String() string {
	s := fmt.Sprintf("step %d (%s, line %d) at %s: %s", f.Step, f.Kind, f.Line, stamp(f.Virtual), f.Message)
	if f.Observed != "" {
		s += "; observed: " + f.Observed
	}
	return s
}

// Options tune a run.
type Options struct {
	Seed uint64 // overrides the scenario's seed when not 0
	// Profile runs the scenario against this load-balancer profile instead
	// of the one it names (if any); values the scenario sets still win.
	Profile string
	Verbose func(string) // called with each transcript line as it happens
}

// run is the state of one scenario run.
type run struct {
	sc      *Scenario
	clk     *quartz.Mock // time, unless real
	real    bool         // the lab runs on the real clock: time is wall time since wall
	wall    time.Time
	tb      *clockTB
	lab     *lab.Lab
	start   time.Time
	players map[string]*player
	order   []string
	hung    map[string]bool
	reload  error  // the last reload's rejection
	profile string // Options.Profile
	out     []string
	verbose func(string)

	// sub is read only on the runner's goroutine, by drain: an event
	// published before a check (during an Advance, say) is in its buffer, so
	// the check sees it. A collector goroutine would let a client see its
	// socket close before the event that closed it was logged.
	sub    *events.Subscription
	log    []events.Event
	checks int // backend.check events in log

	seq  int    // orders connections' opens and closes and chat messages sent
	sent []sent // chat messages sent with a username
	seed uint64
}

// player is one scenario client, across its connections.
type player struct {
	name      string
	via       string // balancer or a node name
	transport string
	heartbeat time.Duration
	reconnect bool // reconnects by itself, as socket.io-client does

	c        *client.Client // its current (or last) connection
	open     bool           // c is open, as far as the runner has noticed
	node     string         // where it landed
	conn     string         // its balancer tunnel id, or its session id on a node
	gen      uint64
	username string
	stopBeat context.CancelFunc
	beat     quartz.Waiter
	seenFrom int      // log index from which its events are looked for
	taken    int      // events taken from its clients' queues
	inbox    []string // messages taken, not yet expected

	// What the client went through, for the summary.
	received     map[string]int // chat messages by text, over all its connections
	joined       [][2]int       // the run's seq numbers of its connections' opens and closes
	closes       []closeRecord
	down         time.Duration // virtual time of an unasked close not yet followed by a connection; -1: none
	disconnected time.Duration
	retryAt      time.Duration // virtual time of the next reconnect attempt; -1: none
	attempt      int           // the backoff's attempt number, 0 after a connection
	attempts     int           // reconnect attempts made
	reconnects   int           // attempts that connected
	backSeen     int           // reconnects an expect_reconnected has already seen
	rng          *rand.Rand
}

// Run runs sc against a fresh lab on a mock clock and reports the outcome.
func Run(ctx context.Context, sc *Scenario, opts Options) Result {
	wallStart := time.Now()
	r := &run{sc: sc, tb: &clockTB{}, players: map[string]*player{}, hung: map[string]bool{}, verbose: opts.Verbose}
	res := Result{Name: sc.Name, File: sc.File, Seed: sc.Seed, Steps: len(sc.Steps)}
	if opts.Seed != 0 {
		res.Seed = opts.Seed
	}
	if res.Seed == 0 {
		res.Seed = 1
	}
	r.profile = opts.Profile
	res.Profile = r.profileName()
	r.clk = newMock(r.tb)
	r.start = r.clk.Now()
	if err := r.startLab(ctx, res.Seed); err != nil {
		res.Failure = &Failure{Kind: "lab", Message: err.Error()}
		res.Wall = time.Since(wallStart)
		return res
	}
	res.Clock = r.lab.Clocking()
	if res.Clock.Real {
		r.say("%s", res.Clock)
	}
	for i, st := range sc.Steps {
		if err := r.runStep(ctx, st); err != nil {
			f := &Failure{Step: i + 1, Line: st.Line, Kind: st.Kind, Virtual: r.now(), Message: err.Error()}
			var ee *expectError
			if errors.As(err, &ee) {
				f.Message, f.Observed = ee.want, ee.observed
			}
			res.Failure = f
			r.say("FAIL %s", f)
			break
		}
	}
	res.Passed = res.Failure == nil
	res.Virtual = r.now()
	res.Clients = r.summarize(ctx)
	for _, c := range res.Clients {
		r.say("client %s", c)
	}
	r.close()
	res.Transcript = r.out
	res.Wall = time.Since(wallStart)
	return res
}

// profileName is the profile the run uses: Options.Profile, else the
// scenario's.
func (r *run) profileName() string {
	switch {
	case r.profile != "":
		return r.profile
	case r.sc.Lab.Balancer.Profile != "":
		return r.sc.Lab.Balancer.Profile
	}
	return r.sc.Lab.Profile
}

// expectError is an expectation that did not hold.
type expectError struct{ want, observed string }

func (e *expectError) Error() string { return e.want + "; observed: " + e.observed }

func (r *run) startLab(ctx context.Context, seed uint64) error {
	r.seed = seed
	bus := events.New()
	r.sub = bus.Subscribe(1 << 16)
	bc := r.sc.Lab.Balancer
	var flags config.Config
	flags.Profile = r.profile // as lab up --profile: over the document
	if bc.Profile == "" {
		bc.Profile = r.sc.Lab.Profile
	}
	if bc.Listener.Addr == "" {
		bc.Listener.Addr = "127.0.0.1:0"
	}
	l, err := lab.Start(ctx, lab.Config{
		Balancer: bc, BalancerOverrides: flags, Nodes: r.sc.Lab.Nodes, NodePort: 0,
		Node: r.sc.Lab.Node, NodeList: r.sc.Lab.NodeList,
		PingInterval: time.Duration(r.sc.Lab.PingInterval), PingTimeout: time.Duration(r.sc.Lab.PingTimeout),
		Seed: seed, Clock: r.clk, Events: bus, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		r.sub.Close()
		return err
	}
	r.lab = l
	if l.Clocking().Real {
		r.real, r.wall = true, time.Now()
	}
	return nil
}

// drain moves the events published so far into the log.
func (r *run) drain() {
	for {
		select {
		case e, ok := <-r.sub.C():
			if !ok {
				return
			}
			r.logEvent(e)
		default:
			return
		}
	}
}

func (r *run) logEvent(e events.Event) {
	r.log = append(r.log, e)
	if e.Kind == events.BackendCheck {
		r.checks++
	}
}

func (r *run) close() {
	for _, name := range r.order {
		p := r.players[name]
		p.stopHeartbeat()
		if p.c != nil {
			p.c.CloseNow()
		}
	}
	r.lab.Close()
	r.sub.Close()
	r.tb.runCleanups()
}

// newMock is the scenario clock, quiet: its log is the transcript.
func newMock(tb quartz.TestingT) *quartz.Mock { return quartz.NewMock(tb) }

// now is the virtual time since the start; on the real clock, the wall
// time since the lab was up, to the tenth of a second (a transcript of
// real time in milliseconds would differ in every digit, every run).
func (r *run) now() time.Duration {
	if r.real {
		return time.Since(r.wall).Round(realGrain)
	}
	return r.clk.Since(r.start)
}

// realGrain is what real-clock times are rounded to.
const realGrain = 100 * time.Millisecond

// grain is what the run's times are rounded to when said: nothing on the
// mock clock.
func (r *run) grain() time.Duration {
	if r.real {
		return realGrain
	}
	return 1
}

func stamp(d time.Duration) string { return fmt.Sprintf("+%.3fs", d.Seconds()) }

// say adds a transcript line at the current virtual time.
func (r *run) say(format string, args ...any) {
	at := stamp(r.now())
	if r.real {
		at = fmt.Sprintf("+%.1fs", r.now().Seconds())
	}
	line := at + " " + fmt.Sprintf(format, args...)
	r.out = append(r.out, line)
	if r.verbose != nil {
		r.verbose(line)
	}
}

// advance moves virtual time by d, one timer at a time, letting each
// step's consequences finish: timer callbacks, health probes (except on a
// hung node: only their timeout ends them), Socket.IO pongs, clients
// noticing their connections closed, reconnect attempts that are due.
func (r *run) advance(ctx context.Context, d time.Duration) error {
	if r.real {
		_, _, err := r.wait(ctx, d, nil)
		return err
	}
	// What earlier steps set moving (a "left the chatroom" line, say)
	// lands before time runs: bytes that crossed a tunnel later would
	// count as its traffic at a later instant.
	wctx, cancel := context.WithTimeout(ctx, settle)
	r.waitUntil(wctx, stepQuiet, func() (bool, string) { return false, "" })
	cancel()
	for end := r.now() + d; r.now() < end; {
		if _, err := r.advanceOnce(ctx, end-r.now()); err != nil {
			return err
		}
	}
	return nil
}

// advanceOnce moves virtual time to the next timer, or reconnect attempt,
// or by at most d, and lets the consequences finish.
// It reports whether anything happened (besides health checks).
func (r *run) advanceOnce(ctx context.Context, d time.Duration) (busy bool, err error) {
	step := d
	if next, ok := r.clk.Peek(); ok && next < step {
		step = next
	}
	if at, ok := r.nextRetry(); ok && at-r.now() < step {
		step = max(0, at-r.now())
	}
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	before := r.activity()
	err = r.clk.Advance(step).Wait(wctx)
	if err == nil {
		err = r.quiesce(wctx)
	}
	if err != nil {
		return false, fmt.Errorf("advance: consequences of %s did not finish: %w", stamp(r.now()), err)
	}
	busy = r.activity() != before
	if busy && r.reconnecting() {
		// A close the timer caused may still be on its way to a client
		// that reconnects: let it land, so that the client notices it at
		// this instant.
		r.waitUntil(ctx, stepQuiet, func() (bool, string) { return false, "" })
	}
	r.observe(ctx)
	r.retryDue(ctx)
	return busy, nil
}

// wait lets d of real time pass, on a lab on the real clock, noticing
// the connections that end and making the reconnect attempts that fall
// due as it goes; it ends early once cond (if any) holds, and says what
// cond last observed.
func (r *run) wait(ctx context.Context, d time.Duration, cond func() (bool, string)) (ok bool, observed string, err error) {
	end := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		r.observe(ctx)
		r.retryDue(ctx)
		if cond != nil {
			if ok, observed = cond(); ok {
				return true, "", nil
			}
		}
		if !time.Now().Before(end) {
			return false, observed, nil
		}
		select {
		case e, open := <-r.sub.C():
			if open {
				r.logEvent(e)
			}
		case <-tick.C:
		case <-ctx.Done():
			return false, observed, ctx.Err()
		}
	}
}

// reconnecting reports whether some client reconnects by itself and is
// connected: whether when it notices a close matters.
func (r *run) reconnecting() bool {
	for _, p := range r.players {
		if p.reconnect && p.open {
			return true
		}
	}
	return false
}

// quiesce waits until no health probe or Socket.IO ping is out, leaving
// aside hung nodes.
func (r *run) quiesce(ctx context.Context) error {
	if b := r.lab.Balancer; b != nil {
		if err := b.WaitProbes(ctx, func(name string) bool { return r.hung[name] }); err != nil {
			return err
		}
	}
	return r.waitUntil(ctx, 0, func() (bool, string) {
		for _, ln := range r.lab.Nodes() {
			n := ln.InProcess() // only the lab's own nodes run on the mock clock
			if n != nil && !r.hung[n.Name()] && n.Listening() && n.AwaitingPongs() > 0 {
				return false, fmt.Sprintf("%s waits for %d pongs", n.Name(), n.AwaitingPongs())
			}
		}
		return true, ""
	})
}

// quietFor is how long, in wall time, the lab must show no activity at
// all (no event, no frame received by a client, no connection ending)
// before an expectation that has not held is a failure. Virtual time does
// not move during the wait, so in a lab that is all in-process nothing
// more is coming once everything in flight has landed: a failing
// expectation costs this much, not settle.
const quietFor = 250 * time.Millisecond

// stepQuiet is the shorter quiet allowed, between two timers of a window
// of virtual time, for what the first timer caused to land.
const stepQuiet = 50 * time.Millisecond

// waitUntil re-checks cond whenever an event arrives (and every few
// milliseconds, for client-side changes) until it holds or ctx ends; with
// a quiet period, also until the lab has been quiet that long.
func (r *run) waitUntil(ctx context.Context, quiet time.Duration, cond func() (bool, string)) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	last, since := r.activity(), time.Now()
	for {
		r.drain()
		ok, observed := cond()
		if ok {
			return nil
		}
		if quiet > 0 {
			if a := r.activity(); a != last {
				last, since = a, time.Now()
			} else if time.Since(since) >= quiet {
				return &expectError{want: "timed out", observed: observed}
			}
		}
		select {
		case e, open := <-r.sub.C():
			if open {
				r.logEvent(e)
			}
		case <-tick.C:
		case <-ctx.Done():
			return &expectError{want: "timed out", observed: observed}
		}
	}
}

// activity sums what can change while the lab is busy: events, frames
// received by clients, connections that ended.
func (r *run) activity() int {
	r.drain()
	n := len(r.log) - r.checks // a health check alone changes nothing
	for _, p := range r.players {
		if p.c == nil {
			continue
		}
		n += p.c.Pending() + p.taken
		select {
		case <-p.c.Done():
			n++
		default:
		}
	}
	return n
}

// expect waits (wall-bounded) for cond and turns a timeout into a failed
// expectation that says what was wanted and what was seen. It is for
// what an action waits for (a connection registered, an answer): it
// allows settle.
func (r *run) expect(ctx context.Context, want string, cond func() (bool, string)) error {
	return r.await(ctx, want, 0, cond)
}

// check is expect for an expectation step: it fails once the lab has been
// quiet for quietFor without cond holding, in well under a second.
func (r *run) check(ctx context.Context, want string, cond func() (bool, string)) error {
	if r.real {
		return r.await(ctx, want, realQuiet, cond)
	}
	return r.await(ctx, want, quietFor, cond)
}

// realQuiet is quietFor on the real clock, where an app that is not ours
// does its work (a Redis round trip, say) without an event the runner can
// see: what is in flight gets longer to land on a busy machine.
const realQuiet = time.Second

func (r *run) await(ctx context.Context, want string, quiet time.Duration, cond func() (bool, string)) error {
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	if err := r.waitUntil(wctx, quiet, cond); err != nil {
		var ee *expectError
		if errors.As(err, &ee) {
			return &expectError{want: want, observed: ee.observed}
		}
		return err
	}
	return nil
}

// findEvent returns the first event from index `from` that matches.
func (r *run) findEvent(from int, match func(events.Event) bool) (events.Event, bool) {
	r.drain()
	for _, e := range r.log[min(from, len(r.log)):] {
		if match(e) {
			return e, true
		}
	}
	return events.Event{}, false
}

func (r *run) logLen() int {
	r.drain()
	return len(r.log)
}

func (r *run) player(name string) (*player, error) {
	p, ok := r.players[name]
	if !ok {
		return nil, fmt.Errorf("no client %q: connect it first", name)
	}
	return p, nil
}

func (p *player) stopHeartbeat() {
	if p.stopBeat != nil {
		p.stopBeat()
		p.beat.Wait()
		p.stopBeat = nil
	}
}

// closeReason reports whether p's connection is known closed, and why.
func (r *run) closeReason(p *player) (string, bool) {
	e, ok := r.findEvent(p.seenFrom, func(e events.Event) bool {
		if e.Kind != events.ConnClosed || e.Conn != p.conn {
			return false
		}
		return (p.via == "balancer") == (e.Source == "balancer")
	})
	if !ok {
		return "", false
	}
	return e.Reason, true
}

var _ = config.Duration(0)
var _ = strings.Join
