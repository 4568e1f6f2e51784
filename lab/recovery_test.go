package lab_test

import (
	"strings"
	"testing"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/lab"
)

// TestALabWithRecoveryGivesEveryChatNodeIt: lab.node.recovery (lab up
// --recovery) reaches every chat node, a node listed on its own included:
// its Socket.IO CONNECT answer carries a private id.
func TestALabWithRecoveryGivesEveryChatNodeIt(t *testing.T) {
	l, err := lab.Start(chattest.Ctx(t), lab.Config{
		NoBalancer: true, Nodes: 1, Node: lab.NodeSpec{Recovery: true},
		NodeList: []lab.NodeSpec{{Name: "extra"}}, Clock: quartz.NewMock(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, n := range l.Nodes() {
		u := strings.Replace(n.URL(), "http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
		c, _, err := websocket.Dial(chattest.Ctx(t), u, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.Read(chattest.Ctx(t)) // open
		c.Write(chattest.Ctx(t), websocket.MessageText, []byte("40"))
		_, answer, err := c.Read(chattest.Ctx(t))
		if err != nil || !strings.Contains(string(answer), `"pid":`) {
			t.Fatalf("%s answered CONNECT with %q (%v), want a private id: recovery on", n.Name(), answer, err)
		}
	}
}

// TestChatNodesThatDifferOnRecoveryAreRefusedByName: they would chat on
// two different buses.
func TestChatNodesThatDifferOnRecoveryAreRefusedByName(t *testing.T) {
	_, err := lab.Start(chattest.Ctx(t), lab.Config{
		NoBalancer: true, Nodes: 1,
		NodeList: []lab.NodeSpec{{Name: "with", Recovery: true}}, Clock: quartz.NewMock(t),
	})
	if err == nil || !strings.Contains(err.Error(), "recovery: with has it and node-1 does not") {
		t.Fatalf("got %v, want the mismatch named", err)
	}
	_, err = lab.Start(chattest.Ctx(t), lab.Config{NoBalancer: true, Node: lab.NodeSpec{Mode: "echo", Recovery: true}})
	if err == nil || !strings.Contains(err.Error(), "node.recovery: only the lab's chat node") {
		t.Fatalf("got %v, want recovery on an echo node refused", err)
	}
}
