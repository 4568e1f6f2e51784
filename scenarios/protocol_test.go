package scenarios_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wslab/wslab/scenarios"
)

// TestOldTransportSpellingsAreRefusedNamingTheNewOnes: transport used to
// pick the chat's wire (socketio or ws); it is Engine.IO's transport now,
// and a file written the old way says what to write instead.
func TestOldTransportSpellingsAreRefusedNamingTheNewOnes(t *testing.T) {
	_, err := scenarios.Parse("old.yaml", []byte(`name: old
steps:
  - connect: {client: a, transport: ws}
  - connect: {client: b, transport: socketio}
  - connect: {client: c, transport: carrier-pigeon}
`))
	for _, want := range []string{
		`old.yaml:3: connect: transport: ws (the chat over the /ws JSON protocol) is now spelled protocol: chat_ws`,
		`old.yaml:4: connect: transport: socketio (the chat over Socket.IO) is now protocol: chat, the default: remove it`,
		`old.yaml:5: connect: transport "carrier-pigeon" is not websocket, polling or default`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got:\n%v\nwant a line containing %q", err, want)
		}
	}
}

// TestEveryProtocolMistakeIsNamedWhenTheFileIsRead: a step that does not
// fit its client's protocol, an option of another protocol, a bad regular
// expression or hex — all named at once, with their lines, before
// anything runs.
func TestEveryProtocolMistakeIsNamedWhenTheFileIsRead(t *testing.T) {
	_, err := scenarios.Parse("mix.yaml", []byte(`name: mix
steps:
  - connect: {client: chat}
  - connect: {client: sio, protocol: socketio}
  - connect: {client: raw, protocol: ws}
  - connect: {client: c1, namespace: /orders, subprotocols: [v1]}
  - connect: {client: c2, protocol: socketio, heartbeat: 10s}
  - connect: {client: c3, protocol: ws, transport: polling, path: echo}
  - connect: {client: c4, protocol: mqtt}
  - emit: {client: chat, event: x}
  - set_username: {client: raw, name: r}
  - send: {client: chat, json: {a: 1}}
  - send: {client: sio, binary: "00"}
  - expect_message: {client: raw, matches: "(", within: 1s}
  - expect_message: {client: raw, binary: zz}
  - expect_message: {client: raw, text: a, json: {b: 1}}
  - expect_emit: {client: raw, event: x}
  - expect_emit: {client: sio}
  - expect_no_message: {client: sio}
  - emit: {client: c1, event: x}
`))
	if err == nil {
		t.Fatal("a file full of protocol mistakes parsed")
	}
	for _, want := range []string{
		`mix.yaml:6: connect: namespace is for protocol: socketio; subprotocols are for protocol: ws`,
		`mix.yaml:7: connect: heartbeat: a Socket.IO server pings its clients itself`,
		`mix.yaml:8: connect: transport polling is an Engine.IO transport, for protocol chat or socketio; a ws client is a WebSocket; path "echo" must start with /`,
		`mix.yaml:9: connect: protocol "mqtt" is not chat, chat_ws, socketio or ws`,
		`mix.yaml:10: emit: client "chat" speaks chat; emit is for socketio`,
		`mix.yaml:11: set_username: client "raw" speaks ws; set_username is for chat or chat_ws`,
		`mix.yaml:12: send: a chat message is text`,
		`mix.yaml:13: send: binary: Socket.IO binary packets are not supported`,
		`mix.yaml:14: expect_message: matches "(" is not a regular expression`,
		`mix.yaml:15: expect_message: binary "zz" is not hex bytes`,
		`mix.yaml:16: expect_message: give only one of text, matches, json or binary`,
		`mix.yaml:17: expect_emit: client "raw" speaks ws; expect_emit is for socketio`,
		`mix.yaml:18: expect_emit: event is required`,
		`mix.yaml:19: expect_no_message: for must be a positive duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got:\n%v\nwant a line containing %q", err, want)
		}
	}
	// c1's connect was wrong: what it would speak is unknown, so its emit
	// is not a knock-on problem.
	if n := strings.Count(err.Error(), "\n") + 1; n != 14 {
		t.Errorf("got %d problems, want 14:\n%v", n, err)
	}
}

// echoLab is a lab of in-process echo nodes (every frame comes straight
// back, on any path): a plain WebSocket app on the mock clock.
const echoLab = `
lab:
  nodes: 2
  node: {mode: echo}
  balancer: {listener: {idle_timeout: 60s}}
`

// TestAWSClientSendsAndExpectsFramesAndSurvivesAKill drives plain
// WebSocket clients on the mock clock: text, JSON and binary frames and
// what comes back, silence, a kill, the reconnect, and the summary.
func TestAWSClientSendsAndExpectsFramesAndSurvivesAKill(t *testing.T) {
	res := run(t, "name: ws-echo"+echoLab+`steps:
  - connect: {client: alice, protocol: ws, path: /anything, query: {room: a}, reconnect: true}
  - connect: {client: bob, protocol: ws}
  - send: {client: alice, text: hello}
  - expect_message: {client: alice, text: hello}
  - send: {client: alice, json: {type: broadcast, data: {n: 1}}}
  - expect_message: {client: alice, json: {type: broadcast}}
  - send: {client: alice, binary: "00ff10"}
  - expect_message: {client: alice, binary: "00ff10"}
  - expect_no_message: {client: bob, for: 10s}
  - kill: node-1
  - expect_closed: {client: alice, code: 1006}
  - expect_reconnected: {client: alice, within: 5s, node: node-2}
  - send: {client: alice, text: back}
  - expect_message: {client: alice, matches: "^ba"}
`, 1)
	for _, want := range []string{
		"connect alice via balancer (websocket /anything, reconnects) → node-1, generation 1",
		`alice sends json {"data":{"n":1},"type":"broadcast"}`,
		`alice receives json {"type":"broadcast"}`,
		"alice sends binary 00ff10",
		"alice receives binary 00ff10",
		"bob receives nothing for 10s",
		`alice receives a message matching "^ba"`,
		"client alice: closes 1006 at +10.000s; disconnected ",
		"; messages received 4",
		"client bob: closes none; disconnected 0.000s; reconnect attempts 0; messages received 0",
	} {
		lineWith(t, res, want)
	}
}

// TestAWrongExpectationOfAWSClientSaysStepLineTimeAndWhatCame: the
// failure names the step, its line, the virtual time and the frames the
// client did get.
func TestAWrongExpectationOfAWSClientSaysStepLineTimeAndWhatCame(t *testing.T) {
	sc := parse(t, "name: wrong"+echoLab+`steps:
  - connect: {client: alice, protocol: ws}
  - advance: 2s
  - send: {client: alice, text: hello}
  - expect_message: {client: alice, text: goodbye, within: 3s}
`)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if res.Passed {
		t.Fatalf("passed, want the expectation of goodbye to fail:\n%s", strings.Join(res.Transcript, "\n"))
	}
	want := `step 4 (expect_message, line 10) at +5.000s: alice receives "goodbye" within 3s; observed: received text "hello"`
	if got := res.Failure.String(); got != want {
		t.Fatalf("got failure\n%s\nwant\n%s", got, want)
	}
}

// TestExpectNoMessageFailsAtTheFirstArrival: a message during the window
// fails the step at the instant it came.
func TestExpectNoMessageFailsAtTheFirstArrival(t *testing.T) {
	sc := parse(t, `name: noisy
lab: {nodes: 2}
steps:
  - connect: {client: alice, reconnect: true}
  - kill: node-1
  - expect_no_message: {client: alice, for: 5s}
`)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	want := `step 3 (expect_no_message, line 6) at +1.197s: alice receives nothing for 5s; observed: at +1.197s it received "Welcome to the chatroom!"`
	if res.Passed || res.Failure.String() != want {
		t.Fatalf("got failure %v, want\n%s", res.Failure, want)
	}
}

// TestASocketIOClientEmitsAndExpectsEventsOfAnyShape speaks Socket.IO to
// the lab's own nodes without the chat steps: its events are matched by
// name and arguments.
func TestASocketIOClientEmitsAndExpectsEventsOfAnyShape(t *testing.T) {
	res := run(t, `name: sio
lab:
  nodes: 2
  balancer: {server_group: {stickiness: {type: lb_cookie}}}
steps:
  - connect: {client: alice, protocol: socketio}
  - expect_emit: {client: alice, event: node, args: [node-1]}
  - expect_message: {client: alice, matches: "^Welcome"}
  - emit: {client: alice, event: set_username, args: [alice]}
  - expect_emit: {client: alice, event: message, matches: "set to alice"}
  - connect: {client: bob, protocol: socketio, transport: polling}
  - emit: {client: alice, event: message, args: [hi]}
  - expect_message: {client: bob, text: "alice: hi", within: 1s}
  - connect: {client: carol, transport: default}
  - set_username: {client: carol, name: carol}
  - send: {client: carol, text: upgraded}
  - expect_message: {client: bob, text: "carol: upgraded"}
  - expect_open: {client: carol}
`, 1)
	for _, want := range []string{
		"connect alice via balancer (socket.io / over websocket) → node-1, generation 1",
		`alice receives "node" with ["node-1"]`,
		`alice emits "set_username" ["alice"]`,
		`alice receives "message" matching "set to alice"`,
		"connect bob via balancer (socket.io / over polling) → node-1",
		`bob receives "alice: hi"`,
		"connect carol via balancer (socketio default) → node-2, generation 1",
		"client alice: closes none; disconnected 0.000s; reconnect attempts 0; messages received ",
		"client carol: closes none; disconnected 0.000s; reconnect attempts 0; messages lost 0, duplicated 0",
	} {
		lineWith(t, res, want)
	}
}

// TestADriverStepThatDoesNotFitItsClientsProtocolFailsAsAFileWould: the
// Go API checks a step against its client's protocol as Parse does.
func TestADriverStepThatDoesNotFitItsClientsProtocolFailsAsAFileWould(t *testing.T) {
	ctx := context.Background()
	s, err := scenarios.NewSession(ctx, t.Name(), scenarios.Shape{Nodes: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Step(ctx, "connect", scenarios.ConnectArgs{Client: "alice"}); err != nil {
		t.Fatal(err)
	}
	err = s.Step(ctx, "emit", scenarios.EmitArgs{Client: "alice", Event: "x"})
	if want := `emit: client "alice" speaks chat; emit is for socketio`; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}
