// What each scenario client went through, as the run's last lines say it:
// closes and codes, time disconnected, reconnects, messages lost or
// duplicated.

package scenarios

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ClientSummary is what one scenario client went through: the client
// experience, whatever balancer or app is under test.
type ClientSummary struct {
	Client   string `json:"client"`
	Protocol string `json:"protocol"` // chat, chat_ws, socketio or ws
	// Closes are the ends of its connections it did not ask for, with the
	// close code it saw (1006: no close frame).
	Closes       []ClientClose `json:"closes"`
	Left         int           `json:"left"`                    // closes it asked for (disconnect steps)
	Disconnected time.Duration `json:"disconnected_ns"`         // from an unasked close to the next connection, or the end
	Attempts     int           `json:"reconnect_attempts"`      // reconnect attempts, failed ones included
	Reconnects   int           `json:"reconnects"`              // attempts that connected
	Lost         int           `json:"messages_lost"`           // chat messages sent while it was in the room that it never received
	Duplicated   int           `json:"messages_duplicated"`     // chat messages it received more than once
	Missed       int           `json:"messages_missed_offline"` // chat messages sent while it was disconnected
	// Received counts what a socketio or ws client received: events, or
	// frames (a chat client's are counted by the fields above).
	Received int `json:"messages_received"`
	// ConnectFailures are connect steps that failed as expected
	// (expect_error): the client never got in.
	ConnectFailures int `json:"connect_failures,omitempty"`
}

// ClientClose is one close a client saw.
type ClientClose struct {
	At     time.Duration `json:"at_ns"`
	Code   int           `json:"code"`
	Reason string        `json:"reason,omitempty"` // the balancer's (or node's) reason
}

// sent is one chat message a client sent, when it was sent.
type sent struct {
	text string // as everyone receives it: "NAME: TEXT"
	seq  int
}

// summarize ends a run with the client experience: it lets what is in
// flight land, then counts per client.
func (r *run) summarize(ctx context.Context) []ClientSummary {
	if len(r.order) == 0 {
		return nil
	}
	r.observe(ctx)
	broadcast := func(text string) bool {
		for _, p := range r.players {
			if p.received[text] > 0 {
				return true
			}
		}
		return false
	}
	// A message was broadcast if anyone got it: its sender has it by the
	// end of its send step (the send waits for the answer), so nothing
	// else is waited for.
	missing := func() (bool, string) {
		for _, name := range r.order {
			r.players[name].pull()
		}
		for _, name := range r.order {
			p := r.players[name]
			for _, s := range r.sent {
				if p.inRoom(s.seq) && p.received[s.text] == 0 && broadcast(s.text) {
					return false, fmt.Sprintf("%s has not received %q", name, s.text)
				}
			}
		}
		return true, ""
	}
	if len(r.sent) > 0 {
		r.check(ctx, "every chat message arrives", missing) // what is still missing is lost
	}
	var out []ClientSummary
	end := r.now()
	for _, name := range r.order {
		p := r.players[name]
		s := ClientSummary{Client: name, Protocol: p.protocol, Disconnected: p.disconnected, Attempts: p.attempts, Reconnects: p.reconnects,
			Received: p.arrived, ConnectFailures: p.failures}
		if p.down >= 0 {
			s.Disconnected += end - p.down
		}
		for _, c := range p.closes {
			if c.planned {
				s.Left++
				continue
			}
			reason, _ := r.reasonOf(c)
			s.Closes = append(s.Closes, ClientClose{At: c.at, Code: c.code, Reason: reason})
		}
		if !p.chat() || len(p.joined) == 0 { // chat messages are not its business, or it never got in
			out = append(out, s)
			continue
		}
		expected, total := map[string]int{}, map[string]int{}
		for _, m := range r.sent {
			if !broadcast(m.text) {
				continue // refused (no username, no Redis): nobody got it
			}
			total[m.text]++
			switch {
			case p.inRoom(m.seq):
				expected[m.text]++
			case m.seq > p.joined[0][0]: // said before it ever came is not missed
				s.Missed++
			}
		}
		for text, n := range expected {
			s.Lost += max(0, n-p.received[text])
		}
		for text, n := range p.received {
			if t, ok := total[text]; ok {
				s.Duplicated += max(0, n-t)
			}
		}
		out = append(out, s)
	}
	return out
}

// inRoom reports whether p was connected when the message numbered seq
// was sent.
func (p *player) inRoom(seq int) bool {
	for _, j := range p.joined {
		if j[0] < seq && seq < j[1] {
			return true
		}
	}
	return false
}

// String is the summary's transcript line.
func (s ClientSummary) String() string {
	var closes []string
	for _, c := range s.Closes {
		// The lab's reason is in Reason (and --json); the line says what
		// the client saw.
		closes = append(closes, fmt.Sprintf("%d at %s", c.Code, stamp(c.At)))
	}
	cs := "none"
	if len(closes) > 0 {
		cs = strings.Join(closes, ", ")
	}
	line := fmt.Sprintf("%s: closes %s; disconnected %.3fs; reconnect attempts %d", s.Client, cs, s.Disconnected.Seconds(), s.Attempts)
	if s.Attempts > 0 {
		line += fmt.Sprintf(" (%d connected)", s.Reconnects)
	}
	if s.Protocol == protoSocketIO || s.Protocol == protoWS {
		line += fmt.Sprintf("; messages received %d", s.Received)
	} else {
		line += fmt.Sprintf("; messages lost %d, duplicated %d", s.Lost, s.Duplicated)
	}
	if s.Missed > 0 {
		line += fmt.Sprintf(", missed while disconnected %d", s.Missed)
	}
	if s.ConnectFailures > 0 {
		line += fmt.Sprintf("; connects failed %d", s.ConnectFailures)
	}
	if s.Left > 0 {
		line += fmt.Sprintf("; left on purpose %d", s.Left)
	}
	return line
}
