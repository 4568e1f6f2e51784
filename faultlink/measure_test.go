package faultlink_test

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/wslab/wslab/faultlink"
)

// These tests measure the faults on the real clock, over loopback. The
// settings (100 ms, 256 KiB/s) are large next to the scheduling noise of a
// busy two-core machine; each figure is the median of several samples.
// At 50 ms, -race -count=10 under a load average of 12-15 failed 2 runs
// in 10: in a bad stretch every wake-up was 4-9 ms late, even the quickest
// of 3 round trips, which is more than 10 % of 50 ms.

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// roundTrip times one one-byte round trip from cl through an echoing
// upstream.
func roundTrip(t *testing.T, cl net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := cl.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	readN(t, cl, 1)
	return time.Since(start)
}

// addedLatency measures what faults add to a round trip through l: the
// median of samples, each the quickest of 3 round trips. The link never
// delivers early, so the noise of a busy machine (a wake-up 10 ms late)
// only ever adds; the quickest of 3 sheds most of it and the median sheds
// the rest; the clean round trip it subtracts is the quickest of n. all
// is every round trip, for the log.
func addedLatency(t *testing.T, l *faultlink.Link, cl net.Conn, f faultlink.Faults, n int) (added time.Duration, all []time.Duration) {
	t.Helper()
	l.Clear()
	var base []time.Duration
	for range n {
		base = append(base, roundTrip(t, cl))
	}
	if err := l.Set(f); err != nil {
		t.Fatal(err)
	}
	var per []time.Duration
	for range n {
		best := time.Duration(1<<63 - 1)
		for range 3 {
			d := roundTrip(t, cl)
			all = append(all, d)
			best = min(best, d)
		}
		per = append(per, best)
	}
	return median(per) - slices.Min(base), all
}

func within(got, want time.Duration, frac float64) bool {
	return got >= want-time.Duration(frac*float64(want)) && got <= want+time.Duration(frac*float64(want))
}

func TestLatencyAddsWhatWasSetInEachDirection(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr()})
	cl := dial(t, l.Addr())
	echo(t, u.accept(t))
	ms := func(n int) faultlink.Duration { return faultlink.Duration(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name   string
		faults faultlink.Faults
		want   time.Duration
	}{
		{"up 100ms", faultlink.Faults{Up: faultlink.Direction{Latency: ms(100)}}, 100 * time.Millisecond},
		{"down 100ms", faultlink.Faults{Down: faultlink.Direction{Latency: ms(100)}}, 100 * time.Millisecond},
		{"up 100ms and down 60ms", faultlink.Faults{Up: faultlink.Direction{Latency: ms(100)}, Down: faultlink.Direction{Latency: ms(60)}}, 160 * time.Millisecond},
	} {
		got, all := addedLatency(t, l, cl, tc.faults, 5)
		t.Logf("%s: set %s, measured %s (median of 5 samples, each the quickest of 3 round trips; all %d round trips: median %s, slowest %s)",
			tc.name, tc.want, got.Round(10*time.Microsecond), len(all), median(all).Round(10*time.Microsecond), slices.Max(all).Round(10*time.Microsecond))
		if !within(got, tc.want, 0.10) {
			t.Errorf("%s: added %s, want %s ±10%%", tc.name, got, tc.want)
		}
		if lo := slices.Min(all); lo < tc.want {
			t.Errorf("%s: a round trip took %s, less than the %s set", tc.name, lo, tc.want)
		}
	}
}

// transfer times n bytes from w to r: from before the first write until
// the last byte is read.
func transfer(t *testing.T, w, r net.Conn, n int) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(make([]byte, n))
		done <- err
	}()
	readN(t, r, n)
	elapsed := time.Since(start)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return elapsed
}

func TestBandwidthIsWhatWasSetInEachDirection(t *testing.T) {
	const rate, size = 256 << 10, 64 << 10 // 256 KiB/s; 64 KiB is 250 ms
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr()})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	for _, tc := range []struct {
		name  string
		f     faultlink.Faults
		w, r  net.Conn
		other [2]net.Conn
	}{
		{"up", faultlink.Faults{Up: faultlink.Direction{Bandwidth: rate}}, cl, srv, [2]net.Conn{srv, cl}},
		{"down", faultlink.Faults{Down: faultlink.Direction{Bandwidth: rate}}, srv, cl, [2]net.Conn{cl, srv}},
	} {
		if err := l.Set(tc.f); err != nil {
			t.Fatal(err)
		}
		var ds []time.Duration
		for range 5 {
			ds = append(ds, transfer(t, tc.w, tc.r, size))
		}
		got := float64(size) / median(ds).Seconds()
		t.Logf("%s: set %d B/s, measured %.0f B/s (%.1f%%; median of 5 transfers of %d bytes)", tc.name, rate, got, 100*(got-rate)/rate, size)
		if got < 0.9*rate || got > 1.1*rate {
			t.Errorf("%s: %.0f bytes/s, want %d ±10%%", tc.name, got, rate)
		}
		if d := transfer(t, tc.other[0], tc.other[1], size); d > 100*time.Millisecond {
			t.Errorf("%s: the other direction took %s for %d bytes; its bandwidth is not capped", tc.name, d, size)
		}
	}
}
