package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wslab/wslab/node/client"
)

// joinTimeout bounds one connection attempt: handshake, Socket.IO connect
// and the server's confirmation of the username.
const joinTimeout = 10 * time.Second

// chatRun is one chat-mode run: users that connect, speak, listen and
// reconnect as the tutorial's page does, and the ledger they write to.
type chatRun struct {
	cfg    Config
	st     *stats
	led    *ledger
	base   string    // http(s):// of the target
	prefix string    // of every username of this run: "load-1a2b-"
	t0     time.Time // latencies are measured from here
	// speak is closed when every user made its first attempt: the send
	// phase starts.
	speak chan struct{}
	// sending ends when the send phase is over.
	sending context.Context
	// sendMu is read-held by a speaker from its check of sending until its
	// message is in the ledger; the run takes it once sending has ended, so
	// no message is sent after the settle began counting.
	sendMu sync.RWMutex
	// unacked counts messages not acknowledged yet (Retry).
	unacked atomic.Int64
}

// runChat connects Socket.IO users through the balancer; each speaks every
// Interval during Duration, every user measures how long each message took
// to reach it, and users whose connection ends come back with backoff and
// jitter. After the send phase the run waits (up to Settle) for users
// still away and messages still in flight, then accounts for every message.
func runChat(ctx context.Context, cfg Config, st *stats) (Report, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	r := &chatRun{
		cfg:    cfg,
		st:     st,
		led:    &ledger{users: make([]userLog, cfg.Conns), acks: cfg.Retry},
		base:   strings.Replace(strings.Replace(cfg.URL, "wss://", "https://", 1), "ws://", "http://", 1),
		prefix: fmt.Sprintf("load-%04x-", rng.IntN(1<<16)),
		t0:     time.Now(),
		speak:  make(chan struct{}),
	}
	liveCtx, stopUsers := context.WithCancel(ctx)
	defer stopUsers()
	sending, stopSending := context.WithCancel(liveCtx)
	defer stopSending()
	r.sending = sending

	users := make([]*chatUser, cfg.Conns)
	ramp := make(chan struct{}, cfg.Ramp)
	var first, all sync.WaitGroup
	start := time.Now()
	for i := range users {
		u := &chatUser{run: r, i: i, name: r.prefix + strconv.Itoa(i), rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))}
		users[i] = u
		first.Add(1)
		all.Add(1)
		go func() { defer all.Done(); u.live(liveCtx, ramp, first.Done) }()
	}
	first.Wait()
	rep := Report{HandshakesPerSec: float64(cfg.Conns) / time.Since(start).Seconds(), Handshakes: st.open.Load()}
	t0 := time.Now()
	close(r.speak)
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Duration):
	}
	stopSending()
	r.sendMu.Lock() // a barrier: every speaker is past its last send
	r.sendMu.Unlock()
	rep.MsgsPerSec = float64(st.messages.Load()) / time.Since(t0).Seconds()
	r.settle(ctx)
	spread := map[string]int{}
	for _, u := range users {
		if n := u.currentNode(); n != "" {
			spread[n]++
		}
	}
	stopUsers()
	all.Wait()
	st.backends = spread
	d := r.led.account()
	rep.Chat = &d
	for _, u := range users {
		st.addLatencies(u.lat)
	}
	return rep, nil
}

// settle waits until every user is in the room and has the last message
// of every sender that was due at it, or until cfg.Settle.
func (r *chatRun) settle(ctx context.Context) {
	deadline := time.NewTimer(r.cfg.Settle)
	defer deadline.Stop()
	poll := time.NewTicker(25 * time.Millisecond)
	defer poll.Stop()
	for r.st.open.Load() < int64(r.cfg.Conns) || r.led.outstanding() > 0 || r.unacked.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-poll.C:
		}
	}
}

// chatUser is one simulated page.
type chatUser struct {
	run  *chatRun
	i    int
	name string
	rng  *rand.Rand // backoff jitter; used by live's goroutine only
	seq  int        // last sequence number sent; by the speaker only
	// dropped: a session of this user ended early; by live's goroutine.
	dropped bool
	lat     []time.Duration

	// mu guards node and pending.
	mu   sync.Mutex
	node string // the node serving the user now, "" while away
	// pending are the messages sent and not acknowledged yet (Retry), in
	// order.
	pending []pendingMsg

	// The session a server may recover (connection state recovery): what
	// the last connection was given; live's goroutine only.
	pid, offset string
}

type pendingMsg struct {
	seq  int
	text string
	at   time.Time
}

// live connects and reconnects until ctx ends. The first attempt goes
// through ramp and calls firstDone when made.
func (u *chatUser) live(ctx context.Context, ramp chan struct{}, firstDone func()) {
	ramp <- struct{}{}
	c, err := u.join(ctx)
	<-ramp
	firstDone()
	attempt := 0
	for {
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			u.run.st.fail(err)
			if !wait(ctx, u.backoff(attempt)) {
				return
			}
			attempt++
			c, err = u.join(ctx)
			continue
		}
		u.session(ctx, c)
		if ctx.Err() != nil {
			return
		}
		attempt = 0
		if !wait(ctx, u.backoff(attempt)) {
			return
		}
		attempt++
		c, err = u.join(ctx)
	}
}

// backoff is socket.io-client's reconnection delay: ReconnectMin doubled
// per failed attempt up to ReconnectMax, then spread by ±50 % jitter so the
// users of a killed node do not all return in the same instant.
func (u *chatUser) backoff(attempt int) time.Duration {
	d := u.run.cfg.ReconnectMin << min(attempt, 30)
	if d <= 0 || d > u.run.cfg.ReconnectMax {
		d = u.run.cfg.ReconnectMax
	}
	return time.Duration(float64(d) * (0.5 + u.rng.Float64()))
}

func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// clientTransport is the chat client's name for each transport.
var clientTransport = map[Transport]client.Transport{WebSocket: client.SocketIO, Polling: client.Polling, Default: client.Upgrade}

var errUsernameRefused = errors.New("username refused")

// join connects and sets the username; the user is in the room once the
// server confirms it.
func (u *chatUser) join(ctx context.Context) (*client.Client, error) {
	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	opts := client.Options{URL: u.run.base, Transport: clientTransport[u.run.cfg.Transport]}
	if u.pid != "" {
		opts.Resume = &client.Resume{PID: u.pid, Offset: u.offset}
	}
	c, err := client.Dial(jctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if c.Recovered() { // still in the room, with its name: nothing to set
		u.run.led.resumed(u.i, time.Now())
		u.run.st.open.Add(1)
		u.run.st.reconnects.Add(1)
		u.setNode(c.Node())
		if err := u.resend(jctx, c); err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("resend: %w", err)
		}
		return c, nil
	}
	if err := c.Emit(jctx, "set_username", u.name); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("set username: %w", err)
	}
	want := "Your username is set to " + u.name
	for {
		text, err := c.NextMessage(jctx)
		if err != nil {
			c.CloseNow()
			return nil, fmt.Errorf("wait for %q: %w", want, err)
		}
		if text == want {
			break
		}
		if strings.HasPrefix(text, "Failed to set the username") {
			c.CloseNow()
			return nil, fmt.Errorf("%w: %s", errUsernameRefused, text)
		}
		u.heard(text)
	}
	u.run.led.joined(u.i, time.Now())
	u.run.st.open.Add(1)
	if u.dropped {
		u.run.st.reconnects.Add(1)
	}
	u.setNode(c.Node())
	if err := u.resend(jctx, c); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("resend: %w", err)
	}
	return c, nil
}

// resend sends again, in order, what was not acknowledged (Retry).
func (u *chatUser) resend(ctx context.Context, c *client.Client) error {
	u.mu.Lock()
	again := slices.Clone(u.pending)
	u.mu.Unlock()
	for _, m := range again {
		if err := c.EmitID(ctx, "message", m.text, strconv.Itoa(m.seq)); err != nil {
			return err
		}
		u.run.led.sent(u.i, m.seq, m.at, true)
	}
	return nil
}

// acked takes an acknowledged message off pending.
func (u *chatUser) acked(id string) {
	seq, err := strconv.Atoi(id)
	if err != nil {
		return
	}
	u.mu.Lock()
	i := slices.IndexFunc(u.pending, func(m pendingMsg) bool { return m.seq == seq })
	if i >= 0 {
		u.pending = slices.Delete(u.pending, i, i+1)
	}
	u.mu.Unlock()
	if i >= 0 {
		u.run.unacked.Add(-1)
		u.run.led.acked(u.i, seq)
	}
}

func (u *chatUser) setNode(n string) {
	u.mu.Lock()
	u.node = n
	u.mu.Unlock()
}

func (u *chatUser) currentNode() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.node
}

// session speaks and listens on one connection until it ends or ctx does.
// An end before ctx's is a drop.
func (u *chatUser) session(ctx context.Context, c *client.Client) {
	sctx, cancel := context.WithCancel(ctx)
	spoke := make(chan struct{})
	go func() { defer close(spoke); u.speak(sctx, c) }()
	for {
		ev, err := c.Next(ctx)
		if err != nil {
			break
		}
		switch ev.Name {
		case "message":
			u.heard(ev.Text)
		case "ack":
			u.acked(ev.Text)
		}
	}
	ended := time.Now()
	u.pid, u.offset = c.PID(), c.Offset()
	cancel()
	<-spoke
	c.CloseNow()
	if ctx.Err() != nil {
		return // the run closed it: the user stays counted in the room
	}
	u.setNode("")
	u.run.st.open.Add(-1)
	u.run.led.dropped(u.i, ended)
	u.run.st.drops.Add(1)
	u.dropped = true
}

// speak sends "#SEQ @NS" (NS: send time since the run's start; padded to
// Size) every Interval of the send phase, phase-shifted per user.
func (u *chatUser) speak(ctx context.Context, c *client.Client) {
	r := u.run
	select {
	case <-ctx.Done():
		return
	case <-r.speak:
	}
	every := r.cfg.Interval
	if !wait(ctx, every*time.Duration(u.i%1000)/1000) {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := u.say(ctx, c); err != nil {
			return // the send phase is over, or the listener sees the connection end
		}
		select {
		case <-ctx.Done():
			return
		case <-r.sending.Done():
			return
		case <-tick.C:
		}
	}
}

var errSendingOver = errors.New("send phase over")

// say sends the user's next message and records it.
func (u *chatUser) say(ctx context.Context, c *client.Client) error {
	r := u.run
	r.sendMu.RLock()
	defer r.sendMu.RUnlock()
	if r.sending.Err() != nil {
		return errSendingOver
	}
	u.seq++
	now := time.Now()
	text := "#" + strconv.Itoa(u.seq) + " @" + strconv.FormatInt(int64(now.Sub(r.t0)), 10)
	if pad := r.cfg.Size - len(text) - 1; pad > 0 {
		text += " " + strings.Repeat(".", pad)
	}
	// A write stuck that long (a wedged server) ends the connection: the
	// run must not wait on it.
	ectx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	if !r.cfg.Retry {
		err := c.Emit(ectx, "message", text)
		r.led.sent(u.i, u.seq, now, err == nil)
		return err
	}
	u.mu.Lock()
	u.pending = append(u.pending, pendingMsg{seq: u.seq, text: text, at: now})
	u.mu.Unlock()
	r.unacked.Add(1)
	err := c.EmitID(ectx, "message", text, strconv.Itoa(u.seq))
	r.led.sent(u.i, u.seq, now, err == nil) // if not, resent after the reconnect
	return err
}

// heard counts a chat line of this run: "NAME: #SEQ @NS ...".
func (u *chatUser) heard(text string) {
	name, body, ok := strings.Cut(text, ": #")
	if !ok {
		return
	}
	idx, ok := strings.CutPrefix(name, u.run.prefix)
	if !ok {
		return
	}
	s, err := strconv.Atoi(idx)
	if err != nil {
		return
	}
	seqText, rest, _ := strings.Cut(body, " @")
	seq, err := strconv.Atoi(seqText)
	if err != nil || !u.run.led.received(u.i, s, seq) {
		return
	}
	u.run.st.messages.Add(1)
	nsText, _, _ := strings.Cut(rest, " ")
	if ns, err := strconv.ParseInt(nsText, 10, 64); err == nil {
		u.lat = append(u.lat, time.Since(u.run.t0)-time.Duration(ns))
	}
}
