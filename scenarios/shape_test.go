package scenarios_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/wslab/wslab/scenarios"
)

// TestEveryProblemOfTheLabIsListedWithItsLine: a scenario's lab: mapping
// with many mistakes gets them all in one error, each with its line and
// none with a Go type name.
func TestEveryProblemOfTheLabIsListedWithItsLine(t *testing.T) {
	src := `name: bad-lab
labb: 1
lab:
  nodez: 3
  nodes: many
  ping_interval: soon
  ping_timeout: -1s
  balancer:
    listener:
      idle_timeout: 0.5s
      idel: 3
    server_group:
      policy: random
      retries: lots
      servers:
        - {name: a, url: 'http://127.0.0.1:1'}
        - {name: a, url: 'http://127.0.0.1:2'}
steps:
  - connect: {client: a}
`
	_, err := scenarios.Parse("bad.yaml", []byte(src))
	var pe *scenarios.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want ParseErrors", err)
	}
	got := err.Error()
	for _, want := range []string{
		`bad.yaml:2: unknown key labb`,
		`bad.yaml:4: unknown key "nodez" in lab`,
		`bad.yaml:5: lab.nodes: "many" is not a number of nodes (1-64)`,
		`bad.yaml:6: lab.ping_interval: "soon" is not a duration`,
		`bad.yaml:7: lab.ping_timeout: -1s must be positive`,
		`bad.yaml:10: lab.balancer.listener.idle_timeout: 500ms is out of range`,
		`bad.yaml:11: lab.balancer.listener.idel: unknown field`,
		`bad.yaml:13: lab.balancer.server_group.policy: "random" is not round_robin`,
		`bad.yaml:14: lab.balancer.server_group.retries: "lots" is not a whole number`,
		`bad.yaml:17: lab.balancer.server_group.servers[1].name: "a" is already the name of servers[0]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the error lacks %q; got:\n%s", want, got)
		}
	}
	if m := regexp.MustCompile(`\b(balancer|scenarios)\.[A-Z]\w+|!!\w+|\bint\b`).FindString(got); m != "" {
		t.Errorf("the error names a Go type (%q):\n%s", m, got)
	}
}

func TestALabWithTheDefaultsNeedsNoLabKey(t *testing.T) {
	sc, err := scenarios.Parse("ok.yaml", []byte("name: ok\nsteps:\n  - connect: {client: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Lab.Nodes != 0 {
		t.Fatalf("got %d nodes, want 0 (the lab's default)", sc.Lab.Nodes)
	}
	sc, err = scenarios.Parse("ok.yaml", []byte("name: ok\nlab: {nodes: 3, ping_interval: 30s, balancer: {listener: {idle_timeout: 10s}}}\nsteps:\n  - connect: {client: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Lab.Nodes != 3 || sc.Lab.PingInterval.String() != "30s" || sc.Lab.Balancer.Listener.IdleTimeout.String() != "10s" {
		t.Fatalf("got %+v, want 3 nodes, ping 30s, idle timeout 10s", sc.Lab)
	}
}
