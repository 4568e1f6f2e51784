package load

import (
	"slices"
	"sync"
	"time"
)

// ledger is chat mode's bookkeeping: when each user was in the room, what
// each sent, what each received. Loss, duplicates and the reconnect figures
// are computed from it at the end of a run; every time in it comes from the
// same clock.
//
// The rules (also in the README):
//   - A user is in the room from the moment it saw the server confirm its
//     username ("Your username is set to NAME") until the moment it saw its
//     connection end. Before the confirmation it may receive, but nothing is
//     expected of it; the window closes at the end the client saw, not at the
//     server's, so a message fanned out to a connection that had just died
//     counts as lost to it — the user never saw it.
//   - A message is sent when its Emit is made on an open connection; it is
//     due at every user (its sender included, as the tutorial's chat echoes
//     to everyone) that was in the room at the moment of sending.
//   - Delivered: due and received at least once, in any session (a server
//     that replays missed messages after a reconnect gets the credit). Lost:
//     due and never received by the end of the run's settle time.
//     Duplicated: every receipt of a (sender, sequence) beyond the first, at
//     any user. Missed while away: not due, but sent while a user that had
//     dropped was not yet back, and never received — without recovery the
//     chat's loss at a node kill is here, not in Lost.
//
// With acknowledgements (Config.Retry), a message counts as sent once a
// server acknowledged it: only acknowledged messages are due anywhere, and
// a user whose session a server recovered (connection state recovery)
// never left the room.
type ledger struct {
	// mu guards users.
	mu    sync.Mutex
	users []userLog
	acks  bool // only acknowledged messages are due
}

type userLog struct {
	sessions []span     // in the room; the last one may be open (to zero)
	sent     []sentMsg  // by sequence number - 1
	got      [][]uint16 // got[sender][seq-1]: receipts here
	drops    []time.Time
	resumes  []time.Time // returns to a recovered session
}

type span struct{ from, to time.Time }

type sentMsg struct {
	at    time.Time
	ok    bool // the Emit succeeded
	acked bool // a server acknowledged it
}

// counts reports whether m is due anywhere: emitted, and acknowledged
// when the run asks for acknowledgements.
func (l *ledger) counts(m sentMsg) bool { return m.ok && (!l.acks || m.acked) }

// resumed records that user u came back to its recovered session at t:
// it is in the room again as if it had never left.
func (l *ledger) resumed(u int, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ul := &l.users[u]
	ul.sessions[len(ul.sessions)-1].to = time.Time{}
	ul.resumes = append(ul.resumes, t)
}

// acked records that user u's message seq was acknowledged.
func (l *ledger) acked(u, seq int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq < 1 || seq > 1<<24 {
		return
	}
	// The ack can overtake the speaker's record of the send: keep it for
	// sent to find.
	ul := &l.users[u]
	for len(ul.sent) < seq {
		ul.sent = append(ul.sent, sentMsg{})
	}
	ul.sent[seq-1].acked = true
}

func newLedger(users int) *ledger {
	return &ledger{users: make([]userLog, users)}
}

// joined marks user u in the room from t.
func (l *ledger) joined(u int, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users[u].sessions = append(l.users[u].sessions, span{from: t})
}

// dropped marks user u, in the room, out of it from t: its connection
// ended.
func (l *ledger) dropped(u int, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ul := &l.users[u]
	ul.sessions[len(ul.sessions)-1].to = t
	ul.drops = append(ul.drops, t)
}

// sent records that user u sent sequence number seq (from 1, in order) at
// t; ok says whether the Emit succeeded.
func (l *ledger) sent(u, seq int, t time.Time, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ul := &l.users[u]
	for len(ul.sent) < seq {
		ul.sent = append(ul.sent, sentMsg{})
	}
	if ul.sent[seq-1].ok {
		return // a retry: the first try's time is when it was sent
	}
	ul.sent[seq-1] = sentMsg{at: t, ok: ok, acked: ul.sent[seq-1].acked}
}

// received records that user u received sequence number seq of sender s.
// It reports false for a sender or number the run never used.
func (l *ledger) received(u, s, seq int) bool {
	if s < 0 || s >= len(l.users) || seq < 1 || seq > 1<<24 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.users[u].got == nil { // a user that hears nothing costs nothing
		l.users[u].got = make([][]uint16, len(l.users))
	}
	g := l.users[u].got[s]
	for len(g) < seq {
		g = append(g, 0)
	}
	if g[seq-1] < 1<<16-1 {
		g[seq-1]++
	}
	l.users[u].got[s] = g
	return true
}

// outstanding counts the users still missing the last message of a
// sender that was due at them. A chat server delivers each sender's
// messages to a user in order, so the last one arriving means the earlier
// ones arrived or never will.
func (l *ledger) outstanding() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for s, su := range l.users {
		i := len(su.sent) - 1
		for i >= 0 && !l.counts(su.sent[i]) {
			i--
		}
		if i < 0 {
			continue
		}
		for r := range l.users {
			if inRoom(l.users[r].sessions, su.sent[i].at) && l.receipts(r, s, i) == 0 {
				n++
			}
		}
	}
	return n
}

// inRoom reports whether t falls in one of the sessions.
func inRoom(sessions []span, t time.Time) bool {
	for _, s := range sessions {
		if !t.Before(s.from) && (s.to.IsZero() || t.Before(s.to)) {
			return true
		}
	}
	return false
}

// away reports whether a user with these sessions had left the room by
// t (a session of it had ended) and was not in it at t.
func away(sessions []span, t time.Time) bool {
	for _, s := range sessions {
		if !s.to.IsZero() && !t.Before(s.to) {
			return !inRoom(sessions, t)
		}
	}
	return false
}

// Delivery is chat mode's account of messages and connections.
type Delivery struct {
	Sent int64 `json:"sent"` // messages sent
	// Acknowledged: messages a server acknowledged (with --retry; only
	// they are due then).
	Acknowledged int64 `json:"acknowledged,omitempty"`
	Due          int64 `json:"due"`        // (message, recipient) pairs that should arrive
	Delivered    int64 `json:"delivered"`  // due pairs received at least once
	Lost         int64 `json:"lost"`       // due pairs never received
	Duplicated   int64 `json:"duplicated"` // receipts beyond the first of a (sender, sequence)
	// MissedAway: (message, recipient) pairs sent while the recipient was
	// away after a drop (not yet back in the room) and never received —
	// what connection state recovery gives back, and pub/sub does not.
	MissedAway int64 `json:"missed_away"`
	Drops      int64 `json:"drops"`      // connections that ended while in the room
	Reconnects int64 `json:"reconnects"` // sessions joined after a drop
	// PeakReconnectRate is the most reconnects within any one second.
	PeakReconnectRate int64 `json:"peak_reconnects_per_sec"`
	// Back95 is the time from the first drop until 95 % of the users that
	// dropped were back in the room; -1 if they never were.
	Back95 time.Duration `json:"back95_ns"`
}

// account computes the figures of a finished run.
func (l *ledger) account() Delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	var d Delivery
	for s, su := range l.users {
		for i, m := range su.sent {
			if !m.ok {
				continue
			}
			d.Sent++
			if m.acked {
				d.Acknowledged++
			}
			if !l.counts(m) {
				continue
			}
			for r := range l.users {
				got := l.receipts(r, s, i)
				switch sessions := l.users[r].sessions; {
				case inRoom(sessions, m.at):
					d.Due++
					if got > 0 {
						d.Delivered++
					} else {
						d.Lost++
					}
				case got == 0 && away(sessions, m.at):
					d.MissedAway++
				}
			}
		}
	}
	for r := range l.users {
		for _, g := range l.users[r].got {
			for _, c := range g {
				d.Duplicated += int64(max(c, 1) - 1)
			}
		}
	}
	l.reconnects(&d)
	return d
}

// receipts is how many times user r received message i of sender s.
func (l *ledger) receipts(r, s, i int) uint16 {
	got := l.users[r].got
	if got == nil || i >= len(got[s]) {
		return 0
	}
	return got[s][i]
}

// reconnects fills the reconnect figures. A reconnect is a session that
// began after a drop of the same user. Back95 counts each user that
// dropped once: its first return after its first drop.
func (l *ledger) reconnects(d *Delivery) {
	var backs, firstBacks []time.Time
	var firstDrop time.Time
	dropped := 0
	for _, u := range l.users {
		d.Drops += int64(len(u.drops))
		if len(u.drops) == 0 {
			continue
		}
		dropped++
		if firstDrop.IsZero() || u.drops[0].Before(firstDrop) {
			firstDrop = u.drops[0]
		}
		var returns []time.Time
		for _, s := range u.sessions {
			if s.from.After(u.drops[0]) {
				returns = append(returns, s.from)
			}
		}
		for _, t := range u.resumes {
			if t.After(u.drops[0]) {
				returns = append(returns, t)
			}
		}
		slices.SortFunc(returns, func(a, b time.Time) int { return a.Compare(b) })
		backs = append(backs, returns...)
		if len(returns) > 0 {
			firstBacks = append(firstBacks, returns[0])
		}
	}
	d.Reconnects = int64(len(backs))
	d.PeakReconnectRate = peakPerSecond(backs)
	d.Back95 = -1
	if dropped == 0 {
		d.Back95 = 0
		return
	}
	need := (dropped*95 + 99) / 100 // ceil(95 %)
	if len(firstBacks) >= need {
		slices.SortFunc(firstBacks, func(a, b time.Time) int { return a.Compare(b) })
		d.Back95 = firstBacks[need-1].Sub(firstDrop)
	}
}

// peakPerSecond is the largest number of times within any window of one
// second (from an event, inclusive, to one second later, exclusive).
func peakPerSecond(ts []time.Time) int64 {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		best = max(best, i-j+1)
	}
	return int64(best)
}
