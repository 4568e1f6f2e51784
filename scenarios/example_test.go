package scenarios_test

import (
	"context"
	"fmt"

	"github.com/wslab/wslab/scenarios"
)

// Run a scenario from Go: a 60 s idle timeout takes milliseconds on the
// mock clock. In a test, scenariotest.RunFile(t, "my.yaml") does the same
// and fails t with the transcript; scenariotest.Start(t, ...) drives a lab
// step by step.
func Example() {
	sc, err := scenarios.Parse("inline.yaml", []byte(`
name: quiet-client
lab: {nodes: 2}
steps:
  - connect: {client: alice, protocol: chat_ws}
  - advance: 60s
  - expect_closed: {client: alice, code: 1006, reason: idle_timeout}
`))
	if err != nil {
		panic(err)
	}
	res := scenarios.Run(context.Background(), sc, scenarios.Options{})
	for _, line := range res.Transcript {
		fmt.Println(line)
	}
	fmt.Println(scenarios.Totals([]scenarios.Result{res}))
	// Output:
	// +0.000s connect alice via balancer (ws) → node-1, generation 1
	// +0.000s advance 1m0s
	// +60.000s alice closed: 1006 (balancer: idle_timeout)
	// +60.000s client alice: closes 1006 at +60.000s; disconnected 0.000s; reconnect attempts 0; messages lost 0, duplicated 0
	// 1 passed, 0 failed
}
