package balancer

import (
	"context"
	"fmt"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
)

// Pattern is how a client uses one long-lived connection, as lab check
// describes it.
type Pattern struct {
	// Heartbeat is the interval between heartbeats; 0 sends none.
	Heartbeat time.Duration
	// From is who sends the heartbeat: "client", "backend", or "both"
	// (the client sends one, the backend answers at once).
	From string
	// Ping sends the heartbeat as a WebSocket ping (a pong answers it)
	// instead of a data message (Socket.IO's and most apps' own).
	Ping bool
	// MessageBytes is the payload of each heartbeat message.
	MessageBytes int
	// Lifetime is how long the client wants to stay connected.
	Lifetime time.Duration
	// Reconnect makes the client connect again at once when it is cut.
	Reconnect bool
}

// Outcome is what the balancer did to a Pattern.
type Outcome struct {
	Survives bool          // open for the whole Lifetime
	CutAt    time.Duration // when the first connection was cut, from its start
	Reason   string        // ReasonIdleTimeout or ReasonMaxLifetime
	Cut      string        // config.CutFIN, config.CutReset or config.CutCloseFrame
	// CloseCode is what a browser's WebSocket reports for the cut: the
	// close frame's code, else 1006 (abnormal closure).
	CloseCode int
	// Cuts counts the connections cut over Lifetime, when the client
	// reconnects (else at most 1).
	Cuts int
}

// maxSimCuts bounds a simulation whose client reconnects into a timeout
// shorter than its heartbeat, for ever.
const maxSimCuts = 100000

// Simulate runs p through the tunnel code of a balancer configured with
// doc (composed and defaulted as Start does; a profile: in it applies) on a
// mock clock: the same touch, frame tracking, idle/lifetime timer and cut
// that real tunnels run, fed the frames p sends at the times it sends them,
// with no sockets in between. A two-hour lifetime takes milliseconds.
func Simulate(doc config.Config, p Pattern) (Outcome, error) {
	if p.Lifetime <= 0 {
		return Outcome{}, fmt.Errorf("lifetime %s must be positive", p.Lifetime)
	}
	if p.Heartbeat < 0 {
		return Outcome{}, fmt.Errorf("heartbeat %s must not be negative (0: none)", p.Heartbeat)
	}
	switch p.From {
	case "client", "backend", "both":
	default:
		return Outcome{}, fmt.Errorf("heartbeat direction %q is not client, backend or both", p.From)
	}
	if p.MessageBytes < 0 || p.MessageBytes > 1<<20 {
		return Outcome{}, fmt.Errorf("message size %d is out of range 0-1048576", p.MessageBytes)
	}
	tb := &simTB{}
	defer tb.runCleanups()
	clk := quartz.NewMock(tb)
	b := newBalancer(Options{Clock: clk, Name: "simulate"})
	defer b.Close()
	if doc.ServerGroup.Servers == nil {
		doc.ServerGroup.Servers = []config.Server{{Name: "sim", URL: "http://127.0.0.1:9"}}
	}
	cfg := b.compose(doc, nil)
	if err := cfg.Validate(); err != nil {
		return Outcome{}, err
	}
	snap := b.buildSnapshot(cfg.WithDefaults(), 1)
	s := sim{b: b, clk: clk, snap: snap, p: p, up: heartbeatFrame(p, true), down: heartbeatFrame(p, false)}
	out := s.run()
	if tb.failed != "" {
		return Outcome{}, fmt.Errorf("simulation: %s", tb.failed)
	}
	return out, nil
}

type sim struct {
	b        *Balancer
	clk      *quartz.Mock
	snap     *snapshot
	p        Pattern
	up, down []byte // one heartbeat each way
}

func (s *sim) run() Outcome {
	ctx := context.Background()
	var out Outcome
	start := s.clk.Now()
	end := start.Add(s.p.Lifetime)
	for s.clk.Now().Before(end) && out.Cuts < maxSimCuts {
		conns := &simConns{}
		opened := s.clk.Now()
		tn := s.b.newTunnel(s.snap, s.snap.targets[0], conns, "simulated client")
		s.b.registerTunnel(tn)
		nextBeat := time.Time{}
		if s.p.Heartbeat > 0 {
			nextBeat = opened.Add(s.p.Heartbeat)
		}
		for !conns.closed && s.clk.Now().Before(end) {
			now := s.clk.Now()
			next := end
			if !nextBeat.IsZero() && nextBeat.Before(next) {
				next = nextBeat
			}
			// A timer due at the same moment as a heartbeat fires first (the
			// heartbeat is late); one due as the client leaves does not.
			if d, ok := s.clk.Peek(); ok && (now.Add(d).Before(next) || now.Add(d).Equal(next) && next.Before(end)) {
				_, w := s.clk.AdvanceNext()
				w.MustWait(ctx) // the timer's function has run
				continue
			}
			s.clk.Advance(next.Sub(now)).MustWait(ctx)
			if s.clk.Now().Equal(nextBeat) {
				s.beat(tn)
				nextBeat = nextBeat.Add(s.p.Heartbeat)
			}
		}
		if !conns.closed {
			tn.close(ReasonShutdown)
			out.Survives = out.Cuts == 0
			break
		}
		if out.Cuts == 0 {
			out.CutAt = s.clk.Since(opened)
			out.Reason = tn.why.Load().reason
			out.Cut = conns.cut
			out.CloseCode = 1006
			if conns.cut == config.CutCloseFrame {
				out.CloseCode = 1001
			}
		}
		out.Cuts++
		if !s.p.Reconnect {
			break
		}
	}
	return out
}

// beat sends one heartbeat through tn as a front door's copy would: each
// chunk touches the tunnel, then the frame tracker of its direction hears
// it.
func (s *sim) beat(tn *tunnel) {
	if s.p.From == "client" || s.p.From == "both" {
		tn.touch(true)
		tn.heard(true, s.up)
	}
	if s.p.From == "backend" || s.p.From == "both" {
		tn.touch(false)
		tn.heard(false, s.down)
	}
}

// heartbeatFrame is one heartbeat as it goes over the wire: a ping (the
// sender's) or pong (the answer's), or a text message of p.MessageBytes;
// masked from the client.
func heartbeatFrame(p Pattern, fromClient bool) []byte {
	op := byte(0x1) // text
	n := p.MessageBytes
	if p.Ping {
		op, n = 0x9, 0 // ping
		if (p.From == "both") && !fromClient {
			op = 0xA // the backend's pong
		}
	}
	f := []byte{0x80 | op}
	switch {
	case n < 126:
		f = append(f, byte(n))
	case n < 1<<16:
		f = append(f, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if fromClient {
		f[1] |= 0x80
		f = append(f, 1, 2, 3, 4)
	}
	return append(f, make([]byte, n)...)
}

// simConns stands in for a tunnel's sockets and records how it was cut.
type simConns struct {
	closed bool
	cut    string
}

func (c *simConns) start(*tunnel)      {}
func (c *simConns) sayGoodbye(*tunnel) {}
func (c *simConns) goAway(tn *tunnel, reason string) {
	c.cut = config.CutCloseFrame
	tn.close(reason)
}
func (c *simConns) abort() { c.cut = config.CutReset }
func (c *simConns) closeConns() {
	c.closed = true
	if c.cut == "" {
		c.cut = config.CutFIN
	}
}

// simTB is the small quartz.TestingT the mock clock needs outside go test.
type simTB struct {
	failed   string
	cleanups []func()
}

func (t *simTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *simTB) runCleanups() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

func (t *simTB) Helper()                   {}
func (t *simTB) Logf(string, ...any)       {}
func (t *simTB) Errorf(f string, a ...any) { t.fail(fmt.Sprintf(f, a...)) }
func (t *simTB) Fatalf(f string, a ...any) { t.fail(fmt.Sprintf(f, a...)) }
func (t *simTB) Error(a ...any)            { t.fail(fmt.Sprint(a...)) }
func (t *simTB) Fatal(a ...any)            { t.fail(fmt.Sprint(a...)) }
func (t *simTB) Log(...any)                {}
func (t *simTB) fail(s string) {
	if t.failed == "" {
		t.failed = s
	}
}
