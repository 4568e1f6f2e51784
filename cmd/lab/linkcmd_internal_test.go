package main

import "testing"

func TestLinkRequestsAreWhatTheAPITakes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		lf   linkFlags
		want string // method path body
	}{
		{"list", nil, linkFlags{}, "GET /api/links "},
		{"latency both ways", []string{"node-1", "latency", "200ms"}, linkFlags{jitter: 20e6}, `PATCH /api/links/node-1/faults {"down":{"jitter":"20ms","latency":"200ms"},"up":{"jitter":"20ms","latency":"200ms"}}`},
		{"bandwidth up only", []string{"client", "bandwidth", "256KiB/s"}, linkFlags{up: true}, `PATCH /api/links/client/faults {"up":{"bandwidth":262144}}`},
		{"black hole off", []string{"node-2", "blackhole", "off"}, linkFlags{}, `PATCH /api/links/node-2/faults {"black_hole":false}`},
		{"reset new", []string{"client", "reset-new"}, linkFlags{}, `PATCH /api/links/client/faults {"reset_new":true}`},
		{"address off", []string{"client", "address", "off"}, linkFlags{}, `PATCH /api/links/client/faults {"source_ip":""}`},
		{"nat drop", []string{"client", "nat-drop"}, linkFlags{}, "POST /api/links/client/nat-drop "},
		{"move", []string{"client", "move", "127.0.0.3"}, linkFlags{}, `POST /api/links/client/move {"source_ip":"127.0.0.3"}`},
		{"clear", []string{"node-1", "clear"}, linkFlags{}, "DELETE /api/links/node-1/faults "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := linkRequest(tc.args, tc.lf)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.method + " " + r.path + " " + string(r.body); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	for _, bad := range [][]string{{"n", "latency"}, {"n", "latency", "soon"}, {"n", "bandwidth", "fast"}, {"n", "address", "home"}, {"n", "blackhole", "maybe"}, {"n", "flood"}} {
		if _, err := linkRequest(bad, linkFlags{}); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}
