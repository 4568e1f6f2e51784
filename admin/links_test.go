package admin_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node"
)

func TestTheLinksFaultsAreSetChangedAndClearedOverTheAPI(t *testing.T) {
	l := startLab(t, lab.Config{NodeMode: node.ModeEcho, Links: lab.LinksConfig{On: true}})
	code, body := call(t, l, "GET", "/api/links", "", nil)
	var all []faultlink.Stats
	if err := json.Unmarshal([]byte(body), &all); code != 200 || err != nil || len(all) != 3 {
		t.Fatalf("GET /api/links: %d %s, want 3 links", code, body)
	}
	if all[0].Name != "client" || !all[0].ClientSide || all[1].Name != "node-1" {
		t.Fatalf("links %+v, want client (client side), node-1, node-2", all)
	}

	steps := []struct {
		method, path, body string
		code               int
		want               string // in the body
		faults             faultlink.Faults
	}{
		{"PUT", "/api/links/node-1/faults", `{"up": {"latency": "200ms", "jitter": "20ms"}, "black_hole": true}`, 200, `"black_hole": true`,
			faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(200 * time.Millisecond), Jitter: faultlink.Duration(20 * time.Millisecond)}, BlackHole: true}},
		{"PATCH", "/api/links/node-1/faults", `{"down": {"bandwidth": 1024}}`, 200, `"summary": "up latency 200ms±20ms, down bandwidth 1KiB/s, black hole"`,
			faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(200 * time.Millisecond), Jitter: faultlink.Duration(20 * time.Millisecond)}, Down: faultlink.Direction{Bandwidth: 1024}, BlackHole: true}},
		{"PUT", "/api/links/node-1/faults", `{"latency": "1s"}`, 400, `unknown field \"latency\"`, faultlink.Faults{}},
		{"PUT", "/api/links/node-1/faults", `{"up": {"latency": "-1s"}, "source_ip": "127.0.0.2"}`, 400, `up.latency: -1s`, faultlink.Faults{}},
		{"PUT", "/api/links/node-1/faults", `{"up": {"latency": 200}}`, 400, `write it as a string with a unit`, faultlink.Faults{}},
		{"DELETE", "/api/links/node-1/faults", ``, 200, `"summary": "none"`, faultlink.Faults{}},
		{"POST", "/api/links/node-1/nat-drop", ``, 400, `client side`, faultlink.Faults{}},
		{"POST", "/api/links/client/nat-drop", ``, 200, `"dropped": 0`, faultlink.Faults{}},
		{"POST", "/api/links/client/reset", ``, 200, `"reset": 0`, faultlink.Faults{}},
		{"POST", "/api/links/client/move", `{"source_ip": "127.0.0.2"}`, 200, `"left_behind": 0`, faultlink.Faults{}},
		{"POST", "/api/links/node-1/move", `{"source_ip": "127.0.0.2"}`, 400, `can move the client`, faultlink.Faults{}},
		{"POST", "/api/links/client/move", `{"ip": "127.0.0.2"}`, 400, `unknown field`, faultlink.Faults{}},
		{"GET", "/api/links/node-9", ``, 404, `no link \"node-9\"; links are: client, node-1, node-2`, faultlink.Faults{}},
	}
	for _, s := range steps {
		before := l.Link("node-1").Faults()
		code, body := call(t, l, s.method, s.path, s.body, nil)
		if code != s.code || !strings.Contains(body, s.want) {
			t.Fatalf("%s %s %s: got %d %s, want %d with %s", s.method, s.path, s.body, code, body, s.code, s.want)
		}
		want := s.faults
		if code != 200 {
			want = before // a refused change changes nothing
		}
		if got := l.Link("node-1").Faults(); got != want {
			t.Fatalf("%s %s %s: node-1 has %s, want %s", s.method, s.path, s.body, got, want)
		}
	}
	if got := l.Link("client").Faults().SourceIP; got != "127.0.0.2" {
		t.Fatalf("after the move the client link dials from %q, want 127.0.0.2", got)
	}
	if code, body := call(t, l, "PUT", "/api/links/node-1/faults", `{"up": {"latency": "-1s"}, "source_ip": "127.0.0.2"}`, nil); !strings.Contains(body, "source_ip") {
		t.Fatalf("got %d %s, want every problem named, source_ip too", code, body)
	}
}
