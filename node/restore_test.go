package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
	"github.com/wslab/wslab/store"
)

// restartEmpty stops the world's Redis and starts a fresh, empty one on the
// same address: miniredis's model of a redis-server restarted without its
// data (it has no persistence and no run id). between runs while it is down.
func (w *world) restartEmpty(t *testing.T, between func()) {
	t.Helper()
	addr := w.redis.Addr()
	w.redis.Close()
	between()
	r, err := store.StartEmbedded(addr)
	if err != nil {
		t.Fatal(err)
	}
	w.redis = r
}

// waitKind waits until every source named has published an event of every
// kind given, in any order.
func (w *world) waitKind(t *testing.T, kinds []events.Kind, sources ...string) {
	t.Helper()
	type key struct {
		kind   events.Kind
		source string
	}
	left := map[key]bool{}
	for _, k := range kinds {
		for _, s := range sources {
			left[key{k, s}] = true
		}
	}
	for len(left) > 0 {
		e := w.waitEvent(t, func(e events.Event) bool { return left[key{e.Kind, e.Source}] })
		delete(left, key{e.Kind, e.Source})
	}
}

func kinds(k ...events.Kind) []events.Kind { return k }

// TestChatResumesByItselfAfterRedisRestartsEmpty is issue 12's report on
// miniredis: Redis goes away and comes back without the session hashes.
// Named users go on chatting across nodes with no action of theirs, nobody
// is told to set a username, and every session hash is back.
func TestChatResumesByItselfAfterRedisRestartsEmpty(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	alice := joinAs(t, n1.URL(), client.SocketIO, "alice")
	aliceSID := w.waitEvent(t, func(e eventT) bool { return e.Kind == opened && e.Source == "node-1" }).Conn
	bob := joinAs(t, n2.URL(), client.JSON, "bob")
	quiet := dial(t, n2.URL(), client.SocketIO) // never sets a name
	expect(t, quiet, node.TextWelcome)

	w.restartEmpty(t, func() { w.waitKind(t, kinds(events.StoreError), "node-1", "node-2") })
	w.waitKind(t, kinds(events.StoreRecovered, events.StoreRestored), "node-1", "node-2")

	emit(t, alice, "message", "back")
	expect(t, alice, "alice: back")
	expect(t, bob, "alice: back")
	expect(t, quiet, "alice: back")
	emit(t, bob, "message", "welcome back")
	for _, c := range []*client.Client{alice, bob, quiet} {
		expect(t, c, "bob: welcome back")
	}
	if m, ok := session(t, w, aliceSID); !ok || m["username"] != "alice" {
		t.Fatalf("session:%s after the restore: got %v (exists %v), want username alice", aliceSID, m, ok)
	}
	emit(t, quiet, "message", "me too")
	expect(t, quiet, node.TextNoUsername) // still unnamed: nothing was invented
}

// TestChatResumesAfterRedisIsFlushed empties a Redis that never went away
// (FLUSHDB, as an operator might): no outage is seen, yet named users keep
// chatting and their hashes come back. It runs on miniredis and, when
// LAB_TEST_REDIS_URL is set, on a real redis-server (in database 9, so the
// flush touches nothing else).
func TestChatResumesAfterRedisIsFlushed(t *testing.T) {
	w := newWorld(t)
	urls := map[string]string{"miniredis": w.redis.URL()}
	if u := os.Getenv("LAB_TEST_REDIS_URL"); u != "" {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		pu.Path = "/9"
		urls["redis-server"] = pu.String()
	}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			ch := fmt.Sprintf("lab:test:flush:%d", os.Getpid())
			start := func(name string) *node.Node {
				n, err := node.Start(context.Background(), node.Config{Name: name, RedisURL: u, Channel: ch, Events: w.bus})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { n.Close() })
				return n
			}
			n1, n2 := start("flush-1"), start("flush-2")
			alice := joinAs(t, n1.URL(), client.SocketIO, "alice")
			bob := joinAs(t, n2.URL(), client.SocketIO, "bob")
			sc, err := store.Dial(context.Background(), store.Options{URL: u})
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			if err := sc.Redis().FlushDB(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			emit(t, alice, "message", "still here?")
			expect(t, alice, "alice: still here?")
			expect(t, bob, "alice: still here?")
			w.waitKind(t, kinds(events.StoreRestored), "flush-1")
			emit(t, bob, "message", "yes")
			expect(t, alice, "bob: yes")
			expect(t, bob, "bob: yes")
		})
	}
}

// stallingHandler is a log handler that holds up the first "redis
// unreachable" warning until released: it widens the moment between a node
// deciding Redis is down and saying so, where a concurrent success used to
// overtake it.
type stallingHandler struct {
	slog.Handler
	stalled chan struct{} // closed when the warning is held
	release chan struct{}
	once    *sync.Once
}

func (h stallingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "redis unreachable" {
		h.once.Do(func() {
			close(h.stalled)
			<-h.release
		})
	}
	return nil
}

func (h stallingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h stallingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }

// TestRedisEventsComeOutInTheOrderTheyHappened cuts a node off Redis and
// holds up the report of the cut while a chat message reaches Redis again
// through the restored link. The node must still say "error" before
// "recovered", and "recovered" only once its bus subscription is back.
func TestRedisEventsComeOutInTheOrderTheyHappened(t *testing.T) {
	w := newWorld(t)
	link, err := store.NewLink(w.redis.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(link.Close)
	h := stallingHandler{Handler: slog.DiscardHandler, stalled: make(chan struct{}), release: make(chan struct{}), once: &sync.Once{}}
	n1, err := node.Start(context.Background(), node.Config{Name: "node-1", RedisURL: link.URL(), Events: w.bus, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n1.Close() })
	alice := joinAs(t, n1.URL(), client.SocketIO, "alice")
	storeEvents := w.bus.Subscribe(100)
	defer storeEvents.Close()

	link.Cut()
	select { // the subscription saw the cut; its report is held
	case <-h.stalled:
	case <-ctxT(t).Done():
		t.Fatal("the cut was never reported")
	}
	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	emit(t, alice, "message", "back")
	// Give the message the time to overtake the held report, if it can:
	// release on the first store event, or after half a second without one.
	var got []string
	select {
	case e := <-storeEvents.C():
		if strings.HasPrefix(string(e.Kind), "store.") {
			got = append(got, string(e.Kind))
		}
	case <-time.After(500 * time.Millisecond):
	}
	close(h.release)
	for len(got) < 2 {
		select {
		case e := <-storeEvents.C():
			if e.Kind == events.StoreError || e.Kind == events.StoreRecovered {
				got = append(got, string(e.Kind))
			}
		case <-ctxT(t).Done():
			t.Fatalf("got store events %v, want store.error then store.recovered", got)
		}
	}
	if got[0] != "store.error" || got[1] != "store.recovered" {
		t.Fatalf("got store events %v, want [store.error store.recovered]", got)
	}
	// "back" went out before node-1 was subscribed again (pub/sub keeps
	// nothing for an absent subscriber); what is said now arrives.
	emit(t, alice, "message", "really back")
	for {
		text, err := alice.NextMessage(ctxT(t))
		if err != nil {
			t.Fatalf("waiting for %q: %v", "alice: really back", err)
		}
		if text == "alice: really back" {
			break
		}
	}
}
