package load

import (
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }

// A scripted run of four users, two of whom drop at 2 s, with the rules
// of the README applied to each message.
func TestLossFollowsTheRoomWindowsOfTheReadme(t *testing.T) {
	l := newLedger(4)
	for u := range 4 {
		l.joined(u, at(0))
	}
	// 1 s: user 0's #1 reaches everyone.
	l.sent(0, 1, at(1000), true)
	for r := range 4 {
		l.received(r, 0, 1)
	}
	// 1.999 s: user 1's #1, due at all four; user 3 drops before it arrives.
	l.sent(1, 1, at(1999), true)
	for r := range 3 {
		l.received(r, 1, 1)
	}
	l.dropped(2, at(2000))
	l.dropped(3, at(2000))
	// 2.2 s: user 0's #2, due at 0 and 1 only; user 2 gets it replayed
	// after coming back, which is neither delivered nor duplicated.
	l.sent(0, 2, at(2200), true)
	l.received(0, 0, 2)
	l.received(1, 0, 2)
	l.joined(2, at(2500))
	l.received(2, 0, 2)
	// 3 s: user 0's #3, due at 0, 1, 2; user 2 gets it twice. User 1's #2
	// failed to send: not counted.
	l.sent(0, 3, at(3000), true)
	l.received(0, 0, 3)
	l.received(1, 0, 3)
	l.received(2, 0, 3)
	l.received(2, 0, 3)
	l.sent(1, 2, at(3000), false)
	l.joined(3, at(4200))

	got := l.account()
	// User 3, away from 2 s to 4.2 s, never got user 0's #2 and #3: missed
	// while away (user 2 got #2 replayed, so it missed nothing).
	want := Delivery{Sent: 4, Due: 4 + 4 + 2 + 3, Delivered: 12, Lost: 1, Duplicated: 1, MissedAway: 2,
		Drops: 2, Reconnects: 2, PeakReconnectRate: 1, Back95: 2200 * time.Millisecond}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestReconnectFiguresOfScriptedOutages(t *testing.T) {
	tests := []struct {
		name      string
		users     int
		drop      int   // ms, every user
		backs     []int // ms, user i's return; missing: never back
		peak      int64
		back95    time.Duration
		reconnect int64
	}{
		{name: "twenty back one every 100 ms", users: 20, drop: 10000,
			backs: steps(10100, 100, 20), peak: 10, back95: 1900 * time.Millisecond, reconnect: 20},
		{name: "all back in one instant", users: 5, drop: 0,
			backs: []int{700, 700, 700, 700, 700}, peak: 5, back95: 700 * time.Millisecond, reconnect: 5},
		{name: "95 % never back", users: 20, drop: 0,
			backs: steps(100, 100, 18), peak: 10, back95: -1, reconnect: 18},
		{name: "nobody dropped", users: 3, drop: -1, peak: 0, back95: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLedger(tt.users)
			for u := range tt.users {
				l.joined(u, at(-1))
				if tt.drop >= 0 {
					l.dropped(u, at(tt.drop))
				}
			}
			for u, b := range tt.backs {
				l.joined(u, at(b))
			}
			d := l.account()
			if d.PeakReconnectRate != tt.peak || d.Back95 != tt.back95 || d.Reconnects != tt.reconnect {
				t.Fatalf("got peak %d/s, back95 %s, %d reconnects; want %d/s, %s, %d",
					d.PeakReconnectRate, d.Back95, d.Reconnects, tt.peak, tt.back95, tt.reconnect)
			}
		})
	}
}

func steps(from, every, n int) []int {
	var s []int
	for i := range n {
		s = append(s, from+i*every)
	}
	return s
}

// An acknowledgement can reach the user's reader before its speaker has
// recorded the message as sent (the server answers as fast as the write
// returns): it still counts.
func TestAnAcknowledgementThatOvertakesTheSendStillCounts(t *testing.T) {
	l := newLedger(1)
	l.acks = true
	l.joined(0, at(0))
	l.acked(0, 1)
	l.sent(0, 1, at(10), true)
	l.received(0, 0, 1)
	d := l.account()
	if d.Sent != 1 || d.Acknowledged != 1 {
		t.Fatalf("got sent %d, acknowledged %d; want 1 and 1", d.Sent, d.Acknowledged)
	}
}
