package scenarios_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/scenarios"
)

// balancerOnly says what in a step only the built-in balancer can show:
// a proxy publishes none of its events, reasons, generations or counts.
func balancerOnly(st scenarios.Step) string {
	switch a := st.Args.(type) {
	case scenarios.ExpectEventArgs:
		if !strings.HasPrefix(a.Source, "node-") {
			return "an event that is not from one of the lab's nodes"
		}
	case scenarios.ExpectClosedArgs:
		if a.Reason != "" {
			return "the balancer's close reason"
		}
	case scenarios.ExpectOpenArgs:
		if a.Generation != 0 {
			return "the balancer's config generation"
		}
	}
	switch st.Kind {
	case "expect_spread":
		return "the balancer's per-backend counts"
	case "expect_reload_rejected", "reload_yaml":
		return "the built-in balancer's config validation"
	}
	return ""
}

// waits is the most real time a scenario's steps can wait: its advances
// and every expectation's within.
func waits(sc *scenarios.Scenario) time.Duration {
	var d time.Duration
	for _, st := range sc.Steps {
		if v, ok := st.Args.(config.Duration); ok && st.Kind == "advance" {
			d += time.Duration(v)
			continue
		}
		if v := reflect.ValueOf(st.Args); v.Kind() == reflect.Struct {
			if w := v.FieldByName("Within"); w.IsValid() {
				d += time.Duration(w.Interface().(config.Duration))
			}
		}
	}
	return d
}

func TestEveryMatrixRowRunsAScenarioThatMeansTheSameBehindAnyFrontDoor(t *testing.T) {
	rows, err := scenarios.MatrixRows()
	if err != nil {
		t.Fatal(err)
	}
	all, _ := scenarios.Builtins()
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.Builtin] = true
		sc := r.Scenario()
		if sc == nil {
			if r.NotApplicable == "" {
				t.Errorf("%s: runs nothing and says no why", r.Builtin)
			}
			continue
		}
		if r.Runs != r.Builtin && r.Runs != r.Builtin+scenarios.RealtimeSuffix {
			t.Errorf("%s: runs %s, want itself or %s%s", r.Builtin, r.Runs, r.Builtin, scenarios.RealtimeSuffix)
		}
		for _, st := range sc.Steps {
			if what := balancerOnly(st); what != "" {
				t.Errorf("%s line %d: %s expects %s, which no proxy shows; expect what a client sees", sc.File, st.Line, st.Kind, what)
			}
		}
		if d := waits(sc); d > 30*time.Second {
			t.Errorf("%s: waits up to %s of real time, want seconds (at most 30s): shorten its timeouts", sc.File, d)
		}
	}
	for _, sc := range all {
		name, variant := strings.CutSuffix(sc.Name, scenarios.RealtimeSuffix)
		if variant && !covered[name] {
			t.Errorf("%s is the real-time variant of no built-in %q", sc.Name, name)
		}
		if !variant && !covered[name] {
			t.Errorf("built-in %s has no row in the matrix", sc.Name)
		}
	}
}

func TestAMatrixCellSaysWhatWasObservedInWordsThatStayTheSameRunAfterRun(t *testing.T) {
	tests := []struct {
		name string
		res  scenarios.Result
		want scenarios.Cell
	}{
		{"a pass", scenarios.Result{Passed: true}, scenarios.Cell{Passed: true, Text: "pass"}},
		{"an expectation, without the time since the start",
			scenarios.Result{Failure: &scenarios.Failure{Kind: "expect_open", Message: "alice is open", Observed: "closed at +0.348s with 1001"}},
			scenarios.Cell{Text: "expect_open: want alice is open, saw closed with 1001"}},
		{"the first of the events seen, in an order that does not depend on which node was quicker",
			scenarios.Result{Failure: &scenarios.Failure{Kind: "expect_event", Message: "event store.restored source=node-1", Observed: "node-2 store.restored: 1 session | node-1 store.restored: 2 sessions"}},
			scenarios.Cell{Text: "expect_event: want event store.restored source=node-1, saw node-1 store.restored: 2 sessions …"}},
		{"a refused reload leads, with no port or session id after it",
			scenarios.Result{Failure: &scenarios.Failure{Kind: "connect", Message: `connect alice via balancer: send socket.io connect: client: POST http://127.0.0.1:39687/socket.io/?EIO=4&transport=polling&sid=rz-a7ufWpr9ftV5eaXXk: 400 Bad Request {"code":1,"message":"Session ID unknown"}`,
				Reload: "nginx cannot run this config: nginx: server_group.stickiness.type: lb_cookie: nginx 1.22 OSS has no sticky cookie (nginx Plus); use source_ip, or --balancer haproxy or caddy"}},
			scenarios.Cell{Text: `reload refused (nginx: server_group.stickiness.type: lb_cookie: nginx 1.22 OSS has no sticky cookie (nginx Plus)), then connect: connect alice via balancer: send socket.io connect: client: 400 Bad Request {"code":1,"message":"Session ID unknown"}`}},
		{"a dial error without its addresses",
			scenarios.Result{Failure: &scenarios.Failure{Kind: "connect", Message: `connect later via balancer: dial ws://127.0.0.1:46057/ws: failed to WebSocket dial: failed to send handshake request: Get "http://127.0.0.1:46057/ws": read tcp 127.0.0.1:60270->127.0.0.1:46057: read: connection reset by peer`}},
			scenarios.Cell{Text: "connect: connect later via balancer: read: connection reset by peer"}},
		{"a lab that did not start is broken",
			scenarios.Result{Failure: &scenarios.Failure{Kind: "lab", Message: "caddy did not start: it exited"}},
			scenarios.Cell{Broken: true, Text: "error: caddy did not start: it exited"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scenarios.MatrixCell(tt.res); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
