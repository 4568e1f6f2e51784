package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

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
		busy = r.activity() != before
	}
	// A long poll the balancer cut is an event already (request.timeout):
	// observe waits for its client to hear the 504, however long that
	// takes, as for every close the lab reported.
	r.pollsOut(ctx)
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

// pollsOut waits until every long-polling client on one of the lab's own
// nodes has its next poll waiting at the node (or its connection ended):
// a poll's idle timer at the balancer then starts at the same virtual
// instant every run. On the real clock nothing waits.
func (r *run) pollsOut(ctx context.Context) {
	if r.real {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	r.waitUntil(wctx, 0, func() (bool, string) {
		for _, name := range r.order {
			p := r.players[name]
			if !p.open || p.c == nil || p.c.Conn() != nil || p.c.EngineSID == "" || r.hung[p.node] {
				continue // not (or no longer) long-polling
			}
			ln := r.lab.Node(p.node)
			if ln == nil || ln.InProcess() == nil || !ln.InProcess().Listening() {
				continue
			}
			select {
			case <-p.c.Done():
				continue
			default:
			}
			if !ln.InProcess().PollPending(p.c.EngineSID) {
				return false, name + " has no poll out"
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
		return p.conn != "" && e.Kind == events.ConnClosed && e.Conn == p.conn && e.Source == p.connSrc
	})
	if !ok {
		return "", false
	}
	return e.Reason, true
}

var _ = config.Duration(0)
var _ = strings.Join
