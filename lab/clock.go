package lab

import (
	"fmt"

	"github.com/coder/quartz"
)

// Clocking says which clock a lab runs on, and why.
type Clocking struct {
	Real bool   `json:"real"`
	Why  string `json:"why"`
}

func (c Clocking) String() string {
	if c.Real {
		return "real clock: " + c.Why
	}
	return "mock clock: " + c.Why
}

// Clocking says which clock the lab runs on: the injected one (a mock in
// tests and scenarios) when every node runs in-process on the lab's clock
// (ours, and handler nodes built by NewHandler, which hands them the
// clock), the real clock as soon as one is a command or url node, whose
// time the lab cannot control, or a handler node given as a plain
// http.Handler, which keeps its own. The scenario runner and reports read it to say so.
func (l *Lab) Clocking() Clocking { return l.clocking }

// Clock is the clock the lab's parts run on; nil is real time.
func (l *Lab) Clock() quartz.Clock { return l.clock }

// clocking decides the lab's clock from its nodes.
func clocking(injected quartz.Clock, specs []NodeSpec) (quartz.Clock, Clocking) {
	for i, s := range specs {
		if k := s.Kind(); k == KindCommand || k == KindURL {
			return nil, Clocking{Real: true, Why: fmt.Sprintf("%s is a %s node, whose time the lab cannot control", nodeName(s, i), k)}
		}
		if s.Handler != nil {
			return nil, Clocking{Real: true, Why: fmt.Sprintf("%s is a handler node given as an http.Handler, which keeps its own time; build it with NewHandler from the lab's clock to stay on the mock clock", nodeName(s, i))}
		}
	}
	if injected == nil {
		return nil, noClock
	}
	if _, mock := injected.(*quartz.Mock); mock {
		return injected, Clocking{Why: "every node runs in-process"}
	}
	return injected, Clocking{Real: true, Why: "the injected clock"}
}

// noClock is the clocking of a lab given no clock: real, for no reason of
// its own, so a reason that follows (client processes) is the one to say.
var noClock = Clocking{Real: true, Why: "no clock was injected"}

// nodeName is the name of the i-th node (from 0) of a lab.
func nodeName(s NodeSpec, i int) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("node-%d", i+1)
}
