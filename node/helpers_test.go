package node_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
	"github.com/wslab/wslab/store"
)

// quietRedis keeps go-redis's dial failures (outage tests make many) out
// of the test log.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietRedis{})
	goleak.VerifyTestMain(m)
}

const waitFor = chattest.WaitFor

var (
	ctxT   = chattest.Ctx
	dial   = chattest.Dial
	expect = chattest.Expect
)

// world is a shared Redis and event bus for a test's nodes.
type world struct {
	redis *store.Embedded
	bus   *events.Bus
	sub   *events.Subscription
}

func newWorld(t testing.TB) *world {
	t.Helper()
	r, err := store.StartEmbedded("")
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New()
	w := &world{redis: r, bus: bus, sub: bus.Subscribe(10000)}
	t.Cleanup(func() {
		w.sub.Close()
		w.redis.Close() // the one running now (restartEmpty replaces it)
	})
	return w
}

func (w *world) startNode(t testing.TB, cfg node.Config) *node.Node {
	t.Helper()
	cfg.RedisURL = w.redis.URL()
	cfg.Events = w.bus
	n, err := node.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// waitEvent returns the next event matching match.
func (w *world) waitEvent(t *testing.T, match func(events.Event) bool) events.Event {
	t.Helper()
	ctx := ctxT(t)
	for {
		select {
		case e, ok := <-w.sub.C():
			if !ok {
				t.Fatalf("event subscription dropped: %v", w.sub.Err())
			}
			if match(e) {
				return e
			}
		case <-ctx.Done():
			t.Fatal("timed out waiting for an event")
		}
	}
}

func closedEvent(conn string) func(events.Event) bool {
	return func(e events.Event) bool { return e.Kind == events.ConnClosed && e.Conn == conn }
}

// expectEvent reads the next event of any kind and compares it.
func expectEvent(t *testing.T, c *client.Client, want client.Event) {
	t.Helper()
	got, err := c.Next(ctxT(t))
	if err != nil {
		t.Fatalf("waiting for %+v: %v", want, err)
	}
	if got.Name != want.Name || got.Text != want.Text {
		t.Fatalf("got event %+v, want %+v", got, want)
	}
}

func emit(t testing.TB, c *client.Client, event, text string) {
	t.Helper()
	if err := c.Emit(ctxT(t), event, text); err != nil {
		t.Fatal(err)
	}
}

// joinAs connects a user and sets their name, consuming the greeting.
func joinAs(t testing.TB, url string, tr client.Transport, name string) *client.Client {
	t.Helper()
	c := dial(t, url, tr)
	if tr == client.Polling {
		// Leave politely when the test ends: a polling client that
		// vanishes between two polls holds the node's Close until its
		// deadline, waiting for a poll to hand the close packet to.
		t.Cleanup(func() { c.Close() })
	}
	expect(t, c, node.TextWelcome)
	emit(t, c, "set_username", name)
	expect(t, c, "Your username is set to "+name)
	return c
}

type eventT = events.Event

const opened = events.ConnOpened
