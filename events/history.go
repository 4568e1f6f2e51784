package events

import "time"

// History is how many of the latest events a bus keeps for people who
// arrive late (the dashboard on load, lab ctl events --last). At about
// 300 bytes an event it costs a few MB, and covers minutes of a busy lab
// (a connection costs two events).
const History = 10000

// Query picks events from a bus's history. Zero fields pick everything
// kept.
type Query struct {
	After uint64    // only events with a larger Seq (an SSE Last-Event-ID)
	Since time.Time // only events stamped at or after this
	Last  int       // at most this many, the newest
	Quiet bool      // leave out the routine events (Event.Routine); Last counts the others
}

// ring keeps the latest History events, oldest first from next.
type ring struct {
	buf  []Event
	next int
}

func (r *ring) add(e Event) {
	if len(r.buf) < History {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.next] = e
	r.next = (r.next + 1) % History
}

// pick returns the kept events that match q, oldest first.
func (r *ring) pick(q Query) []Event {
	var out []Event
	n := len(r.buf)
	for i := range n {
		e := r.buf[(r.next+i)%n]
		if e.Seq > q.After && !e.Time.Before(q.Since) && !(q.Quiet && e.Routine()) {
			out = append(out, e)
		}
	}
	if q.Last > 0 && len(out) > q.Last {
		out = out[len(out)-q.Last:]
	}
	return out
}

// Recent returns the kept events that match q, oldest first.
func (b *Bus) Recent(q Query) []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.history.pick(q)
}

// SubscribeAfter returns the kept events that match q and a subscription
// to every event published after them, with nothing missed or repeated in
// between.
func (b *Bus) SubscribeAfter(size int, q Query) ([]Event, *Subscription) {
	s := &Subscription{bus: b, c: make(chan Event, max(size, 1))}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[s] = struct{}{}
	return b.history.pick(q), s
}
