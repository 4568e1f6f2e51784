package scenarios_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/scenarios"
)

func TestALabShapeRunsYourAppAsNodesPerShapeAndPerNode(t *testing.T) {
	src := `name: your-app
lab:
  nodes: 3
  node: {command: "node server.js", dir: examples/chat, health: /healthz, ready_timeout: 20s, stop_grace: 2s, kill_cmd: "docker kill {name}"}
steps:
  - connect: {client: a}
`
	sc, err := scenarios.Parse("app.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := lab.NodeSpec{Command: "node server.js", Dir: "examples/chat", Health: "/healthz", ReadyTimeout: 20 * time.Second, StopGrace: 2 * time.Second, KillCmd: "docker kill {name}"}
	if sc.Lab.Nodes != 3 || sc.Lab.Node.Command != want.Command || sc.Lab.Node.ReadyTimeout != want.ReadyTimeout || sc.Lab.Node.KillCmd != want.KillCmd {
		t.Fatalf("got %d nodes of %+v, want 3 of %+v", sc.Lab.Nodes, sc.Lab.Node, want)
	}

	src = `name: mixed
lab:
  node: {health: /healthz}
  nodes:
    - {command: "./app --port {port}"}
    - {name: remote, url: "http://10.0.0.5:3000"}
    - {mode: echo}
steps:
  - connect: {client: a}
`
	sc, err = scenarios.Parse("mixed.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "mixed.yaml:3: lab.node.health: only a command or url node takes it") {
		t.Fatalf("a health path on our chat node template: got %v, want it refused", err)
	}
	sc, err = scenarios.Parse("mixed.yaml", []byte(strings.Replace(src, "  node: {health: /healthz}\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	kinds := []lab.Kind{}
	for _, s := range sc.Lab.NodeList {
		kinds = append(kinds, s.Kind())
	}
	if len(kinds) != 3 || kinds[0] != lab.KindCommand || kinds[1] != lab.KindURL || kinds[2] != lab.KindEcho || sc.Lab.NodeList[1].Name != "remote" {
		t.Fatalf("got kinds %v, want command, url (remote), echo", kinds)
	}
}

func TestABadNodeSpecIsAnErrorAtItsLine(t *testing.T) {
	src := `name: bad
lab:
  nodes:
    - {command: x, url: "http://a:1"}
    - {comand: x}
    - {url: "ftp://a"}
    - 3
  node: {ready_timeout: soon}
steps:
  - connect: {client: a}
`
	_, err := scenarios.Parse("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("parsed, want errors")
	}
	for _, want := range []string{
		`bad.yaml:4: lab.nodes[0].url: a node is either a command the lab starts or a url it does not own, not both`,
		`bad.yaml:5: unknown key "comand" in lab.nodes[1] (keys: name, mode, command,`,
		`bad.yaml:6: lab.nodes[2].url: "ftp://a" is not an http:// or https:// URL`,
		`bad.yaml:7: lab.nodes[3] takes a mapping like {command:`,
		`bad.yaml:8: lab.node.ready_timeout: "soon" is not a duration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q; got:\n%s", want, err)
		}
	}
}
