package scenarios

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/lab"
)

// RunFile runs a scenario file inside go test and fails t with the failed
// step and the transcript if an expectation does not hold.
func RunFile(t testing.TB, path string) Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), sc, Options{})
	if !res.Passed {
		t.Fatalf("scenario %s: %s\ntranscript:\n%s", sc.Name, res.Failure, strings.Join(res.Transcript, "\n"))
	}
	return res
}

// Driver runs a lab step by step from a test, on the mock clock, with the
// same steps as a scenario file. Every method fails t if its step fails.
type Driver struct {
	t testing.TB
	r *run
}

// Start starts a lab of the given shape for t; it is closed when t ends.
func Start(t testing.TB, shape Shape, seed uint64) *Driver {
	t.Helper()
	if seed == 0 {
		seed = 1
	}
	r := &run{sc: &Scenario{Name: t.Name(), Lab: shape}, tb: &clockTB{}, players: map[string]*player{}, hung: map[string]bool{}}
	r.clk = newMock(r.tb)
	r.start = r.clk.Now()
	if err := r.startLab(context.Background(), seed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	return &Driver{t: t, r: r}
}

func (d *Driver) do(kind string, args any) {
	d.t.Helper()
	if err := d.r.step(context.Background(), Step{Kind: kind, Args: args}); err != nil {
		d.t.Fatalf("%s at %s: %v\ntranscript:\n%s", kind, stamp(d.r.now()), err, strings.Join(d.r.out, "\n"))
	}
	if e := d.r.tb.takeErr(); e != "" {
		d.t.Fatalf("%s: clock: %s", kind, e)
	}
}

// Lab is the lab under test, for anything the steps do not cover.
func (d *Driver) Lab() *lab.Lab { return d.r.lab }

// Transcript is what happened so far, in virtual time.
func (d *Driver) Transcript() []string { return d.r.out }

// Connect connects a client (see ConnectArgs).
func (d *Driver) Connect(a ConnectArgs) { d.t.Helper(); d.do("connect", a) }

// SetUsername sets a client's username and waits for the confirmation.
func (d *Driver) SetUsername(client, name string) {
	d.t.Helper()
	d.do("set_username", UsernameArgs{Client: client, Name: name})
}

// Send sends a chat message.
func (d *Driver) Send(client, text string) {
	d.t.Helper()
	d.do("send", SendArgs{Client: client, Text: text})
}

// Advance moves virtual time forward.
func (d *Driver) Advance(dur time.Duration) { d.t.Helper(); d.do("advance", durationArg(dur)) }

// Fault injects kill, stop, hang, start or restart into a node.
func (d *Driver) Fault(kind, node string) { d.t.Helper(); d.do(kind, node) }

// ExpectMessage waits for a client to receive text.
func (d *Driver) ExpectMessage(client, text string) {
	d.t.Helper()
	d.do("expect_message", ExpectMessageArgs{Client: client, Text: text})
}

// ExpectOpen checks a client's connection is open.
func (d *Driver) ExpectOpen(client string) {
	d.t.Helper()
	d.do("expect_open", ExpectOpenArgs{Client: client})
}

// ExpectClosed waits for a client's connection to close for reason.
func (d *Driver) ExpectClosed(client, reason string) {
	d.t.Helper()
	d.do("expect_closed", ExpectClosedArgs{Client: client, Reason: reason})
}
