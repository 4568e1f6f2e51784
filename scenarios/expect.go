package scenarios

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node/client"
)

func (r *run) expectMessage(ctx context.Context, a ExpectMessageArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	if !p.chat() {
		match, what := messageMatch(a)
		return r.takeEvent(ctx, p, time.Duration(a.Within), what, match)
	}
	match, what := func(s string) bool { return s == a.Text }, fmt.Sprintf("%q", a.Text)
	if a.Matches != "" {
		re := regexp.MustCompile(a.Matches) // checked when read
		match, what = re.MatchString, fmt.Sprintf("a message matching %q", a.Matches)
	}
	found := func() (bool, string) {
		p.pull()
		if slices.ContainsFunc(p.inbox, match) {
			return true, ""
		}
		return false, fmt.Sprintf("received %q", p.inbox)
	}
	if err := r.within(ctx, time.Duration(a.Within), fmt.Sprintf("%s receives %s", p.name, what), found); err != nil {
		return err
	}
	return r.takeMessageFunc(ctx, p, what, match, true)
}

// within waits for cond: at once when window is 0, else letting virtual
// time run, one timer at a time, up to window. It ends at the instant
// cond holds: the transcript says when it happened. On the real clock the
// window is real time.
func (r *run) within(ctx context.Context, window time.Duration, want string, cond func() (bool, string)) error {
	if window <= 0 {
		return r.check(ctx, want, cond)
	}
	if r.real { // the window is real time: the lab's, the app's, the clients'
		ok, observed, err := r.wait(ctx, window, cond)
		if err != nil {
			return err
		}
		if !ok {
			return &expectError{want: fmt.Sprintf("%s within %s", want, window), observed: observed}
		}
		return nil
	}
	end := r.now() + window
	// What earlier steps left in flight lands first; after that, what a
	// timer causes has landed when advanceOnce returns.
	if r.waitUntil(ctx, quietFor, cond) == nil {
		return nil
	}
	for r.now() < end {
		busy, err := r.advanceOnce(ctx, end-r.now())
		if err != nil {
			return err
		}
		// What the timer caused may still be crossing sockets, even when
		// nothing showed yet (a drain's close frame crosses the event loop
		// after its timer returns): let it land at this instant, not at
		// the window's end, so that a window longer than needed says the
		// same time every run. Only then: a window full of health checks
		// and pings would otherwise cost stepQuiet per timer to fail.
		if busy || r.drainingTunnels() {
			if r.waitUntil(ctx, stepQuiet, cond) == nil {
				return nil
			}
		} else if ok, _ := cond(); ok {
			return nil
		}
	}
	// At the window's end, what its last timer caused lands (a drain's
	// close frame crosses the event loop after the timer returns).
	return r.check(ctx, fmt.Sprintf("%s within %s", want, window), cond)
}

func (r *run) expectOpen(ctx context.Context, a ExpectOpenArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	if !p.open {
		return &expectError{want: a.Client + " is open", observed: r.lastClose(p)}
	}
	if reason, closed := r.closeReason(p); closed {
		return &expectError{want: a.Client + " is open", observed: "closed: " + reason}
	}
	select {
	case <-p.c.Done():
		return &expectError{want: a.Client + " is open", observed: fmt.Sprintf("the client saw its connection end: %v", p.c.Err())}
	default:
	}
	if a.Node != "" && a.Node != p.node {
		return &expectError{want: fmt.Sprintf("%s is on %s", a.Client, a.Node), observed: "on " + p.node}
	}
	if a.Generation != 0 && p.via == "balancer" && r.lab.Proxy != nil {
		return &expectError{want: fmt.Sprintf("%s runs under generation %d", a.Client, a.Generation), observed: r.front + " gives no config generation the lab can read for a connection"}
	}
	if a.Generation != 0 && a.Generation != p.gen {
		return &expectError{want: fmt.Sprintf("%s runs under generation %d", a.Client, a.Generation), observed: fmt.Sprintf("generation %d", p.gen)}
	}
	r.say("%s is open (%s%s)", a.Client, p.node, r.genOf(p))
	return nil
}

// lastClose describes p's last close, for a failed expectation.
func (r *run) lastClose(p *player) string {
	if len(p.closes) == 0 {
		return "not connected"
	}
	c := p.closes[len(p.closes)-1]
	s := fmt.Sprintf("closed at %s with %d", stamp(c.at), c.code)
	if reason, ok := r.reasonOf(c); ok {
		s += " (" + reason + ")"
	}
	return s
}

// expectClosed waits until the client's connection has ended — the one
// open when the step starts, or else the last one — and checks the close
// code it saw and the reason the lab gave.
func (r *run) expectClosed(ctx context.Context, a ExpectClosedArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	want := a.Client + " closed"
	if a.Code != 0 {
		want += fmt.Sprintf(" with %d", a.Code)
	}
	if a.Reason != "" {
		want += " (" + a.Reason + ")"
	}
	c := p.c
	err = r.within(ctx, time.Duration(a.Within), want, func() (bool, string) {
		if p.open && p.c == c {
			select {
			case <-c.Done():
				r.ended(p, false)
			default:
				return false, "still open"
			}
		}
		return true, ""
	})
	if err != nil {
		return err
	}
	rec := p.closes[len(p.closes)-1]
	if a.Reason == "" && c.Conn() == nil { // long-polling: the node may learn of it much later
		r.say("%s closed: %d%s", a.Client, rec.code, pollAnswer(c.Err()))
		return nil
	}
	if rec.via == "balancer" && r.lab.Proxy != nil {
		return r.closedByProxy(a, rec, want)
	}
	var reason string
	if err := r.expect(ctx, want, func() (bool, string) {
		var ok bool
		reason, ok = r.reasonOf(rec)
		return ok, "the lab reported no close of " + rec.conn
	}); err != nil {
		return err
	}
	if a.Code != 0 && rec.code != a.Code {
		return &expectError{want: want, observed: fmt.Sprintf("closed with %d (%s)", rec.code, reason)}
	}
	if a.Reason != "" && !balancer.ReasonMatches(reason, a.Reason) {
		return &expectError{want: want, observed: fmt.Sprintf("closed for another reason: %s (%d)", reason, rec.code)}
	}
	if a.Reason == "" { // what the client saw; who closed first may race (a goodbye both ways)
		r.say("%s closed: %d%s", a.Client, rec.code, pollAnswer(c.Err()))
		return nil
	}
	by := "balancer"
	if rec.via != "balancer" {
		by = rec.via
	}
	r.say("%s closed: %d (%s: %s)", a.Client, rec.code, by, reason)
	return nil
}

// pollAnswer is, for a long-polling client whose poll got an error status
// instead of the server's packets, what answered it (a balancer's 504 at its
// idle timeout, say): the client saw no close code, only that.
func pollAnswer(err error) string {
	var se *client.StatusError
	if !errors.As(err, &se) {
		return ""
	}
	return fmt.Sprintf(" (its %s answered %s: %s)", se.Method, se.Status, strings.TrimPrefix(se.Message(), se.Status+": "))
}

// closedByProxy checks a close that came through a proxy at the front
// door: what the client saw is all there is, a proxy gives no reason.
func (r *run) closedByProxy(a ExpectClosedArgs, rec closeRecord, want string) error {
	if a.Code != 0 && rec.code != a.Code {
		return &expectError{want: want, observed: fmt.Sprintf("closed with %d", rec.code)}
	}
	if a.Reason != "" {
		return &expectError{want: want, observed: fmt.Sprintf("closed with %d; %s gives no close reason the lab can read", rec.code, r.front)}
	}
	r.say("%s closed: %d", a.Client, rec.code)
	return nil
}

// expectReconnected waits until a client that reconnects by itself is
// connected again after its last close.
func (r *run) expectReconnected(ctx context.Context, a ExpectReconnectedArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	if !p.reconnect {
		return fmt.Errorf("%s does not reconnect by itself: connect it with reconnect: true", a.Client)
	}
	want := a.Client + " reconnected"
	if a.Node != "" {
		want += " to " + a.Node
	}
	err = r.within(ctx, time.Duration(a.Within), want, func() (bool, string) {
		if p.open && p.reconnects > p.backSeen {
			return true, ""
		}
		if p.open {
			return false, "still on its first connection (no close seen)"
		}
		if p.retryAt >= 0 {
			return false, fmt.Sprintf("disconnected; %d attempts so far, the next at %s", p.attempts, stamp(p.retryAt))
		}
		return false, "disconnected"
	})
	if err != nil {
		return err
	}
	p.backSeen = p.reconnects
	if a.Node != "" && p.node != a.Node {
		return &expectError{want: want, observed: "on " + p.node}
	}
	session := ""
	if p.c.PID() != "" || a.Recovered != nil {
		session = "a new session"
		if p.recovered {
			session = "its session recovered"
		}
		if a.Recovered != nil && *a.Recovered != p.recovered {
			wantSession := "a new session"
			if *a.Recovered {
				wantSession = "its session recovered"
			}
			return &expectError{want: want + " with " + wantSession, observed: "with " + session}
		}
		session = ", " + session
	}
	last := p.closes[len(p.closes)-1]
	r.say("%s is back on %s (%s, %.3fs after its close%s)", a.Client, p.node, plural(p.attempts, "attempt"), (r.now() - last.at).Seconds(), session)
	return nil
}

func (r *run) expectSpread(ctx context.Context, want map[string]int) error {
	names := slices.Sorted(maps.Keys(want))
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%d", n, want[n]))
	}
	if r.lab.Balancer == nil {
		return &expectError{want: "spread " + strings.Join(parts, " "), observed: r.front + " gives no per-backend connection counts the lab reads"}
	}
	err := r.check(ctx, "spread "+strings.Join(parts, " "), func() (bool, string) {
		got := map[string]int64{}
		for _, b := range r.lab.Balancer.Status().Backends {
			got[b.Name] = b.Active
		}
		var obs []string
		ok := true
		for _, n := range names {
			obs = append(obs, fmt.Sprintf("%s=%d", n, got[n]))
			ok = ok && got[n] == int64(want[n])
		}
		return ok, strings.Join(obs, " ")
	})
	if err == nil {
		r.say("spread %s", strings.Join(parts, " "))
	}
	return err
}

func (r *run) expectEvent(ctx context.Context, a ExpectEventArgs) error {
	match := func(e events.Event) bool {
		return string(e.Kind) == a.Kind && (a.Source == "" || e.Source == a.Source) &&
			(a.Backend == "" || e.Backend == a.Backend) && (a.Reason == "" || e.Reason == a.Reason) &&
			(a.Detail == "" || strings.Contains(e.Detail, a.Detail))
	}
	err := r.within(ctx, time.Duration(a.Within), "event "+describe(a), func() (bool, string) {
		_, ok := r.findEvent(0, match)
		return ok, r.lastOfKind(a.Kind)
	})
	if err == nil {
		r.say("event %s", describe(a))
	}
	return err
}

func describe(a ExpectEventArgs) string {
	s := a.Kind
	for _, f := range [][2]string{{"source", a.Source}, {"backend", a.Backend}, {"reason", a.Reason}, {"detail", a.Detail}} {
		if f[1] != "" {
			s += fmt.Sprintf(" %s=%s", f[0], f[1])
		}
	}
	return s
}

// lastOfKind describes the events of a kind seen so far, for failures.
func (r *run) lastOfKind(kind string) string {
	r.drain()
	var seen []string
	for _, e := range r.log {
		if string(e.Kind) == kind {
			seen = append(seen, e.String())
		}
	}
	if len(seen) == 0 {
		return "no " + kind + " event at all"
	}
	return strings.Join(seen[max(0, len(seen)-3):], " | ")
}

// drainingTunnels reports whether a backend of the built-in balancer is
// draining with tunnels still open: a drain's timer closes them on the
// event loop after the timer itself has returned.
func (r *run) drainingTunnels() bool {
	b := r.lab.Balancer
	if b == nil {
		return false
	}
	for _, be := range b.Status().Backends {
		if be.Draining && be.Active > 0 {
			return true
		}
	}
	return false
}
