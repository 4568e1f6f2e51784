package events_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/events"
)

func publishN(b *events.Bus, n int, t0 time.Time) {
	for i := range n {
		b.Publish(events.Event{Kind: events.NodeFault, Time: t0.Add(time.Duration(i) * time.Second), Detail: fmt.Sprint(i)})
	}
}

func seqs(es []events.Event) string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprint(e.Seq))
	}
	return strings.Join(s, ",")
}

func TestABusKeepsItsLatestEventsForThoseWhoArriveLate(t *testing.T) {
	b := events.New()
	t0 := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	publishN(b, 5, t0)
	tests := []struct {
		name string
		q    events.Query
		want string
	}{
		{"everything kept", events.Query{}, "1,2,3,4,5"},
		{"the last 2", events.Query{Last: 2}, "4,5"},
		{"since the third second", events.Query{Since: t0.Add(2 * time.Second)}, "3,4,5"},
		{"after a Last-Event-ID", events.Query{After: 3}, "4,5"},
		{"since and last together", events.Query{Since: t0.Add(time.Second), Last: 10}, "2,3,4,5"},
		{"more than were kept", events.Query{Last: 100}, "1,2,3,4,5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seqs(b.Recent(tt.q)); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestTheHistoryKeepsOnlyTheLatestEvents(t *testing.T) {
	b := events.New()
	publishN(b, events.History+7, time.Time{})
	all := b.Recent(events.Query{})
	if len(all) != events.History || all[0].Seq != 8 || all[len(all)-1].Seq != events.History+7 {
		t.Fatalf("got %d events kept, %d to %d; want %d, 8 to %d", len(all), all[0].Seq, all[len(all)-1].Seq, events.History, events.History+7)
	}
	if got := seqs(b.Recent(events.Query{Last: 2})); got != fmt.Sprintf("%d,%d", events.History+6, events.History+7) {
		t.Fatalf("last 2 after wrapping: got %s", got)
	}
}

// The past and the live events meet without a gap or a repeat, while
// events keep being published.
func TestSubscribeAfterMissesAndRepeatsNothing(t *testing.T) {
	b := events.New()
	publishN(b, 50, time.Time{})
	done := make(chan struct{})
	go func() { defer close(done); publishN(b, 500, time.Time{}) }()
	past, sub := b.SubscribeAfter(1000, events.Query{Last: 20})
	<-done
	sub.Close()
	next := past[0].Seq
	for _, e := range past {
		if e.Seq != next {
			t.Fatalf("past: got seq %d, want %d", e.Seq, next)
		}
		next++
	}
	for e := range sub.C() {
		if e.Seq != next {
			t.Fatalf("live: got seq %d, want %d (the one after the past)", e.Seq, next)
		}
		next++
	}
	if next != 551 {
		t.Fatalf("got events up to %d, want up to 550", next-1)
	}
}

// Every event reads as a sentence: no kind (node.stopped) and no reason
// code with underscores leaks into the words.
func TestEventsReadAsSentences(t *testing.T) {
	tests := []struct {
		e    events.Event
		want string
	}{
		{events.Event{Kind: events.NodeStopped, Reason: "killed"}, "stopped listening: killed, its connections dropped without a close frame"},
		{events.Event{Kind: events.NodeStopped, Reason: "stopped"}, "stopped listening: stopped gracefully, its WebSockets sent 1001 Going Away"},
		{events.Event{Kind: events.NodeFault, Detail: "kill"}, "fault: kill"},
		{events.Event{Kind: events.GroupHealth, Reason: "recovered", Detail: "node-1 is healthy"}, "server group recovered: node-1 is healthy"},
		{events.Event{Kind: events.BackendDrain, Backend: "node-1", Reason: "delay_over", Detail: "2 cut"}, "node-1 delay over: 2 cut"},
		{events.Event{Kind: events.ConnClosed, Conn: "s1", Reason: "ping_timeout"}, "session s1 left: ping timeout"},
		{events.Event{Kind: events.RequestTimeout, Client: "127.0.0.1:5000", Backend: "node-1", Reason: "idle_timeout", Detail: "GET /poll: nothing either way for the idle timeout (10s); answered 504 Gateway Timeout"},
			"request from 127.0.0.1:5000 to node-1 ended by the idle timeout: GET /poll: nothing either way for the idle timeout (10s); answered 504 Gateway Timeout"},
		{events.Event{Kind: "link.cut", Reason: "by_request", Detail: "node-1"}, "link cut by request (node-1)"},
	}
	for _, tt := range tests {
		t.Run(string(tt.e.Kind), func(t *testing.T) {
			if got := tt.e.Text(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAQuietQueryCountsItsLastAmongTheEventsThatAreNotRoutine(t *testing.T) {
	b := events.New()
	b.Publish(events.Event{Kind: events.NodeFault, Source: "node-1", Detail: "kill"})                      // 1
	b.Publish(events.Event{Kind: events.BackendHealth, Backend: "node-1", Reason: "unhealthy"})            // 2
	b.Publish(events.Event{Kind: events.ConnOpened, Source: "node-2", Conn: "s1"})                         // 3: a node-side session
	b.Publish(events.Event{Kind: events.ConnClosed, Source: "node-2", Conn: "s1", Reason: "ping_timeout"}) // 4: not routine
	for range 5 {
		b.Publish(events.Event{Kind: events.BackendCheck, Backend: "node-1", Reason: "failed"}) // 5-9
	}
	if got := seqs(b.Recent(events.Query{Last: 2, Quiet: true})); got != "2,4" {
		t.Errorf("quiet, the last 2: got seqs %s, want 2,4", got)
	}
	if got := seqs(b.Recent(events.Query{Last: 2})); got != "8,9" {
		t.Errorf("the last 2: got seqs %s, want 8,9", got)
	}
}
