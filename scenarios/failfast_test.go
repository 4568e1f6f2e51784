package scenarios_test

import (
	"context"
	"testing"
	"time"

	"github.com/wslab/wslab/scenarios"
)

// TestAFailingExpectationOnTheMockClockFailsInWellUnderASecond: a message
// that never comes, awaited for 30 s of virtual time, fails as soon as the
// lab has nothing left in flight, not after seconds of wall time.
func TestAFailingExpectationOnTheMockClockFailsInWellUnderASecond(t *testing.T) {
	sc := parse(t, `
name: never
lab: {nodes: 1}
steps:
  - connect: {client: alice, transport: ws, heartbeat: 10s}
  - expect_message: {client: alice, text: "nobody says this", within: 30s}
`)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	if res.Passed {
		t.Fatal("an expectation of a message nobody sends passed")
	}
	if f := res.Failure; f.Step != 2 || f.Virtual != 30*time.Second {
		t.Fatalf("failure %+v, want step 2 at +30s", f)
	}
	// The whole run: a lab started and stopped, 30 s of virtual time and
	// the failed wait.
	if res.Wall >= time.Second {
		t.Fatalf("the run took %s of wall time, want well under a second", res.Wall)
	}
	t.Logf("failed after %s of virtual time in %s of wall time", res.Virtual, res.Wall.Round(time.Millisecond))
}
