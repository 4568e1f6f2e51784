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

// added measures n times what faults add to a round trip through l. Each
// sample has a control: with the link clean, a bare timer of wait (the
// latency set) and then a round trip, minus wait. The control suffers
// what the machine does to any timer and any wake-up at that moment; on
// a busy machine a 50 ms timer fires several ms late. The sample minus
// its control is what the link adds. raw is the samples alone, minus the
// median clean round trip.
func added(t *testing.T, l *faultlink.Link, cl net.Conn, f faultlink.Faults, wait time.Duration, n int) (add, raw []time.Duration) {
	t.Helper()
	for range n {
		l.Clear()
		start := time.Now()
		<-time.After(wait) // the control arm of the measurement, not a wait for something
		roundTrip(t, cl)
		control := time.Since(start) - wait
		if err := l.Set(f); err != nil {
			t.Fatal(err)
		}
		got := roundTrip(t, cl)
		add = append(add, got-control)
		raw = append(raw, got)
	}
	return add, raw
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
		{"up 50ms", faultlink.Faults{Up: faultlink.Direction{Latency: ms(50)}}, 50 * time.Millisecond},
		{"down 50ms", faultlink.Faults{Down: faultlink.Direction{Latency: ms(50)}}, 50 * time.Millisecond},
		{"up 50ms and down 30ms", faultlink.Faults{Up: faultlink.Direction{Latency: ms(50)}, Down: faultlink.Direction{Latency: ms(30)}}, 80 * time.Millisecond},
	} {
		add, raw := added(t, l, cl, tc.faults, tc.want, samples)
		got := median(add)
		t.Logf("%s: set %s, measured %s (median of %d, less a control timer; the round trips alone: median %s, min %s)",
			tc.name, tc.want, got.Round(10*time.Microsecond), samples, median(raw).Round(10*time.Microsecond), slices.Min(raw).Round(10*time.Microsecond))
		if !within(got, tc.want, 0.10) {
			t.Errorf("%s: added %s, want %s ±10%%", tc.name, got, tc.want)
		}
		if lo := slices.Min(raw); lo < tc.want {
			t.Errorf("%s: a round trip took %s, less than the %s set", tc.name, lo, tc.want)
		}
	}
}

func TestJitterSpreadsTheLatencyWithinItsBounds(t *testing.T) {
	const lat, jit = 50 * time.Millisecond, 20 * time.Millisecond
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr()})
	cl := dial(t, l.Addr())
	echo(t, u.accept(t))
	f := faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(lat), Jitter: faultlink.Duration(jit)}}
	add, raw := added(t, l, cl, f, lat, 15)
	lo, hi := slices.Min(raw), slices.Max(add)
	t.Logf("50ms±20ms: round trips from %s, less a control timer up to %s", lo.Round(time.Millisecond), hi.Round(time.Millisecond))
	if lo < lat-jit || hi > lat+jit+5*time.Millisecond {
		t.Errorf("round trips from %s to %s (less the control), want within %s-%s", lo, hi, lat-jit, lat+jit)
	}
	if spread := slices.Max(raw) - lo; spread < jit/2 {
		t.Errorf("round trips from %s to %s: the jitter did not spread them", lo, slices.Max(raw))
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
