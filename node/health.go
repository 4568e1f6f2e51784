package node

import (
	"context"

	"github.com/wslab/wslab/events"
)

// healthSource says which path saw a Redis result.
type healthSource int

const (
	fromCommand healthSource = iota // a command made for a client
	fromBus                         // the bus subscription
)

// storeCall runs a Redis command for a client; if it fails, it revives the
// store's connections and tries once more, so that the first messages after
// Redis comes back are not refused while the connection pool still thinks
// it is away. The result goes to storeHealth.
func (n *Node) storeCall(ctx context.Context, call func(context.Context) error) error {
	err := call(ctx)
	if err != nil && ctx.Err() == nil && n.store.Revive(ctx) == nil {
		err = call(ctx)
	}
	return n.storeResult(err)
}

// storeResult reports a command's result to storeHealth and passes err
// through.
func (n *Node) storeResult(err error) error {
	n.storeHealth(fromCommand, err)
	return err
}

// storeHealth is the one place where a node decides whether Redis is
// reachable and says so. Redis is down while the bus subscription is lost
// or the last command failed; it is back when both work again (the
// subscription reports nil only after it resubscribed and checked that
// commands get through). The decision and the event are made under one
// lock, so the events of a node come out in the order of the transitions:
// never "recovered" before the "error" it ends.
func (n *Node) storeHealth(src healthSource, err error) {
	n.healthMu.Lock()
	defer n.healthMu.Unlock()
	switch {
	case err != nil && src == fromBus:
		n.busDown = true
	case err != nil:
		n.cmdDown = true
	case src == fromBus:
		n.busDown, n.cmdDown = false, false
	default:
		n.cmdDown = false
	}
	down := n.busDown || n.cmdDown
	if down == n.storeDown.Load() {
		return
	}
	n.storeDown.Store(down)
	if down {
		n.log.Warn("redis unreachable", "err", err)
		n.publish(events.Event{Kind: events.StoreError, Detail: err.Error()})
		return
	}
	n.publish(events.Event{Kind: events.StoreRecovered})
	n.checkEpoch() // it may have come back without its data
}
