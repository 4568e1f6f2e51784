package scenarios

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/wslab/wslab/lab"
)

// Session is a lab driven step by step on the mock clock, with the steps
// of a scenario file but no file: what scenariotest.Driver wraps for go
// tests, and what a program can use without linking package testing.
type Session struct{ r *run }

// NewSession starts a lab of the given shape on a fresh mock clock. A zero
// seed is 1. Close stops it.
func NewSession(ctx context.Context, name string, shape Shape, seed uint64) (*Session, error) {
	if seed == 0 {
		seed = 1
	}
	r := &run{sc: &Scenario{Name: name, Lab: shape}, tb: &clockTB{}, players: map[string]*player{}, hung: map[string]bool{}}
	r.clk = newMock(r.tb)
	r.start = r.clk.Now()
	if err := r.startLab(ctx, seed); err != nil {
		return nil, err
	}
	if err := r.awaitProcesses(ctx); err != nil { // shape.Clients: all in first
		r.close()
		return nil, err
	}
	return &Session{r: r}, nil
}

// Step runs one step, as a line of a scenario file would: kind is the
// step's name (see Steps) and args a value of its argument type (StepInfo.Arg),
// e.g. Step(ctx, "connect", ConnectArgs{Client: "alice"}), checked as a
// file's step is. A misuse of the mock clock fails the step too.
func (s *Session) Step(ctx context.Context, kind string, args any) error {
	d, ok := stepByName(kind)
	if !ok {
		return fmt.Errorf("unknown step %q (steps: %s)", kind, strings.Join(StepNames(), ", "))
	}
	if reflect.TypeOf(args) != d.arg {
		return fmt.Errorf("%s takes a %s, got %T", kind, d.arg, args)
	}
	if d.check != nil { // the same checks as a file's
		if msg := d.check(args); msg != "" {
			return fmt.Errorf("%s: %s", kind, msg)
		}
	}
	return s.r.runStep(ctx, Step{Kind: kind, Args: args})
}

// Now is the virtual time since the start.
func (s *Session) Now() time.Duration { return s.r.now() }

// Transcript is what happened so far, in virtual time.
func (s *Session) Transcript() []string { return s.r.out }

// Clients is what each client went through so far, as a run's summary
// says it: closes with codes, time disconnected, reconnect attempts,
// chat messages lost or duplicated.
func (s *Session) Clients(ctx context.Context) []ClientSummary { return s.r.summarize(ctx) }

// ClientProcesses is what the lab's client processes (Shape.Clients)
// went through so far, as the balancer saw them; nil without them.
func (s *Session) ClientProcesses() *lab.ClientsReport { return s.r.processReport() }

// Lab is the lab under test, for anything the steps do not cover.
func (s *Session) Lab() *lab.Lab { return s.r.lab }

// Close stops the lab and its clients.
func (s *Session) Close() { s.r.close() }

// runStep runs one step and turns what the mock clock reported during it
// into the step's error: a clock Fatal stops the step where it happened.
func (r *run) runStep(ctx context.Context, st Step) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(clockFatal); !ok {
				panic(p)
			}
		}
		if e := r.tb.takeErr(); err == nil && e != "" {
			err = fmt.Errorf("clock: %s", e)
		}
	}()
	if err := r.step(ctx, st); err != nil {
		return err
	}
	r.pollsOut(ctx)
	r.observe(ctx)
	return nil
}
