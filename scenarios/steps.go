package scenarios

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer"
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
	if p, ok := r.players[a.Client]; ok && p.c != nil {
		select {
		case <-p.c.Done():
			p.stopHeartbeat()
		default:
			return fmt.Errorf("client %q is still connected; disconnect it first", a.Client)
		}
	}
	via := a.Via
	if via == "" {
		via = "balancer"
	}
	url := ""
	if via == "balancer" {
		url = r.lab.Balancer.URL()
	} else if n := r.lab.Node(via); n != nil {
		url = n.URL()
	} else {
		return fmt.Errorf("via %q: no such node (use balancer or a node name)", via)
	}
	tr := client.SocketIO
	if a.Transport == "ws" {
		tr = client.JSON
	}
	from := r.logLen()
	dctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	c, err := client.Dial(dctx, client.Options{URL: url, Transport: tr})
	if err != nil {
		return fmt.Errorf("connect %s via %s: %w", a.Client, via, err)
	}
	p := &player{name: a.Client, c: c, via: via, node: c.Node(), seenFrom: from}
	source := "balancer"
	if via != "balancer" {
		source = via
	}
	// Which tunnel (or session) is this client's? The one opened from its
	// address.
	err = r.expect(ctx, "the connection is registered", func() (bool, string) {
		e, ok := r.findEvent(from, func(e events.Event) bool {
			return e.Kind == events.ConnOpened && e.Source == source && e.Client == c.LocalAddr
		})
		p.conn, p.gen = e.Conn, e.Generation
		return ok, "no conn.opened event from " + c.LocalAddr
	})
	if err == nil { // all of the greeting has crossed every hop
		err = r.expect(ctx, "the welcome message", func() (bool, string) { return c.Pending() >= 2, fmt.Sprintf("%d events", c.Pending()) })
	}
	if err != nil {
		c.CloseNow()
		return err
	}
	if _, seen := r.players[a.Client]; !seen {
		r.order = append(r.order, a.Client)
	}
	r.players[a.Client] = p
	detail := string(tr)
	if a.Heartbeat > 0 {
		detail += ", heartbeat " + time.Duration(a.Heartbeat).String()
		bctx, stop := context.WithCancel(context.Background())
		p.stopBeat = stop
		p.beat = r.clk.TickerFunc(bctx, time.Duration(a.Heartbeat), func() error {
			pctx, cancel := context.WithTimeout(bctx, settle)
			defer cancel()
			c.Ping(pctx) // returns once the pong is back: both ways stamped now
			return nil
		}, "scenario", "heartbeat")
	}
	gen := ""
	if via == "balancer" {
		gen = fmt.Sprintf(", generation %d", p.gen)
	}
	r.say("connect %s via %s (%s) → %s%s", a.Client, via, detail, p.node, gen)
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
	return r.takeMessage(ctx, p, "Your username is set to "+a.Name, false)
}

// send emits a message and waits until the sender got its answer (the
// broadcast, or a warning), so the bytes have crossed before time moves.
func (r *run) send(ctx context.Context, a SendArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	before := p.c.Pending()
	r.say("%s sends %q", a.Client, a.Text)
	if err := p.c.Emit(ctx, "message", a.Text); err != nil {
		return fmt.Errorf("%s: %w", a.Client, err)
	}
	return r.expect(ctx, a.Client+" gets an answer to its message", func() (bool, string) {
		return p.c.Pending() > before, "nothing came back"
	})
}

func (r *run) disconnect(ctx context.Context, a DisconnectArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	p.stopHeartbeat()
	how := "leaves"
	if a.Abrupt {
		how = "drops its connection"
		p.c.CloseNow()
	} else {
		p.c.Close()
	}
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
		}
	}
}

func (r *run) expectMessage(ctx context.Context, a ExpectMessageArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	if a.Within > 0 {
		if err := r.advance(ctx, time.Duration(a.Within)); err != nil {
			return err
		}
	}
	return r.takeMessage(ctx, p, a.Text, true)
}

func (r *run) expectOpen(ctx context.Context, a ExpectOpenArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
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

func (r *run) expectClosed(ctx context.Context, a ExpectClosedArgs) error {
	p, err := r.player(a.Client)
	if err != nil {
		return err
	}
	var reason string
	err = r.check(ctx, fmt.Sprintf("%s closed (%s)", a.Client, a.Reason), func() (bool, string) {
		var ok bool
		reason, ok = r.closeReason(p)
		if !ok {
			return false, "still open"
		}
		return a.Reason == "" || balancer.ReasonMatches(reason, a.Reason), "closed for another reason: " + reason
	})
	if err != nil {
		return err
	}
	if err := r.check(ctx, a.Client+" sees its connection end", func() (bool, string) {
		select {
		case <-p.c.Done():
			return true, ""
		default:
			return false, "the client's socket is still open"
		}
	}); err != nil {
		return err
	}
	p.stopHeartbeat()
	by := "balancer"
	if p.via != "balancer" {
		by = p.via
	}
	r.say("%s closed %s (%s)", by, a.Client, reason)
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
	err := r.check(ctx, "event "+describe(a), func() (bool, string) {
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
func (r *run) reloadStep(cfg balancer.Config) error {
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
	r.say("reload was rejected: %d problems", len(balancer.Problems(r.reload)))
	return nil
}

func (r *run) fault(ctx context.Context, kind, name string, d time.Duration) error {
	n := r.lab.Node(name)
	if n == nil {
		return fmt.Errorf("%s: no node %q", kind, name)
	}
	var err error
	switch kind {
	case "kill":
		err = n.Kill()
	case "stop":
		err = n.Stop(ctx)
	case "hang":
		r.hung[name] = true
		err = n.Hang()
	case "slow":
		err = n.Slow(d)
	case "start":
		delete(r.hung, name)
		err = n.Start()
	case "restart":
		delete(r.hung, name)
		err = n.Restart(ctx)
	}
	if kind == "slow" {
		r.say("slow %s by %s", name, d)
	} else {
		r.say("%s %s", kind, name)
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
