package scenarios_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wslab/wslab/scenarios"
)

const quietFor6Min = `
name: quiet
lab: {nodes: 1, profile: aws-nlb}
steps:
  - connect: {client: quiet, protocol: chat_ws}
  - advance: 349s
  - expect_open: {client: quiet}
  - advance: 1s
  - expect_closed: {client: quiet, reason: idle_timeout}
`

func TestAScenarioRunsAgainstTheProfileItNames(t *testing.T) {
	res := scenarios.Run(context.Background(), parse(t, quietFor6Min), scenarios.Options{})
	if !res.Passed || res.Profile != "aws-nlb" {
		t.Fatalf("got passed=%v profile %q (%v), want a pass against aws-nlb (idle 350s)", res.Passed, res.Profile, res.Failure)
	}
	if !strings.Contains(res.Summary(), "profile aws-nlb") {
		t.Errorf("summary %q does not name the profile", res.Summary())
	}
}

func TestTheProfileOptionRunsAScenarioAgainstAnotherVendor(t *testing.T) {
	res := scenarios.Run(context.Background(), parse(t, quietFor6Min), scenarios.Options{Profile: "aws-alb"})
	if res.Passed || res.Profile != "aws-alb" || res.Failure.Observed != "closed at +60.000s with 1006 (idle_timeout)" || res.Failure.Step != 3 {
		t.Fatalf("got passed=%v profile %q failure %+v; want it to fail at step 3, the ALB having cut at 60 s", res.Passed, res.Profile, res.Failure)
	}
}

func TestAnUnknownProfileInAScenarioIsAParseError(t *testing.T) {
	_, err := scenarios.Parse("test.yaml", []byte("name: x\nlab: {profile: aws-elb}\nsteps:\n  - advance: 1s\n"))
	if err == nil || !strings.Contains(err.Error(), `lab.profile: unknown profile "aws-elb"`) {
		t.Fatalf("got %v, want lab.profile naming the unknown profile", err)
	}
}

// A lab that cannot start fails before its first step, and says so rather
// than "step 0 (lab, line 0)".
func TestALabThatCannotStartFailsSayingSoNotAsStepZero(t *testing.T) {
	sc := parse(t, "name: x\nlab: {nodes: 1, balancer: {listener: {idle_timeout: 60s}}}\nsteps:\n  - advance: 1s\n")
	res := scenarios.Run(context.Background(), sc, scenarios.Options{Profile: "gcp-lb"})
	if res.Passed || res.Failure == nil {
		t.Fatal("an idle timeout with gcp-lb, which has no idle timer, passed")
	}
	if got, want := res.Failure.String(), "starting the lab: invalid balancer config: listener.idle_timeout: 60s has no effect"; !strings.HasPrefix(got, want) {
		t.Fatalf("got %q, want it to start with %q", got, want)
	}
}
