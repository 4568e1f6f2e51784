package load_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/load"
)

// fastChat is a chat run short enough for a test: users speak every 20 ms
// for 300 ms and come back 20–60 ms after a drop.
func fastChat(url string, users int) load.Config {
	return load.Config{URL: url, Mode: load.Chat, Conns: users, Interval: 20 * time.Millisecond,
		Duration: 300 * time.Millisecond, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 40 * time.Millisecond,
		Settle: 3 * time.Second, Seed: 7}
}

func chatRun(t *testing.T, cfg load.Config) load.Delivery {
	t.Helper()
	rep := run(t, cfg)
	if rep.Chat == nil {
		t.Fatal("chat report missing")
	}
	d := *rep.Chat
	if d.Sent == 0 || d.Delivered+d.Lost != d.Due {
		t.Fatalf("got sent %d, due %d, delivered %d, lost %d; want messages sent and delivered+lost = due", d.Sent, d.Due, d.Delivered, d.Lost)
	}
	return d
}

func TestChatWithNothingDroppedReportsNoLossAndEveryDelivery(t *testing.T) {
	s := newChatServer(t, nil)
	d := chatRun(t, fastChat(s.URL, 3))
	if d.Lost != 0 || d.Duplicated != 0 || d.Due != 3*d.Sent || d.Delivered != d.Due {
		t.Fatalf("got sent %d, due %d, delivered %d, lost %d, duplicated %d; want due = delivered = 3×sent, nothing lost or duplicated",
			d.Sent, d.Due, d.Delivered, d.Lost, d.Duplicated)
	}
	if d.Drops != 0 || d.Reconnects != 0 || d.Back95 != 0 {
		t.Fatalf("got %d drops, %d reconnects, back95 %s; want none", d.Drops, d.Reconnects, d.Back95)
	}
}

// The server withholds messages 1 and 2 of every sender from user 1 (six
// deliveries) and sends message 3 of every sender twice to user 2 (three
// extra): the report must say exactly that.
func TestChatCountsExactlyTheDeliveriesAServerDroppedOrDoubled(t *testing.T) {
	s := newChatServer(t, func(to, text string) int {
		seq := seqOf(text)
		switch {
		case strings.HasSuffix(to, "-1") && (seq == 1 || seq == 2):
			return 0
		case strings.HasSuffix(to, "-2") && seq == 3:
			return 2
		}
		return 1
	})
	cfg := fastChat(s.URL, 3)
	cfg.Duration = time.Second // at least three messages each, even on a busy machine
	d := chatRun(t, cfg)
	if d.Lost != 6 || d.Duplicated != 3 {
		t.Fatalf("got lost %d, duplicated %d; want lost 6, duplicated 3", d.Lost, d.Duplicated)
	}
	if d.Due != 3*d.Sent || d.Delivered != d.Due-6 {
		t.Fatalf("got sent %d, due %d, delivered %d; want due 3×sent and delivered due-6", d.Sent, d.Due, d.Delivered)
	}
}

// A crash drops every user at once: each comes back (with backoff) and the
// chat goes on; the message that was being fanned out when the server
// crashed is lost to everyone.
func TestChatUsersReconnectAfterACrashAndTheLossIsCounted(t *testing.T) {
	var s *chatServer
	crashed := false
	s = newChatServer(t, func(to, text string) int {
		if !crashed && strings.Contains(text, "-0: #5 ") {
			crashed = true // broadcast holds the server's lock: no race
			for m := range s.members {
				m.conn.CloseNow()
			}
		}
		if crashed && seqOf(text) == 5 && strings.Contains(text, "-0: ") {
			return 0
		}
		return 1
	})
	cfg := fastChat(s.URL, 4)
	cfg.Duration = 600 * time.Millisecond
	d := chatRun(t, cfg)
	if d.Drops != 4 || d.Reconnects != 4 {
		t.Fatalf("got %d drops, %d reconnects; want 4 and 4", d.Drops, d.Reconnects)
	}
	if d.Lost < 4 {
		t.Fatalf("got lost %d; want at least the 4 deliveries of the message fanned out at the crash", d.Lost)
	}
	if d.PeakReconnectRate < 1 || d.PeakReconnectRate > 4 || d.Back95 <= 0 || d.Back95 > 2*time.Second {
		t.Fatalf("got peak %d/s, back95 %s; want 1-4/s and under 2s", d.PeakReconnectRate, d.Back95)
	}
	if d.Sent < 4*8 {
		t.Fatalf("got %d messages sent; want the chat to go on after the reconnect", d.Sent)
	}
}

// The bug of issue 12: after a node kill, users stayed away and the
// progress line kept saying every connection was open.
func TestChatUsersOfAKilledNodeComeBackThroughTheBalancer(t *testing.T) {
	l, err := lab.Start(context.Background(), lab.Config{Balancer: config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	killed := make(chan struct{})
	var lowest int64 = 1 << 30
	cfg := fastChat(l.Balancer.URL(), 4)
	cfg.Interval = 100 * time.Millisecond
	cfg.Duration = 2500 * time.Millisecond
	// Away for 0.5–1.5 s: progress every 100 ms sees them gone.
	cfg.ReconnectMin, cfg.ReconnectMax = time.Second, time.Second
	cfg.ProgressEvery = 100 * time.Millisecond
	cfg.Progress = func(p load.Progress) {
		select {
		case <-killed:
			lowest = min(lowest, p.Open)
		default:
			if p.Open == 4 { // everyone in the room: two users on each node
				l.Nodes()[0].InProcess().Kill()
				close(killed)
			}
		}
	}
	rep := run(t, cfg)
	d := *rep.Chat
	if d.Drops != 2 || d.Reconnects != 2 {
		t.Fatalf("got %d drops, %d reconnects; want the 2 users of node-1 dropped and back", d.Drops, d.Reconnects)
	}
	if rep.PerBackend["node-2"] != 4 {
		t.Fatalf("got spread %v at the end; want all 4 users on node-2", rep.PerBackend)
	}
	if lowest != 2 {
		t.Fatalf("got at least %d open in the progress lines after the kill; want 2 while node-1's users were away", lowest)
	}
}

// Chat users on HTTP long-polling (and on io(url)'s default, polling then
// the upgrade) through a balancer with lb_cookie stickiness: each keeps the
// cookie, every poll reaches the node of its session, and every message
// reaches every user.
func TestChatOverPollingThroughAStickyBalancerDeliversEveryMessage(t *testing.T) {
	for _, tr := range []load.Transport{load.Polling, load.Default} {
		t.Run(string(tr), func(t *testing.T) {
			l, err := lab.Start(context.Background(), lab.Config{Balancer: config.Config{
				Listener:    config.Listener{Addr: "127.0.0.1:0"},
				ServerGroup: config.ServerGroup{Stickiness: config.Stickiness{Type: config.StickyLBCookie}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			cfg := fastChat(l.Balancer.URL(), 4)
			cfg.Transport = tr
			rep := run(t, cfg)
			d := *rep.Chat
			if rep.Failures != 0 || d.Lost != 0 || d.Duplicated != 0 || d.Sent == 0 || d.Delivered != 4*d.Sent {
				t.Fatalf("got %d failures (%s), sent %d, delivered %d, lost %d, duplicated %d; want none failed, 4×sent delivered",
					rep.Failures, rep.FirstFailure, d.Sent, d.Delivered, d.Lost, d.Duplicated)
			}
			if rep.PerBackend["node-1"] != 2 || rep.PerBackend["node-2"] != 2 || rep.Transport != tr {
				t.Fatalf("got spread %v, transport %q; want 2 users on each node, %s", rep.PerBackend, rep.Transport, tr)
			}
		})
	}
}

// Without stickiness the round robin sends a polling user's second request
// to the node that does not own its session: every connect fails, and the
// report quotes the node's answer.
func TestChatOverPollingWithoutStickinessFailsWithSessionIDUnknown(t *testing.T) {
	l, err := lab.Start(context.Background(), lab.Config{Balancer: config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := fastChat(l.Balancer.URL(), 2)
	cfg.Transport = load.Polling
	cfg.Settle = 100 * time.Millisecond
	rep, err := load.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failures == 0 || rep.Handshakes != 0 || !strings.Contains(rep.FirstFailure, "400") || !strings.Contains(rep.FirstFailure, "Session ID unknown") {
		t.Fatalf("got %d failures, %d in the room, first failure %q; want every connect failed with 400 Session ID unknown",
			rep.Failures, rep.Handshakes, rep.FirstFailure)
	}
}
