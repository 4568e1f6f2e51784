package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

// Faults are the faults Lab.Fault knows, for every kind of node.
var Faults = []string{"kill", "stop", "hang", "slow", "start", "restart"}

// RefusedError is a fault that a node of its kind cannot take. The lab
// says so rather than pretending: a url node's process is not the lab's to
// kill.
type RefusedError struct {
	Node  string
	Kind  Kind
	Fault string
	Why   string // what to do instead
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s is a %s node: %s is not possible; %s", e.Node, e.Kind, e.Fault, e.Why)
}

// ErrNoNode is returned by Fault for a name that is not one of the lab's
// nodes.
var ErrNoNode = errors.New("lab: no such node")

// Fault injects a fault into the named node, or clears it: kill (a crash),
// stop (graceful), hang (wedged: accepts, answers nothing), slow (every
// outgoing message delay late; 0 clears), start (back in service: ends a
// hang or slow, relaunches a killed or stopped node on the same address),
// restart (stop, then start). It is the one place faults are dispatched:
// the admin API, lab ctl, the dashboard and the scenario runner call it.
// It returns what it did, for people (the same text is in the node.fault
// event), e.g. "SIGKILL to process group 1234 (3 processes)".
func (l *Lab) Fault(ctx context.Context, name, fault string, delay time.Duration) (string, error) {
	n := l.Node(name)
	if n == nil {
		names := make([]string, 0, len(l.Nodes()))
		for _, x := range l.Nodes() {
			names = append(names, x.Name())
		}
		return "", fmt.Errorf("%w %q; nodes are: %s", ErrNoNode, name, strings.Join(names, ", "))
	}
	if !slices.Contains(Faults, fault) {
		return "", fmt.Errorf("unknown fault %q: want kill, stop, hang, slow, start or restart", fault)
	}
	var did string
	var err error
	switch fault {
	case "kill":
		did, err = n.d.kill(ctx)
	case "stop":
		did, err = n.d.stop(ctx)
	case "hang":
		did, err = n.d.hang(ctx)
	case "slow":
		did, err = n.d.slow(delay)
	case "start":
		did, err = n.d.start(ctx)
	case "restart":
		var stopped, started string
		var down *notRunning
		if stopped, err = n.d.stop(ctx); err == nil || errors.As(err, &down) {
			started, err = n.d.start(ctx)
			did = joinDid(stopped, started)
		}
	}
	if err != nil {
		return "", err
	}
	if did != "" { // nodes of package node publish their own
		l.publish(events.Event{Kind: events.NodeFault, Source: name, Detail: fault + ": " + did})
	}
	return did, nil
}

func joinDid(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; then " + b
}

// NodeStates is the state of every node, for the admin API.
func (l *Lab) NodeStates() []node.State {
	nodes := l.Nodes()
	out := make([]node.State, len(nodes))
	for i, n := range nodes {
		out[i] = n.State()
	}
	return out
}

// publish stamps an event with the lab's clock and publishes it.
func (l *Lab) publish(e events.Event) {
	e.Time = l.now()
	l.Events.Publish(e)
}

func (l *Lab) now() time.Time {
	if l.clock == nil {
		return time.Now()
	}
	return l.clock.Now()
}
