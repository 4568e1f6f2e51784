package events_test

import (
	"errors"
	"testing"

	"github.com/wslab/wslab/events"
)

func TestPublishReachesEverySubscriberInOrder(t *testing.T) {
	b := events.New()
	s1, s2 := b.Subscribe(10), b.Subscribe(10)
	defer s1.Close()
	defer s2.Close()
	for i := range 3 {
		b.Publish(events.Event{Kind: events.ConnOpened, Conn: string(rune('a' + i))})
	}
	for _, s := range []*events.Subscription{s1, s2} {
		for i := range 3 {
			e := <-s.C()
			if e.Seq != uint64(i+1) || e.Conn != string(rune('a'+i)) {
				t.Fatalf("event %d: got seq %d conn %q", i, e.Seq, e.Conn)
			}
		}
	}
}

func TestSlowSubscriberIsDroppedWithoutBlocking(t *testing.T) {
	b := events.New()
	slow := b.Subscribe(2)
	fast := b.Subscribe(100)
	defer fast.Close()
	for range 5 { // would block forever if Publish waited for slow
		b.Publish(events.Event{Kind: events.NodeFault})
	}
	n := 0
	for range slow.C() {
		n++
	}
	if n != 2 || !errors.Is(slow.Err(), events.ErrOverflow) || b.Dropped() != 1 {
		t.Fatalf("slow subscriber: got %d events, err %v, dropped %d; want 2, ErrOverflow, 1", n, slow.Err(), b.Dropped())
	}
	if len(fast.C()) != 5 {
		t.Fatalf("fast subscriber got %d events, want 5", len(fast.C()))
	}
	slow.Close() // closing a dropped subscription is harmless
}

func TestEventString(t *testing.T) {
	e := events.Event{Source: "balancer", Kind: events.ConnClosed, Conn: "c1", Backend: "node-1", Reason: "idle_timeout", Generation: 2}
	if got, want := e.String(), "balancer conn.closed conn=c1 backend=node-1 reason=idle_timeout generation=2"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
