//go:build unix

package lab_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/lab"
)

// startFails starts a lab that must fail and returns its error and what
// its nodes printed.
func startFails(t *testing.T, cfg lab.Config) (error, string) {
	t.Helper()
	out := &lines{}
	cfg.NodeOutput, cfg.Logger, cfg.NoBalancer = out, slog.New(slog.DiscardHandler), true
	l, err := lab.Start(chattest.Ctx(t), cfg)
	if err == nil {
		l.Close()
		t.Fatal("lab.Start succeeded, want an error")
	}
	return err, out.String()
}

func TestACommandThatCannotServeFailsTheStartWithItsLastOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec lab.NodeSpec
		want []string
	}{
		{"exits at once", lab.NodeSpec{Command: "echo 'pid='$$; echo 'Error: Cannot find module server.js' >&2; exit 3"},
			[]string{`node-1: "echo`, "exited before it was ready (exit status 3)", "its output:", "| Error: Cannot find module server.js"}},
		{"never gets ready", lab.NodeSpec{Command: "echo 'pid='$$; echo compiling...; sleep 600", Health: "/healthz", ReadyTimeout: time.Second},
			[]string{"was not ready within 1s", "/healthz", "| compiling..."}},
		{"prints nothing", lab.NodeSpec{Command: "sleep 600", ReadyTimeout: 300 * time.Millisecond},
			[]string{"was not ready within 300ms", "connection refused", "it printed nothing"}},
		{"no such program", lab.NodeSpec{Command: "no-such-program-wslab --port {port}", ReadyTimeout: 5 * time.Second},
			[]string{"exited before it was ready (exit status 127)", "not found"}},
		{"no such dir", lab.NodeSpec{Command: "true", Dir: "/nonexistent/wslab-app"},
			[]string{`node-1: start "true": dir "/nonexistent/wslab-app": no such directory`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, out := startFails(t, lab.Config{Nodes: 1, Node: tc.spec})
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to contain %q", err, w)
				}
			}
			for _, pid := range pidsPrinted(out) {
				waitGroupGone(t, pid) // $$ of sh -c is the group's leader
			}
		})
	}
}

func TestAFailedStartLeavesNothingRunning(t *testing.T) {
	bad := lab.NodeSpec{Command: "echo 'pid='$$; sleep 600 & exit 1"}
	err, out := startFails(t, lab.Config{Nodes: 2, Node: helperSpec(t), NodeList: []lab.NodeSpec{bad}})
	if !strings.Contains(err.Error(), "node-3") {
		t.Fatalf("got %v, want node-3's failure", err)
	}
	pids := pidsPrinted(out)
	if len(pids) != 3 {
		t.Fatalf("got pids %v, want node-1's, node-2's and node-3's; output:\n%s", pids, out)
	}
	for _, pid := range pids {
		if left, _ := lab.ProcessGroup(pid); len(left) > 0 {
			t.Errorf("process %d's group still has %v after the failed start", pid, left)
		}
	}
}

func TestAURLThatRefusesStillStartsTheLabAndSaysSo(t *testing.T) {
	bus := events.New()
	sub := bus.Subscribe(1024)
	defer sub.Close()
	l, err := lab.Start(chattest.Ctx(t), lab.Config{
		NodeList: []lab.NodeSpec{{URL: "http://127.0.0.1:1"}}, Events: bus, Clock: quartz.NewMock(t),
		Balancer: balancerOn0(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := l.Node("node-1")
	if st := n.State(); n.Kind() != lab.KindURL || st.Listening || !strings.Contains(st.Note, "not answering") {
		t.Fatalf("got %s node listening=%v note %q, want a url node, not answering", n.Kind(), st.Listening, st.Note)
	}
	said := false
	for e := range drain(sub) {
		said = said || (e.Kind == events.NodeStopped && e.Source == "node-1" && e.Reason == "unreachable" && strings.Contains(e.Detail, "http://127.0.0.1:1 does not answer"))
	}
	if !said {
		t.Fatal("no node.stopped event says the url does not answer")
	}
	if c := l.Clocking(); !c.Real || !strings.Contains(c.Why, "node-1 is a url node") {
		t.Fatalf("got %s, want the real clock because node-1 is a url node", c)
	}
	_, err = l.Fault(chattest.Ctx(t), "node-1", "kill", 0)
	var refused *lab.RefusedError
	if !errors.As(err, &refused) || !strings.HasPrefix(err.Error(), "node-1 is a url node: kill is not possible; ") {
		t.Fatalf("kill of a url node: got %v, want it refused by name", err)
	}
	if got := n.State().Faults; len(got) != 0 {
		t.Fatalf("a url node without hooks takes faults %v, want none", got)
	}
}

func balancerOn0() (c config.Config) {
	c.Listener.Addr = "127.0.0.1:0"
	return c
}

// drain yields the events buffered so far.
func drain(sub *events.Subscription) func(func(events.Event) bool) {
	return func(yield func(events.Event) bool) {
		for {
			select {
			case e := <-sub.C():
				if !yield(e) {
					return
				}
			default:
				return
			}
		}
	}
}
