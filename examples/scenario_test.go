//go:build unix

package examples_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wslab/wslab/scenarios"
)

// exampleScenario reads examples/<example>/scenarios/<file>, written to run
// from the repository's root with `node` on the PATH, for a test: the node
// binary of LAB_TEST_NODE and the example's directory from here.
func exampleScenario(t *testing.T, example, file string) *scenarios.Scenario {
	t.Helper()
	bin := nodeBin(t, example)
	path := filepath.Join(example, "scenarios", file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseExample(t, path, bin, string(data))
}

func parseExample(t *testing.T, name, bin, src string) *scenarios.Scenario {
	t.Helper()
	src = strings.ReplaceAll(src, "command: node ", "command: "+bin+" ")
	src = strings.ReplaceAll(src, "dir: examples/", "dir: ")
	sc, err := scenarios.Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func runExample(t *testing.T, sc *scenarios.Scenario) scenarios.Result {
	t.Helper()
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if !res.Passed {
		t.Fatalf("failed: %s\ntranscript:\n%s", res.Failure, strings.Join(res.Transcript, "\n"))
	}
	return res
}

// failsWith runs the scenario src, whose nodes are the example's, and
// checks that it fails and that its failure matches the regular
// expression want.
func failsWith(t *testing.T, example, src, want string) {
	t.Helper()
	sc := parseExample(t, "wrong.yaml", nodeBin(t, example), src)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if res.Passed {
		t.Fatalf("passed, want it to fail with %s:\n%s", want, strings.Join(res.Transcript, "\n"))
	}
	if got := res.Failure.String(); !regexp.MustCompile(want).MatchString(got) {
		t.Fatalf("got failure\n%s\nwant it to match %s", got, want)
	}
}

func wantLines(t *testing.T, res scenarios.Result, wants ...string) {
	t.Helper()
	all := strings.Join(res.Transcript, "\n")
	for _, w := range wants {
		if !strings.Contains(all, w) {
			t.Errorf("no transcript line contains %q:\n%s", w, all)
		}
	}
}

// TestAWSScenarioDrivesThePlainWebSocketExample runs the example's own
// protocol: ws scenario: JSON room and echo frames, a kill and the
// reconnect, a drain with 1001 — on the real clock, as command nodes.
func TestAWSScenarioDrivesThePlainWebSocketExample(t *testing.T) {
	res := runExample(t, exampleScenario(t, wsExample, "room.yaml"))
	wantLines(t, res,
		"connect alice via balancer (websocket /room/demo offering chat.v1, reconnects) → node-1",
		`alice receives json {"node":"node-1","protocol":"chat.v1","room":"demo","type":"welcome"}`,
		"bob receives binary 00ff",
		"alice closed: 1006",
		"alice reconnects via balancer",
		"bob closed: 1001 (balancer: drained)",
		"client alice: closes 1006 at +",
		"client bob: closes 1001 at +",
	)
}

// TestAWrongExpectationAgainstTheWSExampleSaysStepLineTimeAndWhatCame: the
// failure of an expectation the app does not meet names the step, its
// line, the time and the frames the client got instead.
func TestAWrongExpectationAgainstTheWSExampleSaysStepLineTimeAndWhatCame(t *testing.T) {
	failsWith(t, wsExample, `name: wrong
lab:
  nodes: 1
  node: {command: node server.js, dir: examples/plain-ws, health: /healthz}
steps:
  - connect: {client: alice, protocol: ws, path: /echo}
  - send: {client: alice, text: hello}
  - expect_message: {client: alice, text: goodbye, within: 1s}
`, `^step 3 \(expect_message, line 8\) at \+\d+\.\d{3}s: alice receives "goodbye" within 1s; observed: received text "hello"$`)
}

const ordersExample = "socketio-orders"

// TestASocketIOScenarioDrivesAnAppWhoseEventsAreNotOurs runs the
// socketio-orders example's scenario: a namespace and a handshake query,
// events with object arguments and acks, a long-polling client kept on its
// node by lb_cookie, a kill and the reconnect, a drain with 1001.
func TestASocketIOScenarioDrivesAnAppWhoseEventsAreNotOurs(t *testing.T) {
	res := runExample(t, exampleScenario(t, ordersExample, "orders.yaml"))
	wantLines(t, res,
		"connect ann via balancer (socket.io /orders over websocket, reconnects) → node-1",
		`ann's "place" is acknowledged: [{"ok":true,"id":1,"node":"node-1"}]`,
		`ben receives "placed" with [{"id":1,"item":"tea"}]`,
		"ben receives nothing for 500ms",
		"ann closed: 1006",
		`ann's "orders" is acknowledged: [{"node":"node-2","count":0,"items":[]}]`,
		"ann closed: 1001 (balancer: drained)",
		"client ann: closes 1006 at +",
		"client ben: closes none;",
	)
}

// TestAWrongExpectationAgainstTheSocketIOExampleSaysWhatCame: an event
// with other arguments than expected fails, naming the step, its line, the
// time and the events the client got.
func TestAWrongExpectationAgainstTheSocketIOExampleSaysWhatCame(t *testing.T) {
	failsWith(t, ordersExample, `name: wrong
lab:
  nodes: 1
  node: {command: node server.js, dir: examples/socketio-orders, health: /healthz}
steps:
  - connect: {client: ann, protocol: socketio, namespace: /orders}
  - emit: {client: ann, event: place, args: [{item: tea, qty: 2}], ack: true}
  - expect_emit: {client: ann, event: placed, args: [{item: coffee}], within: 1s}
`, `^step 3 \(expect_emit, line 8\) at \+\d+\.\d{3}s: ann receives "placed" with \[\{"item":"coffee"\}\] within 1s; observed: received "hello" \[.*\], "message" \["connected to node-1"\], "placed" \[\{"id":1,"item":"tea","qty":2,"desk":"main"\}\]$`)
}
