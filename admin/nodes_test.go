package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node"
)

func TestTheNodesOfEveryKindAreListedAndWhatAKindCannotDoIsRefusedByName(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 1, NodeList: []lab.NodeSpec{{URL: "http://127.0.0.1:1"}}})
	resp, err := http.Get(l.Admin.URL() + "/api/nodes")
	if err != nil {
		t.Fatal(err)
	}
	var nodes []node.State
	err = json.NewDecoder(resp.Body).Decode(&nodes)
	resp.Body.Close()
	if err != nil || len(nodes) != 2 {
		t.Fatalf("GET /api/nodes: %v, %d nodes; want 2", err, len(nodes))
	}
	if nodes[0].Kind != "chat" || len(nodes[0].Faults) != 6 || nodes[1].Kind != "url" || nodes[1].Listening || len(nodes[1].Faults) != 0 {
		t.Fatalf("got %+v, want a chat node taking every fault and a url node not answering, taking none", nodes)
	}

	resp, err = http.Post(l.Admin.URL()+"/api/nodes/node-2/kill", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "node-2 is a url node: kill is not possible; ") {
		t.Fatalf("kill of a url node: %d %s, want 409 refusing it by name", resp.StatusCode, body)
	}

	resp, err = http.Post(l.Admin.URL()+"/api/nodes/node-1/kill", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		node.State
		Did string `json:"did"`
	}
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || res.Name != "node-1" || res.Listening {
		t.Fatalf("kill of a chat node: %d %+v %v, want node-1 down", resp.StatusCode, res, err)
	}
}
