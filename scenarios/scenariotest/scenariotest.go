// Package scenariotest runs wslab scenarios inside go test: a scenario
// file, or a lab driven step by step on the mock clock. It is apart from
// package scenarios so that programs using scenarios do not link package
// testing.
package scenariotest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/scenarios"
)

// RunFile runs a scenario file and fails t with the failed step and the
// transcript if an expectation does not hold.
func RunFile(t testing.TB, path string) scenarios.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenarios.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if !res.Passed {
		t.Fatalf("scenario %s: %s\ntranscript:\n%s", sc.Name, res.Failure, strings.Join(res.Transcript, "\n"))
	}
	return res
}

// Driver runs a lab step by step from a test, on the mock clock, with the
// same steps as a scenario file. Every method fails t if its step fails.
type Driver struct {
	t testing.TB
	s *scenarios.Session
}

// Start starts a lab of the given shape for t; it is closed when t ends.
func Start(t testing.TB, shape scenarios.Shape, seed uint64) *Driver {
	t.Helper()
	s, err := scenarios.NewSession(context.Background(), t.Name(), shape, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &Driver{t: t, s: s}
}

// Do runs any step by its name and arguments, as the methods below do.
func (d *Driver) Do(kind string, args any) {
	d.t.Helper()
	if err := d.s.Step(context.Background(), kind, args); err != nil {
		d.t.Fatalf("%s at +%.3fs: %v\ntranscript:\n%s", kind, d.s.Now().Seconds(), err, strings.Join(d.s.Transcript(), "\n"))
	}
}

// Lab is the lab under test, for anything the steps do not cover.
func (d *Driver) Lab() *lab.Lab { return d.s.Lab() }

// Transcript is what happened so far, in virtual time.
func (d *Driver) Transcript() []string { return d.s.Transcript() }

// Clients is what each client went through so far (the summary a
// scenario run ends with).
func (d *Driver) Clients() []scenarios.ClientSummary { return d.s.Clients(context.Background()) }

// ClientProcesses is what the lab's client processes (Shape.Clients)
// went through so far, as the balancer saw them; nil without them.
func (d *Driver) ClientProcesses() *lab.ClientsReport { return d.s.ClientProcesses() }

// The methods below are the steps of a scenario file, one for one (a test
// walks the step table): each takes what the step takes in YAML, as the
// step's argument type, and runs it as the file would.

// Connect connects a client (connect).
func (d *Driver) Connect(a scenarios.ConnectArgs) { d.t.Helper(); d.Do("connect", a) }

// SetUsername sets a client's username and waits for the confirmation
// (set_username).
func (d *Driver) SetUsername(a scenarios.UsernameArgs) { d.t.Helper(); d.Do("set_username", a) }

// Send sends a chat message and waits for the sender's answer (send).
func (d *Driver) Send(a scenarios.SendArgs) { d.t.Helper(); d.Do("send", a) }

// Disconnect makes a client leave, or drop its connection (disconnect).
func (d *Driver) Disconnect(a scenarios.DisconnectArgs) { d.t.Helper(); d.Do("disconnect", a) }

// Advance moves virtual time forward (advance).
func (d *Driver) Advance(dur time.Duration) { d.t.Helper(); d.Do("advance", config.Duration(dur)) }

// Reload applies a whole balancer config (reload).
func (d *Driver) Reload(cfg config.Config) { d.t.Helper(); d.Do("reload", cfg) }

// ReloadYAML applies config text, checked as a file would be (reload_yaml).
func (d *Driver) ReloadYAML(text string) {
	d.t.Helper()
	d.Do("reload_yaml", scenarios.ReloadYAMLArgs(text))
}

// Kill crashes a node (kill).
func (d *Driver) Kill(node string) { d.t.Helper(); d.Do("kill", node) }

// Stop stops a node gracefully (stop).
func (d *Driver) Stop(node string) { d.t.Helper(); d.Do("stop", node) }

// Hang freezes a node (hang).
func (d *Driver) Hang(node string) { d.t.Helper(); d.Do("hang", node) }

// Start starts a stopped, killed or hung node again (start).
func (d *Driver) Start(node string) { d.t.Helper(); d.Do("start", node) }

// Restart stops a node and starts it again (restart).
func (d *Driver) Restart(node string) { d.t.Helper(); d.Do("restart", node) }

// Slow delays what a node sends (slow).
func (d *Driver) Slow(a scenarios.SlowArgs) { d.t.Helper(); d.Do("slow", a) }

// Link sets or clears faults on one of the lab's links (Shape.Links).
func (d *Driver) Link(a scenarios.LinkArgs) { d.t.Helper(); d.Do("link", a) }

// Redis cuts Redis (down), brings it back (up) or back empty (up_empty).
func (d *Driver) Redis(state string) { d.t.Helper(); d.Do("redis", state) }

// AddNode starts one more node, in the server group unless Join is false
// (add_node).
func (d *Driver) AddNode(a scenarios.AddNodeArgs) { d.t.Helper(); d.Do("add_node", a) }

// RemoveNode takes a node out of the server group: it drains (remove_node).
func (d *Driver) RemoveNode(node string) { d.t.Helper(); d.Do("remove_node", node) }

// ExpectMessage checks a client receives a message, within a window of
// virtual time if given (expect_message).
func (d *Driver) ExpectMessage(a scenarios.ExpectMessageArgs) {
	d.t.Helper()
	d.Do("expect_message", a)
}

// ExpectOpen checks a client's connection is open, on a node and under a
// config generation if given (expect_open).
func (d *Driver) ExpectOpen(a scenarios.ExpectOpenArgs) { d.t.Helper(); d.Do("expect_open", a) }

// ExpectClosed checks a client's connection ended as given (expect_closed).
func (d *Driver) ExpectClosed(a scenarios.ExpectClosedArgs) { d.t.Helper(); d.Do("expect_closed", a) }

// ExpectReconnected checks a client that reconnects by itself is back
// (expect_reconnected).
func (d *Driver) ExpectReconnected(a scenarios.ExpectReconnectedArgs) {
	d.t.Helper()
	d.Do("expect_reconnected", a)
}

// ExpectSpread checks the open connections per node (expect_spread).
func (d *Driver) ExpectSpread(want map[string]int) { d.t.Helper(); d.Do("expect_spread", want) }

// ExpectEvent checks an event of the lab matches (expect_event).
func (d *Driver) ExpectEvent(a scenarios.ExpectEventArgs) { d.t.Helper(); d.Do("expect_event", a) }

// ExpectReloadRejected checks the last reload was rejected
// (expect_reload_rejected).
func (d *Driver) ExpectReloadRejected(a scenarios.ExpectRejectedArgs) {
	d.t.Helper()
	d.Do("expect_reload_rejected", a)
}

// Emit makes a socketio client emit an event, waiting for its ack if
// asked (emit).
func (d *Driver) Emit(a scenarios.EmitArgs) { d.t.Helper(); d.Do("emit", a) }

// ExpectEmit checks a socketio client receives an event (expect_emit).
func (d *Driver) ExpectEmit(a scenarios.ExpectEmitArgs) { d.t.Helper(); d.Do("expect_emit", a) }

// ExpectNoMessage checks nothing reaches a client for a while of virtual
// time (expect_no_message).
func (d *Driver) ExpectNoMessage(a scenarios.ExpectNoMessageArgs) {
	d.t.Helper()
	d.Do("expect_no_message", a)
}
