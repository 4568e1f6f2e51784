package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	// Processes is what the user's client processes (lab.clients) went
	// through, as the balancer saw them; its lines end the transcript.
	Processes *lab.ClientsReport `json:"client_processes,omitempty"`
}

// Failure says which step failed, when, and what happened instead.
type Failure struct {
	Step     int           `json:"step"` // 1-based
	Line     int           `json:"line"`
	Kind     string        `json:"kind"`
	Virtual  time.Duration `json:"virtual_ns"`
	Message  string        `json:"message"`
	Observed string        `json:"observed,omitempty"`
	// Reload is the rejection of the last reload, when one stands: what
	// the steps after it ran against was the config before.
	Reload string `json:"reload_rejected,omitempty"`
}

func (f *Failure) String() string {
	s := fmt.Sprintf("step %d (%s, line %d) at %s: %s", f.Step, f.Kind, f.Line, stamp(f.Virtual), f.Message)
	if f.Step == 0 { // before the first step: the lab's shape, or its processes
		s = "starting the lab: " + f.Message
	}
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
	// Balancer runs the scenario with nginx, haproxy or caddy at the front
	// door (lab.Config.BalancerKind), on the real clock; "" or wslab is the
	// built-in balancer. A proxy publishes none of our balancer's events:
	// expectations of them fail with what was observed instead.
	Balancer string
	// RealClock runs the lab on the real clock even when nothing else
	// would make it (the built-in balancer, every node in-process): an
	// advance waits that long. The matrix runs the built-in balancer so,
	// to hold it to what the proxies are held to.
	RealClock bool
	Verbose   func(string) // called with each transcript line as it happens
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
	front   string // Options.Balancer
	// realClock is Options.RealClock: the lab gets no clock of the run's.
	realClock bool
	out       []string
	verbose   func(string)

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
	protocol  string // chat, chat_ws, socketio or ws
	args      ConnectArgs
	heartbeat time.Duration
	reconnect bool // reconnects by itself, as socket.io-client does
	recovered bool // its connection got back the last one's session (connection state recovery)

	c        *client.Client // its current (or last) connection
	open     bool           // c is open, as far as the runner has noticed
	node     string         // where it landed
	conn     string         // its balancer tunnel id, or its session id on a node; "" when the lab cannot see it
	connSrc  string         // who reported conn: balancer or the node
	gen      uint64
	username string
	stopBeat context.CancelFunc
	beat     quartz.Waiter
	seenFrom int            // log index from which its events are looked for
	taken    int            // events taken from its clients' queues
	inbox    []string       // chat messages taken, not yet expected
	events   []client.Event // a socketio or ws client's events taken, not yet expected
	arrived  int            // messages received (chat) or events (socketio, ws), over all its connections
	// lastArrived describes the last of them, for expect_no_message.
	lastArrived string

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
	failures     int           // connect steps that failed as expected (expect_error)
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
	r.front = opts.Balancer
	r.realClock = opts.RealClock
	res.Profile = r.profileName()
	r.clk = newMock(r.tb)
	r.start = r.clk.Now()
	if err := r.startLab(ctx, res.Seed); err != nil {
		res.Failure = &Failure{Kind: "lab", Message: err.Error()}
		res.Wall = time.Since(wallStart)
		return res
	}
	res.Clock = r.lab.Clocking()
	if r.realClock && res.Clock.Why == "no clock was injected" { // nothing else made it real
		res.Clock.Why = "the run asked for it (--real-clock)"
	}
	if res.Clock.Real {
		r.say("%s", res.Clock)
	}
	if err := r.awaitProcesses(ctx); err != nil {
		res.Failure = &Failure{Kind: "lab", Message: err.Error()}
		r.say("FAIL %s", res.Failure)
	}
	for i, st := range sc.Steps {
		if res.Failure != nil {
			break
		}
		if err := r.runStep(ctx, st); err != nil {
			f := &Failure{Step: i + 1, Line: st.Line, Kind: st.Kind, Virtual: r.now(), Message: err.Error()}
			if r.reload != nil {
				f.Reload = oneLine(r.reload)
			}
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
	res.Processes = r.reportProcesses()
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
	var clk quartz.Clock = r.clk
	if r.realClock {
		clk = nil
	}
	l, err := lab.Start(ctx, lab.Config{
		Balancer: bc, BalancerOverrides: flags, Nodes: r.sc.Lab.Nodes, NodePort: 0,
		Node: r.sc.Lab.Node, NodeList: r.sc.Lab.NodeList,
		PingInterval: time.Duration(r.sc.Lab.PingInterval), PingTimeout: time.Duration(r.sc.Lab.PingTimeout),
		Links: lab.LinksConfig{On: r.sc.Lab.Links}, Clients: r.sc.Lab.Clients,
		Seed: seed, Clock: clk, Events: bus, Logger: slog.New(slog.DiscardHandler),
		BalancerKind: r.front,
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
