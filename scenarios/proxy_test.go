package scenarios_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/proxies"
	"github.com/wslab/wslab/scenarios"
)

// shortProxyScenario is what a person sees through any front door, in
// seconds of real time: an idle cut, a reload of the timeout, a failover.
const shortProxyScenario = `name: through-a-proxy
description: Client-observable expectations only; a proxy publishes none of our balancer's events.
lab:
  nodes: 2
  balancer:
    listener: {idle_timeout: 2s}
steps:
  - connect: {client: quiet, protocol: chat_ws}
  - connect: {client: chatty, protocol: chat_ws, heartbeat: 1s}
  - expect_closed: {client: quiet, code: 1006, within: 3s}
  - expect_open: {client: chatty}
  - reload: {listener: {idle_timeout: 3s}}
  - connect: {client: later, protocol: chat_ws}
  - expect_closed: {client: later, code: 1006, within: 4s}
  - kill: node-1
  - connect: {client: late, protocol: chat_ws}
  - expect_open: {client: late, node: node-2}
`

func TestAScenarioRunsAgainstEachProxyOnTheRealClock(t *testing.T) {
	sc, err := scenarios.Parse("through-a-proxy.yaml", []byte(shortProxyScenario))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range proxies.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			if _, err := proxies.Binary(kind); err != nil {
				t.Skipf("%v (.ci/run installs it)", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res := scenarios.Run(ctx, sc, scenarios.Options{Balancer: string(kind)})
			if !res.Passed {
				t.Fatalf("through %s: got %v, want a pass; transcript:\n%v", kind, res.Failure, res.Transcript)
			}
		})
	}
}

func TestAnExpectationOfTheBuiltinBalancersReasonSaysWhatTheProxyShowedInstead(t *testing.T) {
	if _, err := proxies.Binary(proxies.Nginx); err != nil {
		t.Skipf("%v (.ci/run installs it)", err)
	}
	sc, err := scenarios.Parse("reason.yaml", []byte(`name: reason
lab: {nodes: 1, balancer: {listener: {idle_timeout: 1s}}}
steps:
  - connect: {client: quiet, protocol: chat_ws}
  - expect_closed: {client: quiet, code: 1006, reason: idle_timeout, within: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{Balancer: "nginx"})
	f := res.Failure
	if res.Passed || f == nil || f.Message != "quiet closed with 1006 (idle_timeout)" || f.Observed != "closed with 1006; nginx gives no close reason the lab can read" {
		t.Fatalf("got %v, want a failure saying nginx closed it with 1006 and gives no reason", f)
	}
}

func TestATranscriptThroughAProxyGivesItsConnectionsNoGeneration(t *testing.T) {
	if _, err := proxies.Binary(proxies.HAProxy); err != nil {
		t.Skipf("%v (.ci/run installs it)", err)
	}
	sc, err := scenarios.Parse("gen.yaml", []byte(`name: gen
lab: {nodes: 2}
steps:
  - connect: {client: alice, protocol: chat_ws}
  - connect: {client: bob, reconnect: true}
  - expect_open: {client: alice, node: node-1}
  - kill: node-2
  - expect_closed: {client: bob, code: 1006}
  - expect_reconnected: {client: bob, within: 5s, node: node-1}
  - expect_open: {client: alice, generation: 1}
`))
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{Balancer: "haproxy"})
	for _, line := range res.Transcript {
		if strings.Contains(line, "generation") && !strings.Contains(line, "FAIL step 7") {
			t.Errorf("got line %q, want no generation for a connection through haproxy (the lab's count of its configs is not a connection's)", line)
		}
	}
	f := res.Failure
	if f == nil || f.Step != 7 || f.Observed != "haproxy gives no config generation the lab can read for a connection" {
		t.Errorf("got failure %v, want step 7 failing with haproxy giving no generation", f)
	}
}
