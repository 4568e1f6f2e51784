package scenarios

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node/client"
)

// step runs one step, adding its transcript lines.
func (r *run) step(ctx context.Context, st Step) error {
	d, ok := stepByName(st.Kind)
	if !ok {
		return fmt.Errorf("unknown step %q (steps: %s)", st.Kind, strings.Join(StepNames(), ", "))
	}
	return d.run(r, ctx, st.Args)
}

func (r *run) connect(ctx context.Context, a ConnectArgs) error {
	p, seen := r.players[a.Client]
	if seen && p.open {
		select {
		case <-p.c.Done():
			r.ended(p, false)
		default:
			return fmt.Errorf("client %q is still connected; disconnect it first", a.Client)
		}
	}
	if !seen {
		p = &player{name: a.Client, received: map[string]int{}, down: -1, rng: clientRand(r.seed, a.Client)}
	}
	p.via, p.transport, p.heartbeat, p.reconnect = a.Via, a.Transport, time.Duration(a.Heartbeat), a.Reconnect
	p.retryAt = -1 // a connect step is the client's own (re)connection
	if p.via == "" {
		p.via = "balancer"
	}
	if p.transport == "" {
		p.transport = string(client.SocketIO)
	}
	if err := r.dial(ctx, p); err != nil {
		return err
	}
	if !seen {
		r.order = append(r.order, a.Client)
		r.players[a.Client] = p
	}
	detail := p.transport
	if p.heartbeat > 0 {
		detail += ", heartbeat " + p.heartbeat.String()
	}
	if p.reconnect {
		detail += ", reconnects"
	}
	gen := ""
	if p.via == "balancer" {
		gen = fmt.Sprintf(", generation %d", p.gen)
	}
	r.say("connect %s via %s (%s) → %s%s", a.Client, p.via, detail, p.node, gen)
	return nil
}

func (r *run) setUsername(ctx context.Context, a UsernameArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	r.say("%s sets username %q", a.Client, a.Name)
	if err := p.c.Emit(ctx, "set_username", a.Name); err != nil {
		return fmt.Errorf("%s: %w", a.Client, err)
	}
	if err := r.takeMessage(ctx, p, "Your username is set to "+a.Name, false); err != nil {
		return err
	}
	p.username = a.Name
	return nil
}

// send emits a message and waits until the sender got its answer (the
// broadcast, or a warning) and a broadcast has reached every connected
// client, so the bytes have crossed before time moves: a copy still in
// flight when virtual time runs would count as traffic at a later instant.
// A client that never gets it does not fail the step (the summary counts
// it lost).
func (r *run) send(ctx context.Context, a SendArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	text := p.username + ": " + a.Text
	had := map[*player]int{}
	for _, q := range r.players {
		if q.open {
			q.pull()
			had[q] = q.received[text]
		}
	}
	before := p.c.Pending()
	r.say("%s sends %q", a.Client, a.Text)
	if p.username != "" { // what everyone in the room should receive
		r.seq++
		r.sent = append(r.sent, sent{text: text, seq: r.seq})
	}
	if err := p.c.Emit(ctx, "message", a.Text); err != nil {
		return fmt.Errorf("%s: %w", a.Client, err)
	}
	if err := r.expect(ctx, a.Client+" gets an answer to its message", func() (bool, string) {
		return p.c.Pending() > before, "nothing came back"
	}); err != nil {
		return err
	}
	if p.pull(); p.username == "" || p.received[text] == had[p] {
		return nil // refused: nobody gets it
	}
	wctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	r.waitUntil(wctx, quietFor, func() (bool, string) {
		for q, n := range had {
			if q.pull(); q.open && q.received[text] == n {
				return false, ""
			}
		}
		return true, ""
	})
	return nil
}

func (r *run) disconnect(ctx context.Context, a DisconnectArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	if !p.open {
		return fmt.Errorf("client %q is not connected", a.Client)
	}
	p.stopHeartbeat()
	how := "leaves"
	if a.Abrupt {
		how = "drops its connection"
		p.c.CloseNow()
	} else {
		p.c.Close()
	}
	r.ended(p, true)
	r.say("%s %s", a.Client, how)
	return r.expect(ctx, a.Client+"'s connection closed", func() (bool, string) {
		_, ok := r.closeReason(p)
		return ok, "no close event yet"
	})
}

// takeMessage consumes messages of p up to text. An expectation (check)
// fails as soon as the lab is quiet; an action allows settle.
func (r *run) takeMessage(ctx context.Context, p *player, text string, expectation bool) error {
	var seen []string
	cond := func() (bool, string) {
		p.pull()
		for i, got := range p.inbox {
			if got == text {
				seen = append(seen, p.inbox[:i]...)
				p.inbox = p.inbox[i+1:]
				return true, ""
			}
		}
		obs := fmt.Sprintf("received %q", append(seen, p.inbox...))
		select {
		case <-p.c.Done():
			obs += fmt.Sprintf(", then the connection closed: %v", p.c.Err())
		default:
		}
		return false, obs
	}
	want := fmt.Sprintf("%s receives %q", p.name, text)
	wait := r.expect
	if expectation {
		wait = r.check
	}
	if err := wait(ctx, want, cond); err != nil {
		return err
	}
	r.say("%s receives %q", p.name, text)
	return nil
}

// pull moves the events queued on p's client into its inbox, without
// waiting.
func (p *player) pull() {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		ev, err := p.c.Next(done)
		if err != nil {
			return
		}
		p.taken++
		if ev.Name == "message" {
			p.inbox = append(p.inbox, ev.Text)
			p.received[ev.Text]++
		}
	}
}

func (r *run) expectMessage(ctx context.Context, a ExpectMessageArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	found := func() (bool, string) {
		p.pull()
		if slices.Contains(p.inbox, a.Text) {
			return true, ""
		}
		return false, fmt.Sprintf("received %q", p.inbox)
	}
	if err := r.within(ctx, time.Duration(a.Within), fmt.Sprintf("%s receives %q", p.name, a.Text), found); err != nil {
		return err
	}
	return r.takeMessage(ctx, p, a.Text, true)
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
		if busy { // what the timer caused may still be crossing sockets
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
	if a.Generation != 0 && a.Generation != p.gen {
		return &expectError{want: fmt.Sprintf("%s runs under generation %d", a.Client, a.Generation), observed: fmt.Sprintf("generation %d", p.gen)}
	}
	r.say("%s is open (%s, generation %d)", a.Client, p.node, p.gen)
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
		r.say("%s closed: %d", a.Client, rec.code)
		return nil
	}
	by := "balancer"
	if rec.via != "balancer" {
		by = rec.via
	}
	r.say("%s closed: %d (%s: %s)", a.Client, rec.code, by, reason)
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
	last := p.closes[len(p.closes)-1]
	r.say("%s is back on %s (%s, %.3fs after its close)", a.Client, p.node, plural(p.attempts, "attempt"), (r.now() - last.at).Seconds())
	return nil
}

func (r *run) expectSpread(ctx context.Context, want map[string]int) error {
	names := slices.Sorted(maps.Keys(want))
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%d", n, want[n]))
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

// reloadStep applies a whole new balancer document. Without servers it
// keeps the running ones (the balancer's rule); a server given by name only
// is the lab's node of that name.
func (r *run) reloadStep(cfg config.Config) error {
	servers := slices.Clone(cfg.ServerGroup.Servers)
	for i, s := range servers {
		if s.URL == "" {
			n := r.lab.Node(s.Name)
			if n == nil {
				return fmt.Errorf("reload: servers[%d] %q has no url and no node has that name", i, s.Name)
			}
			servers[i].URL = n.URL()
		}
	}
	cfg.ServerGroup.Servers = servers
	gen, err := r.lab.Balancer.Reload(cfg)
	return r.reloaded(gen, err)
}

func (r *run) reloaded(gen uint64, err error) error {
	r.reload = err
	if err != nil {
		r.say("reload rejected (generation %d keeps serving)", r.lab.Balancer.Generation())
		return nil
	}
	r.say("reload → generation %d", gen)
	return nil
}

func (r *run) expectRejected(a ExpectRejectedArgs) error {
	if r.reload == nil {
		return &expectError{want: "the last reload was rejected", observed: fmt.Sprintf("it was applied (generation %d)", r.lab.Balancer.Generation())}
	}
	for _, c := range a.Contains {
		if !strings.Contains(r.reload.Error(), c) {
			return &expectError{want: fmt.Sprintf("the rejection mentions %q", c), observed: oneLine(r.reload)}
		}
	}
	r.say("reload was rejected: %d problems", len(config.Problems(r.reload)))
	return nil
}

func (r *run) fault(ctx context.Context, kind, name string, d time.Duration) error {
	if r.lab.Node(name) == nil {
		return fmt.Errorf("%s: no node %q", kind, name)
	}
	switch kind {
	case "hang":
		r.hung[name] = true
	case "start", "restart":
		delete(r.hung, name)
	}
	_, err := r.lab.Fault(ctx, name, kind, d)
	if kind == "slow" {
		r.say("slow %s by %s", name, d)
	} else {
		r.say("%s %s", kind, name)
	}
	if err == nil && (kind == "kill" || kind == "stop" || kind == "restart") {
		err = r.awaitNode(ctx, name) // its clients know when the step ends
	}
	return err
}

func (r *run) addNode(ctx context.Context, a AddNodeArgs) error {
	if a.Join != nil && !*a.Join {
		n, err := r.lab.StartNode(ctx)
		if err == nil {
			r.say("start %s (not in the server group)", n.Name())
		}
		return err
	}
	n, err := r.lab.AddNode(ctx)
	if err == nil {
		r.say("add %s to the server group (generation %d)", n.Name(), r.lab.Balancer.Generation())
	}
	return err
}

func (r *run) redis(ctx context.Context, state string) error {
	r.say("redis %s", state)
	switch state {
	case "down":
		return r.lab.RedisDown()
	case "up_empty":
		return r.lab.RedisUpEmpty()
	}
	return r.lab.RedisUp()
}

// plural is "1 attempt", "2 attempts".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
