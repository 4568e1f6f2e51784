package load

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Bucket is one bar of a latency histogram: the samples above the previous
// bucket's bound and at most UpTo.
type Bucket struct {
	UpTo  time.Duration `json:"le_ns"`
	Count int           `json:"count"`
}

// histogramBuckets is how many bars a report's histogram has.
const histogramBuckets = 10

// percentiles fills the latency figures of rep from the samples l (sorted
// in place). Bucket bounds grow geometrically from the fastest sample to
// the slowest: latencies have a long tail, and even bars of a linear scale
// would put nearly every sample in the first.
func percentiles(rep *Report, l []time.Duration) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	at := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
	rep.P50, rep.P90, rep.P99, rep.Max = at(0.50), at(0.90), at(0.99), l[len(l)-1]
	rep.Histogram = histogram(l)
}

func histogram(sorted []time.Duration) []Bucket {
	lo, hi := max(sorted[0], time.Microsecond), sorted[len(sorted)-1]
	if hi <= lo {
		return []Bucket{{UpTo: hi, Count: len(sorted)}}
	}
	ratio := math.Pow(float64(hi)/float64(lo), 1/float64(histogramBuckets-1))
	var out []Bucket
	i := 0
	for b := range histogramBuckets {
		upTo := time.Duration(float64(lo) * math.Pow(ratio, float64(b)))
		if b == histogramBuckets-1 {
			upTo = hi
		}
		n := 0
		for i < len(sorted) && sorted[i] <= upTo {
			i, n = i+1, n+1
		}
		out = append(out, Bucket{UpTo: upTo, Count: n})
	}
	return out
}

// FormatDuration writes a latency the way wrk and k6 do: three significant
// figures and the unit that suits it (812.40µs, 86.72ms, 1.25s).
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}
