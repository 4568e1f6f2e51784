package load

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Thresholds are limits on a run's outcome, as k6's thresholds are: a run
// that crosses one has failed, whatever else it measured. The zero value
// allows no failure and no lost message and sets no other limit.
type Thresholds struct {
	MaxP50 time.Duration // median latency (rtt, chat); 0: no limit
	MaxP99 time.Duration // 99th percentile latency (rtt, chat); 0: no limit
	// MaxErrors is how many failures (handshakes refused, connections
	// cut, chat: failed connection attempts) a run may have; negative: no
	// limit.
	MaxErrors int64
	MinRate   float64 // messages per second (rtt, flood, chat); 0: no limit
	MaxLost   int64   // chat: deliveries lost; negative: no limit
}

// Result is one threshold checked against a report.
type Result struct {
	Name   string `json:"name"`   // the limit: max-p50, max-p99, max-errors, min-rate, max-lost
	Figure string `json:"figure"` // what it limits: p50, p99, failures, rate, lost
	Value  string `json:"value"`  // the run's figure: "86.72ms"
	Limit  string `json:"limit"`  // "100ms", as the user wrote it
	OK     bool   `json:"ok"`
}

// Validate reports every threshold that is out of range or that the mode
// does not measure.
func (th Thresholds) Validate(m Mode) error {
	var errs []error
	if th.MaxP50 < 0 || th.MaxP99 < 0 || th.MinRate < 0 {
		errs = append(errs, errors.New("max-p50, max-p99 and min-rate must not be negative (0: no limit)"))
	}
	if (th.MaxP50 > 0 || th.MaxP99 > 0) && !m.MeasuresLatency() {
		errs = append(errs, fmt.Errorf("max-p50, max-p99: %s mode measures no latency; use --mode rtt or chat", m))
	}
	if th.MinRate > 0 && !m.MeasuresRate() {
		errs = append(errs, fmt.Errorf("min-rate: %s mode sends no messages; use --mode rtt, flood or chat", m))
	}
	if th.MaxLost > 0 && m != Chat {
		errs = append(errs, fmt.Errorf("max-lost: only chat mode accounts for deliveries; %s mode has none to lose", m))
	}
	return errors.Join(errs...)
}

// Check checks the report against every threshold that is set, in a
// fixed order: latency, errors, rate, loss.
func (th Thresholds) Check(r Report) []Result {
	var out []Result
	maxDur := func(name, fig string, limit, v time.Duration) {
		if limit > 0 {
			out = append(out, Result{name, fig, FormatDuration(v), limit.String(), v <= limit})
		}
	}
	maxCount := func(name, fig string, limit, v int64) {
		if limit >= 0 {
			out = append(out, Result{name, fig, strconv.FormatInt(v, 10), strconv.FormatInt(limit, 10), v <= limit})
		}
	}
	if r.Mode.MeasuresLatency() {
		maxDur("max-p50", "p50", th.MaxP50, r.P50)
		maxDur("max-p99", "p99", th.MaxP99, r.P99)
	}
	maxCount("max-errors", "failures", th.MaxErrors, r.Failures)
	if th.MinRate > 0 && r.Mode.MeasuresRate() {
		out = append(out, Result{"min-rate", "rate", fmt.Sprintf("%.0f msgs/s", r.MsgsPerSec), fmt.Sprintf("%g msgs/s", th.MinRate), r.MsgsPerSec >= th.MinRate})
	}
	if r.Chat != nil {
		maxCount("max-lost", "lost", th.MaxLost, r.Chat.Lost)
	}
	return out
}

// Crossed returns the results that failed.
func Crossed(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if !r.OK {
			out = append(out, r)
		}
	}
	return out
}
