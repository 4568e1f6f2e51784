package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

// step runs one step, adding its transcript lines.
func (r *run) step(ctx context.Context, st Step) error {
	d, ok := stepByName(st.Kind)
	if !ok {
		return fmt.Errorf("unknown step %q (steps: %s)", st.Kind, strings.Join(StepNames(), ", "))
	}
	if name := clientOf(st.Args); name != "" && st.Kind != "connect" {
		if p, ok := r.players[name]; ok { // the file's check, for Session.Step
			if msg := protocolProblem(d, p.protocol, name, st.Args); msg != "" {
				return fmt.Errorf("%s: %s", st.Kind, msg)
			}
		}
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
	p.via, p.heartbeat, p.reconnect = a.Via, time.Duration(a.Heartbeat), a.Reconnect
	p.protocol, p.args = protocolOf(a), a
	p.retryAt = -1 // a connect step is the client's own (re)connection
	if p.via == "" {
		p.via = "balancer"
	}
	err := r.dial(ctx, p, false)
	if a.ExpectError != "" {
		return r.connectFails(ctx, p, seen, err)
	}
	if err != nil {
		return err
	}
	if !seen {
		r.order = append(r.order, a.Client)
		r.players[a.Client] = p
	}
	detail := p.describe()
	if p.heartbeat > 0 {
		detail += ", heartbeat " + p.heartbeat.String()
	}
	if p.reconnect {
		detail += ", reconnects"
	}
	r.say("connect %s via %s (%s) → %s%s", a.Client, p.via, detail, p.node, r.genOf(p))
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
	if !p.chat() {
		if !p.open {
			return fmt.Errorf("client %q is not connected", a.Client)
		}
		return r.sendRaw(ctx, p, a)
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
	if p.conn == "" { // a node that is not the lab's: nobody reports the close
		return nil
	}
	return r.expect(ctx, a.Client+"'s connection closed", func() (bool, string) {
		_, ok := r.closeReason(p)
		return ok, "no close event yet"
	})
}

// takeMessage consumes messages of p up to text. An expectation (check)
// fails as soon as the lab is quiet; an action allows settle.
func (r *run) takeMessage(ctx context.Context, p *player, text string, expectation bool) error {
	return r.takeMessageFunc(ctx, p, fmt.Sprintf("%q", text), func(s string) bool { return s == text }, expectation)
}

// takeMessageFunc is takeMessage for the first message match accepts;
// what says which, in the transcript.
func (r *run) takeMessageFunc(ctx context.Context, p *player, what string, match func(string) bool, expectation bool) error {
	var seen []string
	cond := func() (bool, string) {
		p.pull()
		for i, got := range p.inbox {
			if match(got) {
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
	want := fmt.Sprintf("%s receives %s", p.name, what)
	wait := r.expect
	if expectation {
		wait = r.check
	}
	if err := wait(ctx, want, cond); err != nil {
		return err
	}
	r.say("%s", want)
	return nil
}

// pull moves the events queued on p's client into its inbox, without
// waiting.
func (p *player) pull() {
	if p.c == nil { // it never connected
		return
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		ev, err := p.c.Next(done)
		if err != nil {
			return
		}
		p.taken++
		switch {
		case !p.chat():
			p.events = append(p.events, ev)
			p.arrived++
			p.lastArrived = quoteEvent(ev)
		case ev.Name == "message":
			p.inbox = append(p.inbox, ev.Text)
			p.received[ev.Text]++
			p.arrived++
			p.lastArrived = fmt.Sprintf("%q", ev.Text)
		}
	}
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
	if p := r.lab.Proxy; p != nil {
		gen, err := p.Reload(context.Background(), cfg)
		return r.reloaded(gen, err)
	}
	gen, err := r.lab.Balancer.Reload(cfg)
	return r.reloaded(gen, err)
}

func (r *run) reloaded(gen uint64, err error) error {
	r.reload = err
	if err != nil {
		r.say("reload rejected (generation %d keeps serving)", r.generation())
		return nil
	}
	r.say("reload → generation %d", gen)
	return nil
}

func (r *run) expectRejected(a ExpectRejectedArgs) error {
	if r.reload == nil {
		return &expectError{want: "the last reload was rejected", observed: fmt.Sprintf("it was applied (generation %d)", r.generation())}
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
	// Its clients know when the step ends; a node within its stop grace
	// serves them on.
	if err == nil && (kind == "kill" || kind == "stop" || kind == "restart") && !r.lab.Node(name).State().Stopping {
		err = r.awaitNode(ctx, name)
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
		r.say("add %s to the server group (generation %d)", n.Name(), r.generation())
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

// frontDoor is where clients connect: the built-in balancer, or the
// proxy in its place.
func (r *run) frontDoor() string {
	if p := r.lab.Proxy; p != nil {
		return p.URL()
	}
	return r.lab.Balancer.URL()
}

// genOf is ", generation N" for a client connected through the built-in
// balancer, which tells each tunnel's config generation; nothing through a
// proxy (the lab counts the configs it gave it, not which one a
// connection runs under) or straight to a node.
func (r *run) genOf(p *player) string {
	if p.via != "balancer" || r.lab.Proxy != nil {
		return ""
	}
	return fmt.Sprintf(", generation %d", p.gen)
}

// generation is the front door's config generation.
func (r *run) generation() uint64 {
	if p := r.lab.Proxy; p != nil {
		return p.Generation()
	}
	return r.lab.Balancer.Generation()
}
