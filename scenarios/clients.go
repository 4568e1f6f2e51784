package scenarios

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node/client"
)

// Reconnection as socket.io-client's Manager does it by default:
// reconnectionDelay 1 s, doubling per attempt up to reconnectionDelayMax
// 5 s, randomizationFactor 0.5 — here drawn from the scenario's seed and
// the client's name, on the virtual clock, so a run repeats exactly.
const (
	reconnectDelay    = time.Second
	reconnectDelayMax = 5 * time.Second
	reconnectJitter   = 0.5
)

// backoff is the delay before reconnect attempt n (0-based), as
// socket.io-client's Backoff.duration computes it.
func (p *player) backoff() time.Duration {
	ms := float64(reconnectDelay.Milliseconds()) * math.Pow(2, float64(p.attempt))
	p.attempt++
	r := p.rng.Float64()
	dev := math.Floor(r * reconnectJitter * ms)
	if int(math.Floor(r*10))&1 == 0 {
		ms -= dev
	} else {
		ms += dev
	}
	return time.Duration(min(ms, float64(reconnectDelayMax.Milliseconds()))) * time.Millisecond
}

func clientRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// closeRecord is one end of a client's connection, as the client saw it.
type closeRecord struct {
	at      time.Duration // virtual time it was noticed
	code    int           // the close code a browser would report: 1006 without a close frame
	via     string        // balancer or a node name
	conn    string        // the tunnel or session that closed, for its reason; "" if the lab cannot see it
	src     string        // who reported conn: balancer or the node
	planned bool          // the scenario's own disconnect step
}

// clientCode is the close code a browser reports for a connection's end:
// the close frame's code, 1005 for a frame without one, 1006 when the
// connection dropped without a close frame.
func clientCode(err error) int {
	code := websocket.CloseStatus(err)
	if code == -1 {
		return 1006
	}
	return int(code)
}

// dial opens p's connection (again): the registration of its tunnel or
// session, the welcome, the heartbeat. It is the connect step and every
// reconnect attempt. A reconnect attempt (resume) presents the session of
// the last connection, if the server gave it one (connection state
// recovery); a recovered session gets no welcome and keeps its username,
// and its client counts as in the room while it was away.
func (r *run) dial(ctx context.Context, p *player, resume bool) error {
	resume = resume && p.c != nil && p.c.PID() != ""
	url := ""
	if p.via == "balancer" {
		url = r.lab.ClientURL() // through the client link, when the lab has links
	} else if n := r.lab.Node(p.via); n != nil {
		url = n.URL()
	} else {
		return fmt.Errorf("via %q: no such node (use balancer or a node name)", p.via)
	}
	from := r.logLen()
	dctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	opts := p.clientOptions(url)
	if resume {
		// socket.io-client presents the private id and last offset the
		// server gave (it only gives them with recovery on).
		opts.Resume = &client.Resume{PID: p.c.PID(), Offset: p.c.Offset()}
	}
	c, err := client.Dial(dctx, opts)
	if err != nil {
		return fmt.Errorf("connect %s via %s: %w", p.name, p.via, err)
	}
	// Which tunnel (or session) is this client's? The one opened from its
	// address, or with its session id.
	source, match := r.registration(p, c)
	var conn string
	gen := r.generation()
	if match != nil {
		err = r.expect(ctx, "the connection is registered", func() (bool, string) {
			e, ok := r.findEvent(from, func(e events.Event) bool {
				return e.Kind == events.ConnOpened && e.Source == source && match(e)
			})
			conn = e.Conn
			if source == "balancer" {
				gen = e.Generation
			}
			return ok, "no conn.opened event from " + c.LocalAddr
		})
	}
	if err == nil && p.chat() { // all of the greeting has crossed every hop
		// A new session's greeting is its node and the welcome; a
		// recovered one's is its node (then the lines it missed).
		err = r.expect(ctx, "the welcome message", func() (bool, string) {
			return c.Pending() >= 2 || c.Pending() >= 1 && c.Recovered(), fmt.Sprintf("%d events", c.Pending())
		})
	}
	if err != nil {
		c.CloseNow()
		return err
	}
	if p.c != nil {
		p.pull() // what the last connection had queued
	}
	p.c, p.conn, p.connSrc, p.gen, p.node, p.seenFrom = c, conn, source, gen, c.Node(), from
	p.open, p.recovered = true, c.Recovered()
	r.seq++
	if p.recovered { // never left the room
		p.joined[len(p.joined)-1][1] = math.MaxInt
	} else {
		p.username = ""
		p.joined = append(p.joined, [2]int{r.seq, math.MaxInt})
	}
	if p.down >= 0 { // back after an unplanned close
		p.disconnected += r.now() - p.down
		p.down = -1
	}
	if p.heartbeat > 0 {
		bctx, stop := context.WithCancel(context.Background())
		p.stopBeat = stop
		var clk quartz.Clock = r.clk
		if r.real {
			clk = quartz.NewReal()
		}
		p.beat = clk.TickerFunc(bctx, p.heartbeat, func() error {
			pctx, cancel := context.WithTimeout(bctx, settle)
			defer cancel()
			c.Ping(pctx) // returns once the pong is back: both ways stamped now
			return nil
		}, "scenario", "heartbeat")
	}
	return nil
}

// registration says which event of the lab opened c: the balancer's tunnel
// from c's address for a WebSocket through the balancer, else the session
// on one of the lab's own nodes (by address, or by session id for
// long-polling, whose requests come from many addresses). A node that is
// not the lab's (a command or url node) reports nothing: nil.
func (r *run) registration(p *player, c *client.Client) (string, func(events.Event) bool) {
	if p.via == "balancer" && r.lab.Proxy != nil {
		return "balancer", nil // a proxy publishes no conn.opened: the welcome says it is through
	}
	ws := c.Conn() != nil
	if p.via == "balancer" && ws {
		// Through a client link, the balancer sees the link's address.
		return "balancer", func(e events.Event) bool { return e.Client == r.seenAs(p, c.LocalAddr) }
	}
	name := p.via
	if p.via == "balancer" {
		name = c.Node()
	}
	if n := r.lab.Node(name); n == nil || n.InProcess() == nil {
		return "", nil
	}
	if t := p.clientOptions("").Transport; t == client.Polling || t == client.Upgrade {
		sid := c.SID
		return name, func(e events.Event) bool { return e.Conn == sid }
	}
	return name, func(e events.Event) bool { return e.Client == c.LocalAddr }
}

// connectFails is a connect step that expects its connection to fail
// (expect_error): it passes when dialing failed with that in its error.
func (r *run) connectFails(ctx context.Context, p *player, seen bool, err error) error {
	a := p.args
	want := fmt.Sprintf("connect %s fails with %q", a.Client, a.ExpectError)
	if err == nil {
		p.c.CloseNow()
		r.ended(p, true)
		return &expectError{want: want, observed: "it connected to " + p.node}
	}
	if !strings.Contains(err.Error(), a.ExpectError) {
		return &expectError{want: want, observed: oneLine(err)}
	}
	if !seen {
		r.order = append(r.order, a.Client)
		r.players[a.Client] = p
	}
	p.failures++
	r.say("connect %s via %s (%s) fails: %s", a.Client, p.via, p.describe(), failure(err))
	return nil
}

// failure says why a connection attempt failed, without what changes from
// run to run (addresses, session ids).
func failure(err error) string {
	var se *client.StatusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s answered %s %q", se.Method, se.Status, se.Message())
	case statusRE.MatchString(err.Error()):
		return "HTTP " + statusRE.FindStringSubmatch(err.Error())[1]
	case strings.Contains(err.Error(), "refused"):
		return "connection refused"
	}
	return "connection failed"
}

// ended notes that p's connection ended, as its client saw it; planned is
// the scenario's own disconnect. A client that reconnects schedules its
// first attempt.
func (r *run) ended(p *player, planned bool) {
	if !p.open {
		return
	}
	p.open = false
	p.stopHeartbeat()
	r.seq++
	p.joined[len(p.joined)-1][1] = r.seq
	p.closes = append(p.closes, closeRecord{at: r.now(), code: clientCode(p.c.Err()), via: p.via, conn: p.conn, src: p.connSrc, planned: planned})
	if planned {
		p.retryAt = -1
		return
	}
	p.down = r.now()
	if p.reconnect {
		p.attempt = 0
		p.retryAt = r.now() + p.backoff()
	}
}

// observe notices the connections that ended since the last look. It runs
// between steps and after each timer that virtual time fires, once what
// the lab reported closed has reached its client: a client learns of a
// close at the virtual instant it happened, every run.
func (r *run) observe(ctx context.Context) {
	r.drain()
	for _, name := range r.order {
		p := r.players[name]
		if !p.open {
			continue
		}
		if r.reportedClosed(p) && !r.halfOpen(p) {
			wctx, cancel := context.WithTimeout(ctx, settle)
			select {
			case <-p.c.Done():
			case <-wctx.Done():
			}
			cancel()
		}
		select {
		case <-p.c.Done():
			r.ended(p, false)
		default:
		}
	}
}

// reportedClosed reports whether the lab said p's connection closed: its
// tunnel, its session on a node (matched by the Socket.IO session id), its
// node is down, or the balancer cut one of its long polls.
func (r *run) reportedClosed(p *player) bool {
	if _, ok := r.closeReason(p); ok {
		return true
	}
	if r.pollCut(p) {
		return true
	}
	if n := r.lab.Node(p.node); n != nil && !n.State().Listening && !r.hung[p.node] {
		return true
	}
	sid := p.c.SID
	_, ok := r.findEvent(p.seenFrom, func(e events.Event) bool {
		return sid != "" && e.Kind == events.ConnClosed && e.Conn == sid && e.Source == p.node
	})
	return ok
}

// pollCut reports whether the balancer's idle timeout ended one of p's
// long polls (a request.timeout from one of its connections' addresses).
// The balancer says so at the instant its timer fires; the client hears
// the 504 a moment later, and the node learns that the request is gone
// later still: until the client has seen it, the cut is still landing.
func (r *run) pollCut(p *player) bool {
	if p.via != "balancer" || p.c.Conn() != nil || p.c.EngineSID == "" {
		return false
	}
	addrs := p.c.LocalAddrs()
	_, ok := r.findEvent(p.seenFrom, func(e events.Event) bool {
		return e.Kind == events.RequestTimeout && e.Source == "balancer" &&
			slices.ContainsFunc(addrs, func(a string) bool { return r.seenAs(p, a) == e.Client })
	})
	return ok
}

// awaitNode waits until every open client on node has seen its connection
// end: a kill or stop is over for the clients when its step is.
func (r *run) awaitNode(ctx context.Context, node string) error {
	return r.expect(ctx, "the clients on "+node+" see their connections end", func() (bool, string) {
		for _, name := range r.order {
			p := r.players[name]
			if !p.open || (p.node != node && p.via != node) {
				continue
			}
			select {
			case <-p.c.Done():
			default:
				return false, name + " is still connected"
			}
		}
		return true, ""
	})
}

// nextRetry is the virtual time of the next reconnect attempt, if any.
func (r *run) nextRetry() (time.Duration, bool) {
	next, ok := time.Duration(0), false
	for _, name := range r.order {
		p := r.players[name]
		if !p.open && p.retryAt >= 0 && (!ok || p.retryAt < next) {
			next, ok = p.retryAt, true
		}
	}
	return next, ok
}

var statusRE = regexp.MustCompile(`status code 101 but got (\d{3})`)

// retryDue makes the reconnect attempts that are due, in client order.
func (r *run) retryDue(ctx context.Context) {
	for _, name := range r.order {
		p := r.players[name]
		if p.open || p.retryAt < 0 || p.retryAt > r.now() {
			continue
		}
		p.attempts++
		err := r.dial(ctx, p, true)
		if err == nil {
			p.retryAt = -1
			p.reconnects++
			gen := r.genOf(p)
			if p.recovered {
				gen += ", session recovered"
			} else if p.c.PID() != "" {
				gen += ", new session"
			}
			r.say("%s reconnects via %s (attempt %d) → %s%s", name, p.via, p.attempt, p.node, gen)
			continue
		}
		why := failure(err)
		p.retryAt = r.now() + p.backoff()
		r.say("%s reconnect attempt %d failed (%s); next in %s", name, p.attempt-1, why, (p.retryAt - r.now()).Round(r.grain()))
	}
}

// reasonOf is the reason the lab gave for a close, if it said one.
func (r *run) reasonOf(c closeRecord) (string, bool) {
	e, ok := r.findEvent(0, func(e events.Event) bool {
		return c.conn != "" && e.Kind == events.ConnClosed && e.Conn == c.conn && e.Source == c.src
	})
	return e.Reason, ok
}
