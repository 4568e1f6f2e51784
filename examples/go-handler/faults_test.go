package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/scenarios"
	"github.com/wslab/wslab/scenarios/scenariotest"
)

// The lab's node faults, on two nodes of the app, each seen the way a
// client or the balancer sees it, on the mock clock.
func TestTheAppTakesEveryNodeFaultOnTheMockClock(t *testing.T) {
	d := scenariotest.Start(t, scenarios.Shape{
		Nodes: 2,
		Node:  lab.NodeSpec{NewHandler: newNode, Health: "/healthz"},
	}, 1)
	beat := config.Duration(20 * time.Second)
	d.Connect(scenarios.ConnectArgs{Client: "ann", Protocol: "chat_ws", Heartbeat: beat, Reconnect: true})
	d.Connect(scenarios.ConnectArgs{Client: "bob", Protocol: "chat_ws", Heartbeat: beat, Reconnect: true})
	d.ExpectOpen(scenarios.ExpectOpenArgs{Client: "ann", Node: "node-1"})
	d.ExpectOpen(scenarios.ExpectOpenArgs{Client: "bob", Node: "node-2"})

	// hang: health checks time out, the balancer takes node-1 out.
	d.Hang("node-1")
	d.ExpectEvent(scenarios.ExpectEventArgs{Kind: "backend.health", Backend: "node-1", Reason: "unhealthy", Within: config.Duration(time.Minute)})
	d.Start("node-1")
	d.ExpectEvent(scenarios.ExpectEventArgs{Kind: "backend.health", Backend: "node-1", Reason: "healthy", Within: config.Duration(time.Minute)})

	// The app answers through the balancer (slow is the lab's own test:
	// a send waits for its answer without moving the mock clock).
	d.Send(scenarios.SendArgs{Client: "bob", Text: "hello"})
	d.ExpectMessage(scenarios.ExpectMessageArgs{Client: "bob", Text: "hello"})

	// kill: no close frame; bob comes back on node-1.
	d.Kill("node-2")
	d.ExpectClosed(scenarios.ExpectClosedArgs{Client: "bob", Code: 1006})
	d.ExpectReconnected(scenarios.ExpectReconnectedArgs{Client: "bob", Within: config.Duration(30 * time.Second), Node: "node-1"})

	// restart: the app says goodbye with 1001 to both; they come back on
	// node-2, started again on its port, and node-1.
	d.Start("node-2")
	d.Restart("node-1")
	d.ExpectClosed(scenarios.ExpectClosedArgs{Client: "ann", Code: 1001})
	d.ExpectClosed(scenarios.ExpectClosedArgs{Client: "bob", Code: 1001})
	d.ExpectReconnected(scenarios.ExpectReconnectedArgs{Client: "ann", Within: config.Duration(30 * time.Second)})
	d.ExpectReconnected(scenarios.ExpectReconnectedArgs{Client: "bob", Within: config.Duration(30 * time.Second)})
	if t.Failed() || testing.Verbose() {
		t.Log("\n" + strings.Join(d.Transcript(), "\n"))
	}
}
