package node

import (
	"context"
	"fmt"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
)

// Kill crashes the node: every connection is dropped with no close frame and
// the node stops listening. Like a crashed process, it announces nobody as
// left and leaves their session hashes in Redis.
func (n *Node) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	n.endGrace()
	n.publish(events.Event{Kind: events.NodeFault, Detail: "kill: " + n.haltText("dropped without a close frame")})
	n.halt(context.Background(), endKilled)
	n.publish(events.Event{Kind: events.NodeStopped, Reason: "killed"})
	return nil
}

// Stop shuts the node down gracefully: every WebSocket gets a 1001 Going
// Away close frame, users with a name are announced as left, and the node
// stops listening. With a Config.StopGrace, Stop returns at once and all
// that happens when the grace is over; meanwhile /healthz answers 503 and
// the node serves on, as an app that drains on SIGTERM. A Stop within the
// grace ends it at once (a second SIGTERM).
func (n *Node) Stop(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if g := n.cfg.StopGrace; g > 0 && n.srv != nil && n.grace == nil {
		n.stopping.Store(true)
		n.publish(events.Event{Kind: events.NodeFault, Detail: fmt.Sprintf("stop: /healthz answers 503; serving on (new connections too) for the stop grace of %s, then %s", g, n.haltText("closed with 1001 Going Away"))})
		var t *quartz.Timer
		t = n.cfg.Clock.AfterFunc(g, func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			if n.grace != t { // ended meanwhile
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // wall clock: close frames on their way
			defer cancel()
			n.stopNow(ctx, "stop grace over: ")
		}, "node", "stop-grace")
		n.grace = t
		return nil
	}
	why := "stop: "
	if n.grace != nil {
		why = "stop again within the stop grace: "
	}
	n.stopNow(ctx, why)
	return nil
}

// stopNow closes every WebSocket with 1001 and stops listening, ending a
// grace if one runs. Callers hold n.mu.
func (n *Node) stopNow(ctx context.Context, why string) {
	n.endGrace()
	n.publish(events.Event{Kind: events.NodeFault, Detail: why + n.haltText("closed with 1001 Going Away")})
	n.halt(ctx, endStopping)
	n.publish(events.Event{Kind: events.NodeStopped, Reason: "stopped"})
}

// endGrace ends a stop's grace period, if one runs. Callers hold n.mu.
func (n *Node) endGrace() {
	if n.grace != nil {
		n.grace.Stop()
		n.grace = nil
	}
	n.stopping.Store(false)
}

// Hang wedges the node: it keeps accepting connections but answers nothing,
// neither HTTP requests (health checks time out) nor WebSocket messages,
// until Start.
func (n *Node) Hang() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.gate.Load() == nil {
		g := make(chan struct{})
		n.gate.Store(&g)
	}
	n.publish(events.Event{Kind: events.NodeFault, Detail: "hang: accepts connections and answers nothing (health checks time out) until start"})
	return nil
}

// Slow delays every outgoing message by d on the node's clock; 0 clears it.
func (n *Node) Slow(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("node %q: slow: delay %s is negative", n.cfg.Name, d)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	n.slow.Store(int64(d))
	n.publish(events.Event{Kind: events.NodeFault, Detail: "slow " + d.String()})
	return nil
}

// Start clears hang and slow faults and, if the node was killed or stopped,
// listens again on the same address.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	cleared := n.releaseGate() || n.slow.Swap(0) != 0
	if cleared {
		n.publish(events.Event{Kind: events.NodeFault, Detail: "start: faults cleared"})
	}
	if n.grace != nil { // a replacement: the stopping node goes now
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.stopNow(ctx, "start within the stop grace: ")
	}
	if n.srv != nil {
		return nil
	}
	return n.listen()
}

// Restart stops the node gracefully and starts it again on the same address.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.Stop(ctx); err != nil {
		return err
	}
	return n.Start()
}

// haltText says what a kill or stop does, for its event: every fault
// says what it did. Callers hold n.mu.
func (n *Node) haltText(how string) string {
	if n.srv == nil {
		return "not listening already"
	}
	n.membersMu.Lock()
	c := len(n.conns)
	n.membersMu.Unlock()
	conns := fmt.Sprintf("%d connections", c)
	if c == 1 {
		conns = "1 connection"
	}
	return conns + " " + how + "; stops listening on " + n.addr
}

// releaseGate ends a hang; it reports whether one was in force.
func (n *Node) releaseGate() bool {
	g := n.gate.Swap(nil)
	if g != nil {
		close(*g)
	}
	return g != nil
}

// waitGate blocks while the node hangs.
func (n *Node) waitGate(ctx context.Context) error {
	g := n.gate.Load()
	if g == nil {
		return nil
	}
	select {
	case <-*g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
