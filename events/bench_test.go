package events_test

import (
	"testing"
	"time"

	"github.com/wslab/wslab/events"
)

// BenchmarkPublish is the cost a component pays per event with one
// subscriber that keeps up (lab up's terminal), the history included.
func BenchmarkPublish(b *testing.B) {
	bus := events.New()
	sub := bus.Subscribe(1 << 16)
	defer sub.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sub.C() {
		}
	}()
	e := events.Event{Kind: events.ConnOpened, Time: time.Now(), Source: "balancer", Conn: "c1", Client: "127.0.0.1:5000", Backend: "node-1", Generation: 1}
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(e)
	}
	sub.Close()
	<-done
}
