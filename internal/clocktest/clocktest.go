// Package clocktest helps tests drive a quartz mock clock.
package clocktest

import (
	"context"
	"testing"
	"time"

	"github.com/coder/quartz"
)

// Advance moves clk forward by d, stopping at every timer on the way and
// waiting for the callbacks each step fires (quartz refuses to jump past a
// timer). Each wait is bounded by 10 s of wall time.
func Advance(t testing.TB, clk *quartz.Mock, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for d > 0 {
		step := d
		if next, ok := clk.Peek(); ok && next < step {
			step = next
		}
		clk.Advance(step).MustWait(ctx)
		d -= step
	}
}

// Prober is what runs health checks on the clock: a balancer.
type Prober interface {
	WaitProbes(ctx context.Context, skip func(backend string) bool) error
}

// CheckRounds advances clk by interval rounds times, waiting after each
// step until every health probe it started has its result.
func CheckRounds(t testing.TB, clk *quartz.Mock, p Prober, interval time.Duration, rounds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range rounds {
		Advance(t, clk, interval)
		if err := p.WaitProbes(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
}
