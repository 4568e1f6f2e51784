package load_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/load"
)

func TestThresholdsPassAndFailOnTheFiguresTheyName(t *testing.T) {
	rtt := load.Report{Mode: load.RTT, P50: 2 * time.Millisecond, P99: 86720 * time.Microsecond, Failures: 1, MsgsPerSec: 900}
	chat := load.Report{Mode: load.Chat, P50: time.Millisecond, P99: time.Millisecond, Chat: &load.Delivery{Lost: 3}}
	tests := []struct {
		name    string
		th      load.Thresholds
		r       load.Report
		want    []string // name=ok for each result, in order
		crossed int
	}{
		{"every limit met", load.Thresholds{MaxP50: 5 * time.Millisecond, MaxP99: 100 * time.Millisecond, MaxErrors: 1, MinRate: 500, MaxLost: -1}, rtt,
			[]string{"max-p50=true", "max-p99=true", "max-errors=true", "min-rate=true"}, 0},
		{"p99 above its limit", load.Thresholds{MaxP99: 50 * time.Millisecond, MaxErrors: -1}, rtt, []string{"max-p99=false"}, 1},
		{"a failure where none is allowed (the zero value)", load.Thresholds{}, rtt, []string{"max-errors=false"}, 1},
		{"rate below its floor", load.Thresholds{MinRate: 1000, MaxErrors: -1}, rtt, []string{"min-rate=false"}, 1},
		{"lost deliveries", load.Thresholds{MaxLost: 2}, chat, []string{"max-errors=true", "max-lost=false"}, 1},
		{"lost deliveries allowed", load.Thresholds{MaxLost: -1}, chat, []string{"max-errors=true"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.th.Check(tt.r)
			var got []string
			for _, r := range res {
				got = append(got, r.Name+"="+map[bool]string{true: "true", false: "false"}[r.OK])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if n := len(load.Crossed(res)); n != tt.crossed {
				t.Fatalf("got %d crossed, want %d", n, tt.crossed)
			}
		})
	}
	res := load.Thresholds{MaxP99: 50 * time.Millisecond}.Check(rtt)[0]
	if res.Value != "86.72ms" || res.Limit != "50ms" || res.Figure != "p99" {
		t.Fatalf("got %+v, want p99 86.72ms against 50ms", res)
	}
}

func TestThresholdsTheModeCannotMeasureAreRefused(t *testing.T) {
	tests := []struct {
		name string
		th   load.Thresholds
		mode load.Mode
		want string
	}{
		{"p99 of a flood", load.Thresholds{MaxP99: time.Millisecond}, load.Flood, "flood mode measures no latency"},
		{"p50 of a hold", load.Thresholds{MaxP50: time.Millisecond}, load.Hold, "hold mode measures no latency"},
		{"rate of a hold", load.Thresholds{MinRate: 5}, load.Hold, "min-rate: hold mode sends no messages"},
		{"loss of an rtt run", load.Thresholds{MaxLost: 5}, load.RTT, "max-lost: only chat mode"},
		{"negative limits", load.Thresholds{MaxP99: -1}, load.RTT, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.th.Validate(tt.mode); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
	if err := (load.Thresholds{}).Validate(load.Hold); err != nil {
		t.Fatalf("the zero value in hold mode: got %v, want valid", err)
	}
}

func TestDurationsAreWrittenWithTheirUnit(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{86721 * time.Microsecond, "86.72ms"},
		{812400 * time.Nanosecond, "812.40µs"},
		{1250 * time.Millisecond, "1.25s"},
		{500, "500ns"},
		{90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		if got := load.FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%d): got %q, want %q", tt.d, got, tt.want)
		}
	}
}

// A zero in the JSON is a measured zero: figures the mode does not
// measure are left out.
func TestJSONLeavesOutWhatTheModeDoesNotMeasure(t *testing.T) {
	tests := []struct {
		mode    load.Mode
		want    []string
		notWant []string
	}{
		{load.RTT, []string{"p50_ns", "p99_ns", "msgs_per_sec", "mb_per_sec", "failures"}, []string{"chat", "seed"}},
		{load.Flood, []string{"msgs_per_sec", "mb_per_sec"}, []string{"p50_ns", "p99_ns", "max_ns", "histogram"}},
		{load.Hold, []string{"messages", "failures"}, []string{"p50_ns", "msgs_per_sec", "mb_per_sec"}},
		{load.Chat, []string{"p50_ns", "msgs_per_sec", "chat"}, []string{"mb_per_sec", "back95_ns", "peak_reconnects_per_sec"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			r := load.Report{Mode: tt.mode}
			if tt.mode == load.Chat {
				r.Chat = &load.Delivery{} // no drops: nothing came back
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if c, ok := m["chat"].(map[string]any); ok {
				for k, v := range c {
					m[k] = v
				}
			}
			for _, k := range tt.want {
				if _, ok := m[k]; !ok {
					t.Errorf("got %s, want %q in it", b, k)
				}
			}
			for _, k := range tt.notWant {
				if _, ok := m[k]; ok {
					t.Errorf("got %s, want no %q", b, k)
				}
			}
		})
	}
}
