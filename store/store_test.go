package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wslab/wslab/store"
)

// backend is a Redis the same test runs against.
type backend struct {
	name string
	url  string
}

var channelSeq atomic.Int64

// backends returns the embedded Redis and, when LAB_TEST_REDIS_URL is set, a
// real redis-server: every store test runs against both and must agree.
func backends(t *testing.T) []backend {
	t.Helper()
	e, err := store.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	bs := []backend{{"miniredis", e.URL()}}
	if u := os.Getenv("LAB_TEST_REDIS_URL"); u != "" {
		bs = append(bs, backend{"redis-server", u})
	}
	return bs
}

func dial(t *testing.T, url, channel string) *store.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := store.Dial(ctx, store.Options{URL: url, Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// uniqueChannel keeps tests that share a real Redis apart.
func uniqueChannel(t *testing.T) string {
	return fmt.Sprintf("lab:test:%s:%d:%d", t.Name(), os.Getpid(), channelSeq.Add(1))
}

func TestSessionLifecycle(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			c := dial(t, b.url, "")
			sid := uniqueChannel(t) // unique enough for a session id too
			if err := c.CreateSession(ctx, sid); err != nil {
				t.Fatal(err)
			}
			m, ok, err := c.Session(ctx, sid)
			if err != nil || !ok || len(m) != 1 || m["username"] != "" {
				t.Fatalf("after create: got %v exists=%v err=%v, want {username:\"\"} exists", m, ok, err)
			}
			// The hash is visible under the tutorial's key to any Redis client.
			if n, _ := c.Redis().Exists(ctx, "session:"+sid).Result(); n != 1 {
				t.Fatalf("EXISTS session:%s = %d, want 1", sid, n)
			}
			if err := c.SetUsername(ctx, sid, "alice"); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Username(ctx, sid); err != nil || got != "alice" {
				t.Fatalf("username: got %q, %v, want alice", got, err)
			}
			if err := c.DeleteSession(ctx, sid); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := c.Session(ctx, sid); ok {
				t.Fatal("session still exists after delete")
			}
			if got, err := c.Username(ctx, sid); err != nil || got != "" {
				t.Fatalf("username of deleted session: got %q, %v, want \"\", nil", got, err)
			}
		})
	}
}

// recorder is a bus handler that forwards what it sees to channels.
type recorder struct {
	msgs   chan store.Message
	states chan error
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan store.Message, 100), states: make(chan error, 100)}
}

func (r *recorder) Message(m store.Message) { r.msgs <- m }
func (r *recorder) State(err error)         { r.states <- err }

func (r *recorder) next(t *testing.T) store.Message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no bus message within 5s")
		return store.Message{}
	}
}

func subscribe(t *testing.T, c *store.Client, h store.Handler) {
	t.Helper()
	s, err := c.Subscribe(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
}

func TestBusFansOutToEveryNodeInOrder(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ch := uniqueChannel(t)
			n1, n2 := dial(t, b.url, ch), dial(t, b.url, ch)
			r1, r2 := newRecorder(), newRecorder()
			subscribe(t, n1, r1)
			subscribe(t, n2, r2)
			ctx := context.Background()
			for i := range 3 {
				if err := n1.Publish(ctx, store.Message{From: "node-1", Text: fmt.Sprintf("alice: %d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range []*recorder{r1, r2} {
				for i := range 3 {
					want := store.Message{From: "node-1", Text: fmt.Sprintf("alice: %d", i)}
					if got := r.next(t); got != want {
						t.Fatalf("got %+v, want %+v", got, want)
					}
				}
			}
		})
	}
}

func TestBusResubscribesAfterRedisComesBack(t *testing.T) {
	e, err := store.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	addr := e.Addr()
	c := dial(t, e.URL(), "")
	r := newRecorder()
	subscribe(t, c, r)

	e.Close() // outage: every connection dropped
	select {
	case err := <-r.states:
		if err == nil {
			t.Fatal("got recovery before any outage was reported")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("outage not reported within 5s")
	}
	// A fresh instance on the same address stands for Redis coming back.
	e2, err := store.StartEmbedded(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e2.Close)
	select {
	case err := <-r.states:
		if err != nil {
			t.Fatalf("got %v, want recovery (nil)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("recovery not reported within 10s")
	}
	if err := c.Publish(context.Background(), store.Message{From: "n", Text: "back"}); err != nil {
		t.Fatal(err)
	}
	if got := r.next(t); got.Text != "back" {
		t.Fatalf("got %q, want back", got.Text)
	}
}

func TestDialErrors(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	tests := []struct {
		name, url, want string
		unreachable     bool
	}{
		{"empty", "", "no redis URL given", false},
		{"wrong scheme", "http://127.0.0.1:6379", `bad redis URL "http://127.0.0.1:6379"`, false},
		{"no host", "redis://", `bad redis URL "redis://"`, false},
		{"nobody listening", "redis://" + dead + "/0", dead, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := store.Dial(ctx, store.Options{URL: tt.url})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if got := errors.Is(err, store.ErrUnreachable); got != tt.unreachable {
				t.Fatalf("errors.Is(err, ErrUnreachable) = %v, want %v", got, tt.unreachable)
			}
		})
	}
}

func TestEpochChangesOnlyWhenRedisLosesItsData(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			// Database 9 of a real Redis: the flush below touches nothing else.
			u := strings.TrimSuffix(b.url, "/0") + "/9"
			c1, c2 := dial(t, u, ""), dial(t, u, "")
			e1, err := c1.Epoch(ctx)
			if err != nil || e1 == "" {
				t.Fatalf("first epoch: got %q, %v, want a value", e1, err)
			}
			if e2, err := c2.Epoch(ctx); err != nil || e2 != e1 {
				t.Fatalf("second client: got %q, %v, want the same epoch %q", e2, err, e1)
			}
			if err := c1.Redis().FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			e3, err := c2.Epoch(ctx)
			if err != nil || e3 == "" || e3 == e1 {
				t.Fatalf("after FLUSHDB: got %q, %v, want a new epoch (was %q)", e3, err, e1)
			}
			if e4, err := c1.Epoch(ctx); err != nil || e4 != e3 {
				t.Fatalf("other client after FLUSHDB: got %q, %v, want %q", e4, err, e3)
			}
		})
	}
}
