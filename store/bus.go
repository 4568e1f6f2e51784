package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
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
	if err := c.redis().Publish(ctx, c.channel, b).Err(); err != nil {
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
	// with nil once it is subscribed again and commands reach Redis again.
	State(err error)
}

// Subscription reads the chat bus until closed, resubscribing after Redis
// comes back.
type Subscription struct {
	c      *Client
	cancel context.CancelFunc
	done   chan struct{}

	// mu guards the fields below, swapped by the run goroutine on every
	// resubscribe and closed by Close.
	mu  sync.Mutex
	rdb *redis.Client // the subscription's own connection pool
	ps  *redis.PubSub
}

// Retry pacing while Redis is unreachable. This is reconnect pacing, not
// something a scenario controls: scenarios wait for the recovery event. The
// ceiling is low because pub/sub loses what is published while a node is
// not subscribed: every retry period after Redis is back is chat lost to
// that node's users. A refused dial on loopback costs microseconds.
const (
	minRetry = 5 * time.Millisecond
	maxRetry = 25 * time.Millisecond
)

// Subscribe subscribes to the bus and returns once Redis confirmed it, so no
// message published after Subscribe returns is missed.
func (c *Client) Subscribe(ctx context.Context, h Handler) (*Subscription, error) {
	s := &Subscription{c: c, done: make(chan struct{})}
	if err := s.subscribe(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(runCtx, h)
	return s, nil
}

// subscribe opens a subscription on a connection pool of its own, fresh for
// every attempt: go-redis stops dialing for a second after a run of failed
// dials, and a subscription must come back the moment Redis does.
func (s *Subscription) subscribe(ctx context.Context) error {
	rdb := redis.NewClient(s.c.opts)
	ps := rdb.Subscribe(ctx, s.c.channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		rdb.Close()
		return fmt.Errorf("subscribe to %q: %w", s.c.channel, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release()
	s.rdb, s.ps = rdb, ps
	return nil
}

// release closes the current subscription. Callers hold s.mu.
func (s *Subscription) release() {
	if s.ps != nil {
		s.ps.Close()
		s.rdb.Close()
		s.ps, s.rdb = nil, nil
	}
}

func (s *Subscription) pubsub() *redis.PubSub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps
}

func (s *Subscription) run(ctx context.Context, h Handler) {
	defer close(s.done)
	defer func() { // a resubscribe may have finished as Close released
		s.mu.Lock()
		s.release()
		s.mu.Unlock()
	}()
	ps := s.pubsub()
	for ps != nil {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			h.State(err)
			for {
				if ps = s.resubscribe(ctx); ps == nil {
					return
				}
				// Commands may have given up dialing while Redis was
				// away: make them work before saying Redis is back.
				if s.c.Revive(ctx) == nil {
					break
				}
			}
			h.State(nil)
			continue
		}
		if m, ok := msg.(*redis.Message); ok {
			var bm Message
			if json.Unmarshal([]byte(m.Payload), &bm) == nil {
				h.Message(bm)
			}
		}
	}
}

// resubscribe retries until subscribed again (returning the new PubSub) or
// ctx ends (returning nil).
func (s *Subscription) resubscribe(ctx context.Context) *redis.PubSub {
	s.mu.Lock()
	s.release()
	s.mu.Unlock()
	for retry := minRetry; ; retry = min(retry*2, maxRetry) {
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if s.subscribe(ctx) == nil {
			return s.pubsub()
		}
	}
}

// Close unsubscribes and waits for the subscription's goroutine to exit.
func (s *Subscription) Close() error {
	s.cancel()
	s.mu.Lock()
	s.release()
	s.mu.Unlock()
	<-s.done
	return nil
}
