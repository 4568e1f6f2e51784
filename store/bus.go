package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Message is one chat line on the cross-node bus.
type Message struct {
	From string `json:"from"` // name of the node that published it
	Text string `json:"text"` // the text every client receives
}

// Publish sends m to every subscribed node, including the sender's own.
func (c *Client) Publish(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode bus message: %w", err)
	}
	if err := c.rdb.Publish(ctx, c.channel, b).Err(); err != nil {
		return fmt.Errorf("publish to %q: %w", c.channel, err)
	}
	return nil
}

// Handler receives what a Subscription reads. Its methods run on the
// subscription's goroutine and must not block: Redis (miniredis in
// particular) stalls when a subscriber stops reading.
type Handler interface {
	// Message is called for every message on the channel.
	Message(Message)
	// State is called with the error when the subscription loses Redis, and
	// with nil when it is subscribed again.
	State(err error)
}

// Subscription reads the chat bus until closed, resubscribing after Redis
// comes back.
type Subscription struct {
	ps     *redis.PubSub
	cancel context.CancelFunc
	done   chan struct{}
}

// Retry pacing while Redis is unreachable. This is reconnect pacing, not
// something a scenario controls: scenarios wait for the recovery event.
const (
	minRetry = 20 * time.Millisecond
	maxRetry = 250 * time.Millisecond
)

// Subscribe subscribes to the bus and returns once Redis confirmed it, so no
// message published after Subscribe returns is missed.
func (c *Client) Subscribe(ctx context.Context, h Handler) (*Subscription, error) {
	ps := c.rdb.Subscribe(ctx, c.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("subscribe to %q: %w", c.channel, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Subscription{ps: ps, cancel: cancel, done: make(chan struct{})}
	go s.run(runCtx, h)
	return s, nil
}

func (s *Subscription) run(ctx context.Context, h Handler) {
	defer close(s.done)
	retry, healthy := minRetry, true
	for {
		msg, err := s.ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if healthy {
				healthy = false
				h.State(err)
			}
			t := time.NewTimer(retry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			retry = min(retry*2, maxRetry)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if !healthy {
				healthy, retry = true, minRetry
				h.State(nil)
			}
		case *redis.Message:
			var bm Message
			if json.Unmarshal([]byte(m.Payload), &bm) == nil {
				h.Message(bm)
			}
		}
	}
}

// Close unsubscribes and waits for the subscription's goroutine to exit.
func (s *Subscription) Close() error {
	s.cancel()
	err := s.ps.Close()
	<-s.done
	return err
}
