package app_test

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/scenarios"
	"github.com/wslab/wslab/scenarios/scenariotest"

	app "gohandler"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// newNode is how the lab builds the app at every start of its node: with
// the lab's clock and its stop signal.
func newNode(env lab.HandlerEnv) http.Handler {
	return app.New(app.Config{Name: env.Name, Clock: env.Clock, Stopping: env.Stopping})
}

// idleTimeoutStory puts the app behind the balancer on the mock clock and
// tells the idle-timeout story: a quiet client is cut by the balancer's
// 60 s idle timeout, one with a 25 s heartbeat survives; with the
// balancer's timeout raised, the app's own 2 min limit (on the lab's
// clock) closes a quiet client with 4000; a stop gets 1001 from the app.
func idleTimeoutStory(t *testing.T) []string {
	d := scenariotest.Start(t, scenarios.Shape{
		Nodes:    1,
		Node:     lab.NodeSpec{NewHandler: newNode, Health: "/healthz"},
		Balancer: config.Config{Listener: config.Listener{IdleTimeout: config.Duration(60 * time.Second)}},
	}, 1)
	d.Connect(scenarios.ConnectArgs{Client: "quiet", Protocol: "chat_ws"})
	d.Connect(scenarios.ConnectArgs{Client: "beating", Protocol: "chat_ws", Heartbeat: config.Duration(25 * time.Second)})
	d.ExpectClosed(scenarios.ExpectClosedArgs{Client: "quiet", Code: 1006, Within: config.Duration(60 * time.Second), Reason: "idle_timeout"})
	d.ExpectOpen(scenarios.ExpectOpenArgs{Client: "beating", Node: "node-1"})
	d.Advance(5 * time.Minute)
	d.ExpectOpen(scenarios.ExpectOpenArgs{Client: "beating"})

	d.ReloadYAML("listener: {idle_timeout: 10m}\n")
	d.Connect(scenarios.ConnectArgs{Client: "lurker", Protocol: "chat_ws"})
	d.ExpectClosed(scenarios.ExpectClosedArgs{Client: "lurker", Code: int(app.StatusIdle), Within: config.Duration(2 * time.Minute), Reason: "backend_closed"})
	d.ExpectOpen(scenarios.ExpectOpenArgs{Client: "beating"})

	d.Stop("node-1")
	d.ExpectClosed(scenarios.ExpectClosedArgs{Client: "beating", Code: 1001})
	return d.Transcript()
}

func TestTheIdleTimeoutStoryIsTheSameTwentyRunsInARow(t *testing.T) {
	const runs = 20
	var first string
	for i := range runs {
		var got string
		t.Run(fmt.Sprintf("run %d", i+1), func(t *testing.T) { got = strings.Join(idleTimeoutStory(t), "\n") + "\n" })
		if t.Failed() {
			return
		}
		if i == 0 {
			first = got
			continue
		}
		if got != first {
			t.Fatalf("run %d's transcript differs from run 1's:\n%s\nwant:\n%s", i+1, got, first)
		}
	}
	golden := filepath.Join("testdata", "idle-timeout.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(first), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if first != string(want) {
		t.Fatalf("got transcript:\n%s\nwant %s:\n%s", first, golden, want)
	}
}
