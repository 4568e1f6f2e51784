package faultlink_test

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/wslab/wslab/faultlink"
)

// These tests measure the faults on the real clock, over loopback. The
// settings (50 ms, 256 KiB/s) are large next to the scheduling noise of a
// busy two-core machine; each figure is the median of several samples.

const samples = 9

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// roundTrips times n one-byte round trips from cl through an echoing
// upstream.
func roundTrips(t *testing.T, cl net.Conn, n int) []time.Duration {
	t.Helper()
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		if _, err := cl.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		readN(t, cl, 1)
		out[i] = time.Since(start)
	}
	return out
}

func within(got, want time.Duration, frac float64) bool {
	return got >= want-time.Duration(frac*float64(want)) && got <= want+time.Duration(frac*float64(want))
}

func TestLatencyAddsWhatWasSetInEachDirection(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr()})
	cl := dial(t, l.Addr())
	echo(t, u.accept(t))
	base := median(roundTrips(t, cl, samples))
	ms := func(n int) faultlink.Duration { return faultlink.Duration(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name   string
		faults faultlink.Faults
		want   time.Duration
	}{
		{"up 50ms", faultlink.Faults{Up: faultlink.Direction{Latency: ms(50)}}, 50 * time.Millisecond},
		{"down 50ms", faultlink.Faults{Down: faultlink.Direction{Latency: ms(50)}}, 50 * time.Millisecond},
		{"up 50ms and down 30ms", faultlink.Faults{Up: faultlink.Direction{Latency: ms(50)}, Down: faultlink.Direction{Latency: ms(30)}}, 80 * time.Millisecond},
	} {
		if err := l.Set(tc.faults); err != nil {
			t.Fatal(err)
		}
		added := median(roundTrips(t, cl, samples)) - base
		t.Logf("%s: set %s, measured %s (median of %d, base round trip %s)", tc.name, tc.want, added.Round(10*time.Microsecond), samples, base.Round(time.Microsecond))
		if !within(added, tc.want, 0.10) {
			t.Errorf("%s: added %s, want %s ±10%%", tc.name, added, tc.want)
		}
	}
}

func TestJitterSpreadsTheLatencyWithinItsBounds(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Faults: faultlink.Faults{
		Up: faultlink.Direction{Latency: faultlink.Duration(50 * time.Millisecond), Jitter: faultlink.Duration(20 * time.Millisecond)},
	}})
	cl := dial(t, l.Addr())
	echo(t, u.accept(t))
	rtts := roundTrips(t, cl, 15)
	lo, hi := slices.Min(rtts), slices.Max(rtts)
	t.Logf("50ms±20ms: round trips from %s to %s", lo.Round(time.Millisecond), hi.Round(time.Millisecond))
	if lo < 30*time.Millisecond || hi > 80*time.Millisecond {
		t.Errorf("round trips from %s to %s, want within 30ms-70ms (plus scheduling)", lo, hi)
	}
	if hi-lo < 10*time.Millisecond {
		t.Errorf("round trips from %s to %s: the jitter did not spread them", lo, hi)
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
