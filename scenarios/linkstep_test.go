package scenarios_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/scenarios"
	"github.com/wslab/wslab/scenarios/scenariotest"
)

func TestBadClientsAndLinkStepsAreRefusedWhenTheFileIsRead(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown key in clients", "lab:\n  clients: {command: x, cont: 5}\n", `unknown key "cont" in lab.clients`},
		{"count out of range", "lab:\n  clients: {command: x, count: 501}\n", "lab.clients.count: 501 is out of range 1-500"},
		{"count without command", "lab:\n  clients: {count: 5}\n", "lab.clients.count: 5 clients of no command"},
		{"clients not a mapping", "lab:\n  clients: 5\n", "lab.clients takes a mapping"},
		{"links not a bool", "lab:\n  links: maybe\n", `lab.links: "maybe" is not true or false`},
		{"link without a name", "steps:\n  - link: {blackhole: true}\n", "link: link is required"},
		{"nat drop on a node link", "steps:\n  - link: {link: node-1, nat_drop: true}\n", "only on link client"},
		{"bad direction", "steps:\n  - link: {link: client, latency: 1s, direction: sideways}\n", `direction "sideways" is not both, up or down`},
		{"jitter over latency", "steps:\n  - link: {link: client, latency: 10ms, jitter: 20ms}\n", "jitter needs a latency at least as large"},
		{"bad bandwidth", "steps:\n  - link: {link: client, bandwidth: fast}\n", "bandwidth:"},
		{"bad move", "steps:\n  - link: {link: client, move: home}\n", `move "home" is not an IP address`},
		{"unknown key in link", "steps:\n  - link: {link: client, latncy: 1s}\n", `unknown key "latncy" in link`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "name: bad\n" + tc.src
			if !strings.Contains(tc.src, "steps:") {
				src += "steps:\n  - advance: 1s\n"
			}
			_, err := scenarios.Parse("bad.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestALinkStepOnALinkTheLabDoesNotHaveNamesTheLinksItHas(t *testing.T) {
	s, err := scenarios.NewSession(context.Background(), "links", scenarios.Shape{Nodes: 1, Links: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Step(context.Background(), "link", scenarios.LinkArgs{Link: "node-9", Reset: true})
	if err == nil || !strings.Contains(err.Error(), `no link "node-9"; links are: client, node-1`) {
		t.Errorf("got %v, want the links named", err)
	}
}

func TestALinkStepSetsTheFaultsItNamesAndClearCleansTheLink(t *testing.T) {
	d := scenariotest.Start(t, scenarios.Shape{Nodes: 1, Links: true}, 1)
	lat := config.Duration(300 * time.Millisecond)
	d.Link(scenarios.LinkArgs{Link: "node-1", Latency: &lat, Direction: "down"})
	if got, want := d.Lab().Link("node-1").Faults().String(), "down latency 300ms"; got != want {
		t.Errorf("got faults %q, want %q", got, want)
	}
	d.Link(scenarios.LinkArgs{Link: "node-1", Clear: true})
	if got := d.Lab().Link("node-1").Faults().String(); got != "none" {
		t.Errorf("got faults %q after clear, want none", got)
	}
	last := d.Transcript()[len(d.Transcript())-1]
	if !strings.Contains(last, "link node-1: faults none") {
		t.Errorf("got transcript line %q, want it to say the link is clean", last)
	}
}

// A client whose NAT mapping is gone never hears that the balancer closed
// its connection: the runner must not wait for it to (5 s of wall time at
// every look, 25 s for nat-drop before it knew; under a second now).
func TestANATDroppedClientCostsNoWallTimeWaitingForACloseThatCannotArrive(t *testing.T) {
	sc, _, err := scenarios.Builtin("nat-drop")
	if err != nil {
		t.Fatal(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if !res.Passed {
		t.Fatalf("nat-drop failed: %v", res.Failure)
	}
	if res.Wall > 4*time.Second {
		t.Errorf("got %s of wall time, want well under the 5 s a wait for the close would take", res.Wall)
	}
}
