package scenarios_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/scenarios"
	"github.com/wslab/wslab/scenarios/scenariotest"
)

func parse(t *testing.T, src string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestWrongExpectationNamesStepTimeAndWhatHappened: expecting a connection
// open after the idle timeout fails at that step, at that virtual time,
// saying what was seen instead.
func TestWrongExpectationNamesStepTimeAndWhatHappened(t *testing.T) {
	sc := parse(t, `
name: wrong
lab: {nodes: 1}
steps:
  - connect: {client: alice, protocol: chat_ws}
  - advance: 61s
  - expect_open: {client: alice}
  - advance: 1s
`)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if res.Passed {
		t.Fatal("a wrong expectation passed")
	}
	f := res.Failure
	if f.Step != 3 || f.Line != 7 || f.Kind != "expect_open" || f.Virtual != 61*time.Second || f.Observed != "closed at +60.000s with 1006 (idle_timeout)" {
		t.Fatalf("failure: %+v", f)
	}
	want := "FAIL step 3 (expect_open, line 7) at +61.000s: alice is open; observed: closed at +60.000s with 1006 (idle_timeout)"
	if last := res.Transcript[len(res.Transcript)-2]; !strings.HasSuffix(last, want) {
		t.Fatalf("transcript ends %q, want %q", last, want)
	}
}

func TestMalformedScenariosNameFileAndLine(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown step", "name: x\nsteps:\n  - connect: {client: a}\n  - teleport: {client: a}\n", `test.yaml:4: unknown step "teleport"`},
		{"unknown key", "name: x\nsteps:\n  - connect: {client: a, transprt: ws}\n", `test.yaml:3: unknown key "transprt" in connect (keys: client, via, protocol, transport, path, namespace, subprotocols, headers, query, heartbeat, reconnect, expect_error)`},
		{"unknown top-level key", "name: x\nstepz: []\n", "test.yaml:2: unknown key stepz"},
		{"bad duration", "name: x\nsteps:\n  - advance: soon\n", `test.yaml:3: "soon" is not a duration`},
		{"missing client", "name: x\nsteps:\n  - send: {text: hi}\n", "test.yaml:3: send: client is required"},
		{"bad reload config", "name: x\nsteps:\n  - reload:\n      listener: {idel: 1s}\n", "test.yaml:4: reload: listener.idel: unknown field"},
		{"redis state", "name: x\nsteps:\n  - redis: sideways\n", `test.yaml:3: redis: "sideways" is not down, up or up_empty (back without its data)`},
		{"no steps", "name: x\n", "steps: a scenario needs at least one step"},
		{"unknown close reason", "name: x\nsteps:\n  - connect: {client: a}\n  - expect_closed: {client: a, reason: idle_timout}\n", `test.yaml:4: expect_closed: reason "idle_timout" is not a close reason (the balancer's: client_close_frame,`},
		{"unknown event kind", "name: x\nsteps:\n  - expect_event: {kind: backend.healthy}\n", `test.yaml:3: expect_event: kind "backend.healthy" is not an event kind: conn.opened, conn.closed,`},
		{"unknown reason of a conn.closed event", "name: x\nsteps:\n  - expect_event: {kind: conn.closed, reason: timeout}\n", `test.yaml:3: expect_event: reason "timeout" is not a close reason`},
		{"negative window", "name: x\nsteps:\n  - connect: {client: a}\n  - expect_message: {client: a, text: hi, within: -5s}\n", `test.yaml:4: expect_message: within -5s is negative`},
		{"close code out of range", "name: x\nsteps:\n  - connect: {client: a}\n  - expect_closed: {client: a, code: 6}\n", `test.yaml:4: expect_closed: code 6 is not a WebSocket close code`},
		{"expect_reconnected without reconnect", "name: x\nsteps:\n  - connect: {client: a}\n  - expect_reconnected: {client: a, within: 5s}\n", `test.yaml:4: expect_reconnected: client "a" does not reconnect by itself (connect it with reconnect: true)`},
		{"client never connected", "name: x\nsteps:\n  - connect: {client: alice}\n  - send: {client: alcie, text: hi}\n", `test.yaml:4: send: no earlier step connects client "alcie"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenarios.Parse("test.yaml", []byte(tt.src))
			var pe *scenarios.ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a ParseError containing %q", err, tt.want)
			}
		})
	}
}

func TestDriverStepByStep(t *testing.T) {
	d := scenariotest.Start(t, scenarios.Shape{Nodes: 2}, 7)
	d.Connect(scenarios.ConnectArgs{Client: "alice", Protocol: "chat_ws"})
	d.Connect(scenarios.ConnectArgs{Client: "bob", Protocol: "chat_ws"})
	d.SetUsername(scenarios.UsernameArgs{Client: "alice", Name: "alice"})
	d.Send(scenarios.SendArgs{Client: "alice", Text: "hi"})
	d.ExpectMessage(scenarios.ExpectMessageArgs{Client: "bob", Text: "alice: hi"})
	// alice leaves now, and bob hears it now: had she stayed, her tunnel
	// would idle out at the same instant as bob's, and her "left" line
	// could reach bob's tunnel before its idle check, a race of two timers
	// at one virtual instant.
	d.Disconnect(scenarios.DisconnectArgs{Client: "alice"})
	d.ExpectMessage(scenarios.ExpectMessageArgs{Client: "bob", Text: "alice left the chatroom."})
	d.Advance(59 * time.Second)
	d.ExpectOpen(scenarios.ExpectOpenArgs{Client: "bob", Node: "node-2", Generation: 1})
	d.Advance(time.Second)
	d.ExpectClosed(scenarios.ExpectClosedArgs{Client: "bob", Code: 1006, Reason: "idle_timeout"})
	if n := len(d.Transcript()); n != 12 {
		t.Fatalf("transcript has %d lines:\n%s", n, strings.Join(d.Transcript(), "\n"))
	}
	if c := d.Clients(); len(c) != 2 || c[1].Client != "bob" || len(c[1].Closes) != 1 || c[1].Closes[0].Code != 1006 || c[0].Left != 1 {
		t.Fatalf("clients: %+v, want alice who left and bob closed with 1006", c)
	}
}

// TestTheDriverChecksArgumentsAsAFileIsChecked: a Go step with a missing
// client or an unknown reason is refused before it runs, with the same
// words as a file's.
func TestTheDriverChecksArgumentsAsAFileIsChecked(t *testing.T) {
	s, err := scenarios.NewSession(context.Background(), "checks", scenarios.Shape{Nodes: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		kind string
		args any
		want string
	}{
		{"send", scenarios.SendArgs{Text: "hi"}, "send: client is required"},
		{"expect_closed", scenarios.ExpectClosedArgs{Client: "a", Reason: "idle"}, `expect_closed: reason "idle" is not a close reason`},
		{"expect_event", scenarios.ExpectEventArgs{Kind: "conn.lost"}, `expect_event: kind "conn.lost" is not an event kind`},
		{"kill", scenarios.SlowArgs{Node: "node-1"}, "kill takes a string, got scenarios.SlowArgs"},
		{"teleport", "node-1", `unknown step "teleport"`},
	} {
		err := s.Step(context.Background(), tt.kind, tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Step(%s, %#v): got %v, want an error containing %q", tt.kind, tt.args, err, tt.want)
		}
	}
}

// FuzzParseScenario: no input panics, and an accepted scenario has steps
// with known kinds.
func FuzzParseScenario(f *testing.F) {
	all, _ := scenarios.Builtins()
	for _, sc := range all {
		_, src, _ := scenarios.Builtin(sc.Name)
		f.Add(src)
	}
	f.Add([]byte("name: x\nsteps:\n  - add_node:\n  - advance: 1s\n"))
	known := map[string]bool{}
	for _, n := range scenarios.StepNames() {
		known[n] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := scenarios.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, st := range sc.Steps {
			if !known[st.Kind] {
				t.Fatalf("accepted an unknown step %q", st.Kind)
			}
		}
	})
}

// TestEveryProblemOfTheStepsIsNamedAtOnce: one read of a file names every
// unknown step, key, close reason, event kind and client, each with its
// line, before anything runs.
func TestEveryProblemOfTheStepsIsNamedAtOnce(t *testing.T) {
	_, err := scenarios.Parse("test.yaml", []byte(`name: many
steps:
  - connect: {client: alice, reconect: true}
  - conect: {client: alice}
  - expect_closed: {client: alice, reason: timeout}
  - expect_event: {kind: conn.dropped}
  - expect_message: {client: bob, text: hi}
`))
	if err == nil {
		t.Fatal("a file with five mistakes parsed")
	}
	for _, want := range []string{
		`test.yaml:3: unknown key "reconect" in connect`,
		`test.yaml:4: unknown step "conect"`,
		`test.yaml:5: expect_closed: reason "timeout" is not a close reason`,
		`test.yaml:6: expect_event: kind "conn.dropped" is not an event kind`,
		`test.yaml:7: expect_message: no earlier step connects client "bob"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got:\n%v\nwant a line containing %q", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("got %d problems, want 5 (no knock-on ones):\n%v", n, err)
	}
}

// TestExpectingARecoveredSessionWithoutRecoveryFailsSayingANewSession: a
// lab without lab.node.recovery gives a reconnecting client a new session,
// and expect_reconnected {recovered: true} says so.
func TestExpectingARecoveredSessionWithoutRecoveryFailsSayingANewSession(t *testing.T) {
	sc := parse(t, `
name: not-recovered
lab: {nodes: 2}
steps:
  - connect: {client: alice, reconnect: true}
  - kill: node-1
  - expect_reconnected: {client: alice, within: 5s, node: node-2, recovered: true}
`)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if res.Passed {
		t.Fatal("expect_reconnected {recovered: true} passed without recovery")
	}
	if f := res.Failure; f.Kind != "expect_reconnected" || f.Observed != "with a new session" {
		t.Fatalf("got failure %+v, want expect_reconnected observed \"with a new session\"", f)
	}
}
