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

// Connect connects a client (see scenarios.ConnectArgs).
func (d *Driver) Connect(a scenarios.ConnectArgs) { d.t.Helper(); d.Do("connect", a) }

// SetUsername sets a client's username and waits for the confirmation.
func (d *Driver) SetUsername(client, name string) {
	d.t.Helper()
	d.Do("set_username", scenarios.UsernameArgs{Client: client, Name: name})
}

// Send sends a chat message.
func (d *Driver) Send(client, text string) {
	d.t.Helper()
	d.Do("send", scenarios.SendArgs{Client: client, Text: text})
}

// Advance moves virtual time forward.
func (d *Driver) Advance(dur time.Duration) { d.t.Helper(); d.Do("advance", config.Duration(dur)) }

// Fault injects kill, stop, hang, start or restart into a node.
func (d *Driver) Fault(kind, node string) { d.t.Helper(); d.Do(kind, node) }

// ExpectMessage waits for a client to receive text.
func (d *Driver) ExpectMessage(client, text string) {
	d.t.Helper()
	d.Do("expect_message", scenarios.ExpectMessageArgs{Client: client, Text: text})
}

// ExpectOpen checks a client's connection is open.
func (d *Driver) ExpectOpen(client string) {
	d.t.Helper()
	d.Do("expect_open", scenarios.ExpectOpenArgs{Client: client})
}

// ExpectClosed waits for a client's connection to close for reason.
func (d *Driver) ExpectClosed(client, reason string) {
	d.t.Helper()
	d.Do("expect_closed", scenarios.ExpectClosedArgs{Client: client, Reason: reason})
}
