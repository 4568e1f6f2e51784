package scenarios_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/scenarios"
)

func run(t *testing.T, src string, seed uint64) scenarios.Result {
	t.Helper()
	res := scenarios.Run(context.Background(), parse(t, src), scenarios.Options{Seed: seed})
	if !res.Passed {
		t.Fatalf("failed: %s\ntranscript:\n%s", res.Failure, strings.Join(res.Transcript, "\n"))
	}
	return res
}

func lineWith(t *testing.T, res scenarios.Result, part string) string {
	t.Helper()
	for _, l := range res.Transcript {
		if strings.Contains(l, part) {
			return l
		}
	}
	t.Fatalf("no transcript line contains %q:\n%s", part, strings.Join(res.Transcript, "\n"))
	return ""
}

const lonelyNode = `
name: lonely
lab: {nodes: 1}
steps:
  - connect: {client: alice, protocol: chat_ws, reconnect: true}
  - kill: node-1
  - expect_closed: {client: alice, code: 1006}
  - advance: 10s
  - start: node-1
  - expect_reconnected: {client: alice, within: 10s, node: node-1}
`

// TestAClientThatReconnectsBacksOffAsSocketIOClientDoes: with its only
// node down, a reconnecting client tries after about 1 s, then about 2 s,
// 4 s, then every 5 s at most (±50 %), each failure in the transcript,
// until the node is back; the same seed gives the same delays.
func TestAClientThatReconnectsBacksOffAsSocketIOClientDoes(t *testing.T) {
	res := run(t, lonelyNode, 1)
	var fails []string
	for _, l := range res.Transcript {
		if strings.Contains(l, "failed (") {
			fails = append(fails, l)
		}
	}
	if len(fails) < 3 {
		t.Fatalf("got %d failed attempts in 10 s with the node down, want at least 3:\n%s", len(fails), strings.Join(res.Transcript, "\n"))
	}
	// Each failure names the next delay: the n-th (0-based) is 2^n s
	// within ±50 %, never over 5 s.
	for i, l := range fails {
		_, after, _ := strings.Cut(l, "next in ")
		d, err := time.ParseDuration(after)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		base := time.Duration(1<<(i+1)) * time.Second
		if d < min(base/2, 5*time.Second) || d > min(base*3/2, 5*time.Second) {
			t.Errorf("delay after attempt %d: got %s, want %s ±50%% and at most 5s", i+1, d, base)
		}
		if !strings.Contains(l, "(HTTP 50") {
			t.Errorf("%q: want the balancer's 5xx named", l)
		}
	}
	c := res.Clients[0]
	if len(c.Closes) != 1 || c.Closes[0].Code != 1006 || c.Attempts != len(fails)+1 || c.Reconnects != 1 {
		t.Fatalf("summary %+v, want one 1006 close, %d attempts, 1 reconnect", c, len(fails)+1)
	}
	if again := run(t, lonelyNode, 1); !slices.Equal(again.Transcript, res.Transcript) {
		t.Fatalf("the same seed gave another transcript:\n%s\nthen:\n%s", strings.Join(res.Transcript, "\n"), strings.Join(again.Transcript, "\n"))
	}
	if other := run(t, lonelyNode, 2); slices.Equal(other.Transcript, res.Transcript) {
		t.Fatal("seeds 1 and 2 gave the same jitter")
	}
}

// TestTheSummaryCountsWhatAClientMissedWhileAway: what bob says while
// alice reconnects is missed by her, counted apart from messages lost
// while she was connected; her time away is the virtual time until her
// reconnect.
func TestTheSummaryCountsWhatAClientMissedWhileAway(t *testing.T) {
	res := run(t, `
name: away
lab: {nodes: 2}
steps:
  - connect: {client: alice, reconnect: true}
  - connect: {client: bob}
  - set_username: {client: bob, name: bob}
  - kill: node-1
  - expect_closed: {client: alice, code: 1006}
  - send: {client: bob, text: "anyone?"}
  - expect_reconnected: {client: alice, within: 2s}
  - send: {client: bob, text: welcome back}
  - expect_message: {client: alice, text: "bob: welcome back"}
`, 1)
	a, b := res.Clients[0], res.Clients[1]
	back := lineWith(t, res, "alice reconnects via balancer")
	if a.Missed != 1 || a.Lost != 0 || a.Duplicated != 0 || a.Attempts != 1 || !strings.HasPrefix(back, "+"+strings.TrimSuffix(a.Disconnected.String(), "s")) {
		t.Fatalf("alice: %+v (reconnected: %q), want 1 missed, none lost, 1 attempt, away until the reconnect", a, back)
	}
	if b.Missed != 0 || b.Lost != 0 || len(b.Closes) != 0 {
		t.Fatalf("bob: %+v, want nothing lost or missed, no close", b)
	}
	if last := res.Transcript[len(res.Transcript)-2]; !strings.Contains(last, "client alice: closes 1006 at +0.000s; disconnected ") ||
		!strings.Contains(last, "messages lost 0, duplicated 0, missed while disconnected 1") {
		t.Fatalf("summary line %q", last)
	}
}

// TestAWrongCloseCodeFailsSayingWhatTheClientSaw: a drain without a
// close frame reaches the client as 1006; expecting 1001 fails with both.
func TestAWrongCloseCodeFailsSayingWhatTheClientSaw(t *testing.T) {
	sc := parse(t, `
name: wrong-code
lab:
  nodes: 2
  balancer: {server_group: {deregistration_delay: 10s}}
steps:
  - connect: {client: alice, protocol: chat_ws}
  - connect: {client: bob, protocol: chat_ws}
  - remove_node: node-2
  - expect_closed: {client: bob, code: 1001, within: 30s}
`)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if res.Passed {
		t.Fatal("a 1006 passed for a 1001")
	}
	if f := res.Failure; f.Line != 10 || f.Virtual != 10*time.Second || f.Message != "bob closed with 1001" || f.Observed != "closed with 1006 (drained)" {
		t.Fatalf("failure %+v", f)
	}
}

// TestExpectClosedWithinEndsWhenTheClientSeesIt: a window of virtual time
// ends at the instant the close happens, not at the window's end.
func TestExpectClosedWithinEndsWhenTheClientSeesIt(t *testing.T) {
	res := run(t, `
name: within
lab: {nodes: 1, balancer: {listener: {idle_timeout: 20s}}}
steps:
  - connect: {client: alice, protocol: chat_ws}
  - expect_closed: {client: alice, code: 1006, within: 5m}
  - expect_closed: {client: alice, code: 1006, reason: idle_timeout}
`, 1)
	if got := lineWith(t, res, "alice closed: 1006"); got != "+20.000s alice closed: 1006" {
		t.Fatalf("got %q, want the close at +20s", got)
	}
	if res.Virtual != 20*time.Second {
		t.Fatalf("the run ended at %s, want 20s", res.Virtual)
	}
}
