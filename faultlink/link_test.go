package faultlink_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/clocktest"
)

func TestACleanLinkPassesBytesAndFINsBothWays(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Clock: quartz.NewMock(t)})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	cl.Write([]byte("hello"))
	if got := readN(t, srv, 5); string(got) != "hello" {
		t.Fatalf("upstream got %q, want hello", got)
	}
	srv.Write([]byte("world"))
	if got := readN(t, cl, 5); string(got) != "world" {
		t.Fatalf("client got %q, want world", got)
	}
	cl.CloseWrite()
	if err := readErr(t, srv); err != io.EOF {
		t.Fatalf("upstream after the client's FIN: got %v, want EOF", err)
	}
	srv.Write([]byte("bye"))
	if got := readN(t, cl, 3); string(got) != "bye" {
		t.Fatalf("a half-closed client still reads: got %q, want bye", got)
	}
	srv.CloseWrite()
	if err := readErr(t, cl); err != io.EOF {
		t.Fatalf("client after the upstream's FIN: got %v, want EOF", err)
	}
	eventually(t, func() string { return "the connection is still counted open" }, func() bool { return l.Stats().Open == 0 })
	st := l.Stats()
	if st.Connections != 1 || st.BytesUp != 5 || st.BytesDown != 8 || st.DroppedUp+st.DroppedDown != 0 {
		t.Fatalf("got %+v, want 1 connection, 5 bytes up, 8 down, none dropped", st)
	}
}

// waitDeliveryTimer waits until a chunk waits on the link's clock and
// returns how long it will wait.
func waitDeliveryTimer(t *testing.T, clk *quartz.Mock, trap *quartz.Trap) time.Duration {
	t.Helper()
	call := trap.MustWait(chattest.Ctx(t))
	call.MustRelease(chattest.Ctx(t))
	return call.Duration
}

func TestLatencyElapsesOnTheLinksClock(t *testing.T) {
	clk := quartz.NewMock(t)
	trap := clk.Trap().NewTimer("faultlink", "deliver")
	defer trap.Close()
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Clock: clk,
		Faults: faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(200 * time.Millisecond)}}})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	cl.Write([]byte("a"))
	if d := waitDeliveryTimer(t, clk, trap); d != 200*time.Millisecond {
		t.Fatalf("the chunk waits %s, want 200ms", d)
	}
	clocktest.Advance(t, clk, 200*time.Millisecond)
	if got := readN(t, srv, 1); string(got) != "a" {
		t.Fatalf("got %q, want a", got)
	}
	srv.Write([]byte("b")) // the other direction has no latency
	if got := readN(t, cl, 1); string(got) != "b" {
		t.Fatalf("got %q, want b", got)
	}
}

func TestClearingLatencyDeliversAWaitingChunkAtOnce(t *testing.T) {
	clk := quartz.NewMock(t)
	trap := clk.Trap().NewTimer("faultlink", "deliver")
	defer trap.Close()
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Clock: clk})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	// The fault is set on a connection that is already open.
	if err := l.Set(faultlink.Faults{Down: faultlink.Direction{Latency: faultlink.Duration(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	srv.Write([]byte("late"))
	if d := waitDeliveryTimer(t, clk, trap); d != time.Hour {
		t.Fatalf("the chunk waits %s, want 1h", d)
	}
	if err := l.Clear(); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, cl, 4); string(got) != "late" {
		t.Fatalf("got %q, want late without advancing the clock", got)
	}
}

func TestABlackHoleReadsEverythingAndAnswersNothingUntilCleared(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Clock: quartz.NewMock(t)})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	if err := l.Set(faultlink.Faults{BlackHole: true}); err != nil {
		t.Fatal(err)
	}
	cl.Write(make([]byte, 1000))
	srv.Write(make([]byte, 300))
	cl.CloseWrite() // the FIN is held, not passed on
	eventually(t, func() string { return "the black hole did not read what was sent" }, func() bool {
		st := l.Stats()
		return st.DroppedUp == 1000 && st.DroppedDown == 300
	})
	expectQuiet(t, srv, 50*time.Millisecond)
	expectQuiet(t, cl, 50*time.Millisecond)
	l.Clear()
	if err := readErr(t, srv); err != io.EOF {
		t.Fatalf("after the black hole was cleared the upstream got %v, want the held FIN (EOF) and no bytes", err)
	}
	srv.Write([]byte("back"))
	if got := readN(t, cl, 4); string(got) != "back" {
		t.Fatalf("got %q, want back", got)
	}
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func TestResetSendsARSTToBothEndsOfEveryOpenConnection(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr()})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	cl.Write([]byte("x"))
	readN(t, srv, 1)
	if n := l.Reset(); n != 1 {
		t.Fatalf("Reset reset %d connections, want 1", n)
	}
	if err := readErr(t, cl); !isReset(err) {
		t.Fatalf("client: got %v, want connection reset", err)
	}
	if err := readErr(t, srv); !isReset(err) {
		t.Fatalf("upstream: got %v, want connection reset", err)
	}
	cl2 := dial(t, l.Addr()) // new connections pass
	u.accept(t)
	cl2.Write([]byte("y"))
}

func TestResetNewAnswersNewConnectionsWithARST(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Faults: faultlink.Faults{ResetNew: true}})
	// The RST may come before the dial returns, or on the first read.
	if c, err := net.Dial("tcp", l.Addr()); err == nil {
		defer c.Close()
		err = readErr(t, c)
		if !isReset(err) {
			t.Fatalf("read: got %v, want connection reset", err)
		}
	} else if !isReset(err) {
		t.Fatalf("dial: got %v, want connection reset", err)
	}
	if got := l.Stats(); got.Connections != 1 || got.Open != 0 {
		t.Fatalf("got %d connections, %d open; want 1 counted, none open", got.Connections, got.Open)
	}
}

func TestSlowCloseHoldsTheFINOnTheClock(t *testing.T) {
	clk := quartz.NewMock(t)
	trap := clk.Trap().NewTimer("faultlink", "deliver")
	defer trap.Close()
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Clock: clk,
		Faults: faultlink.Faults{SlowClose: faultlink.Duration(3 * time.Second)}})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	srv.Write([]byte("last words"))
	srv.CloseWrite()
	if got := readN(t, cl, 10); string(got) != "last words" {
		t.Fatalf("got %q, want the bytes before the FIN at once", got)
	}
	if d := waitDeliveryTimer(t, clk, trap); d != 3*time.Second {
		t.Fatalf("the FIN waits %s, want 3s", d)
	}
	clocktest.Advance(t, clk, 3*time.Second)
	if err := readErr(t, cl); err != io.EOF {
		t.Fatalf("got %v, want EOF after 3s", err)
	}
}

func TestDroppedMappingsSilenceOpenConnectionsBothWays(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), ClientSide: true})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	if n, err := l.DropMappings(); n != 1 || err != nil {
		t.Fatalf("DropMappings: %d, %v; want 1 connection", n, err)
	}
	cl.Write([]byte("ping"))
	srv.Write([]byte("pong"))
	srv.Close() // the server gives up: its FIN goes nowhere
	eventually(t, func() string { return "bytes were not dropped" }, func() bool {
		st := l.Stats()
		return st.DroppedUp == 4 && st.DroppedDown == 4
	})
	expectQuiet(t, cl, 100*time.Millisecond)
	if st := l.Stats(); st.Open != 1 || st.HalfOpen != 1 {
		t.Fatalf("got %d open, %d half-open; want the client's connection held open, half-open", st.Open, st.HalfOpen)
	}
	cl2 := dial(t, l.Addr()) // a new connection gets a new mapping
	srv2 := u.accept(t)
	cl2.Write([]byte("new"))
	if got := readN(t, srv2, 3); string(got) != "new" {
		t.Fatalf("got %q, want new", got)
	}
}

func TestOnlyTheClientSideLinkTakesClientFaults(t *testing.T) {
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Name: "node-1", Upstream: u.addr()})
	if _, err := l.DropMappings(); err == nil || !strings.Contains(err.Error(), "client side") {
		t.Fatalf("DropMappings on node-1: got %v, want an error naming the client side", err)
	}
	if err := l.Set(faultlink.Faults{SourceIP: "127.0.0.2"}); err == nil || !strings.Contains(err.Error(), "source_ip") {
		t.Fatalf("source_ip on node-1: got %v, want an error naming source_ip", err)
	}
}

func TestANewClientAddressReachesTheUpstream(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skipf("on %s 127.0.0.2 exists only after sudo ifconfig lo0 alias 127.0.0.2", runtime.GOOS)
	}
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), ClientSide: true})
	dial(t, l.Addr())
	before := u.accept(t)
	if err := l.Set(faultlink.Faults{SourceIP: "127.0.0.2"}); err != nil {
		t.Fatal(err)
	}
	old := before.RemoteAddr().String()
	dial(t, l.Addr())
	after := u.accept(t)
	if got := after.RemoteAddr().String(); !strings.HasPrefix(got, "127.0.0.2:") || strings.HasPrefix(old, "127.0.0.2:") {
		t.Fatalf("the upstream saw %s then %s, want 127.0.0.1 then 127.0.0.2", old, got)
	}
	before.Write([]byte("k")) // the open connection keeps its address and works
}

func TestBadFaultsAreRefusedNamingEveryField(t *testing.T) {
	ms := func(n int) faultlink.Duration { return faultlink.Duration(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name   string
		faults faultlink.Faults
		want   []string
	}{
		{"negative latency and bandwidth", faultlink.Faults{Up: faultlink.Direction{Latency: ms(-1), Bandwidth: -5}}, []string{"up.latency: -1ms", "up.bandwidth: -5"}},
		{"jitter above latency", faultlink.Faults{Down: faultlink.Direction{Latency: ms(10), Jitter: ms(20)}}, []string{"down.jitter: 20ms"}},
		{"source ip not an address", faultlink.Faults{SourceIP: "localhost"}, []string{`source_ip: "localhost"`}},
		{"negative slow close", faultlink.Faults{SlowClose: ms(-3)}, []string{"slow_close: -3ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.faults.Validate(true)
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to name %q", err, w)
				}
			}
		})
	}
}

func TestFaultChangesArePublished(t *testing.T) {
	bus := events.New()
	sub := bus.Subscribe(10)
	defer sub.Close()
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Name: "node-1", Upstream: u.addr(), Events: bus})
	l.Set(faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(50 * time.Millisecond), Jitter: faultlink.Duration(5 * time.Millisecond)}, BlackHole: true})
	l.Reset()
	l.Clear()
	for _, want := range []string{
		"link node-1 link.fault reason=set: up latency 50ms±5ms, black hole",
		"link node-1 link.fault reason=reset: 0 open connections reset",
		"link node-1 link.fault reason=cleared: none",
	} {
		if got := nextEvent(t, sub).String(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestCloseEndsEveryConnectionEvenOneWaitingOnTheClock(t *testing.T) {
	clk := quartz.NewMock(t)
	u := newUpstream(t)
	l, err := faultlink.Start(faultlink.Config{Name: "test", Upstream: u.addr(), Clock: clk,
		Faults: faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(time.Hour)}, SlowClose: faultlink.Duration(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	cl.Write([]byte("held"))
	srv.CloseWrite()
	eventually(t, func() string { return "nothing read" }, func() bool { return l.Stats().BytesUp == 4 })
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := readErr(t, cl); err != io.EOF {
		t.Fatalf("client after Close: got %v, want a plain EOF", err)
	}
	// goleak (TestMain) checks that no goroutine is left.
}

func TestJitterDrawsEachChunksDelayWithinLatencyPlusOrMinusJitter(t *testing.T) {
	const lat, jit = 50 * time.Millisecond, 20 * time.Millisecond
	clk := quartz.NewMock(t)
	trap := clk.Trap().NewTimer("faultlink", "deliver")
	defer trap.Close()
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), Clock: clk, Rand: rand.New(rand.NewPCG(1, 2)),
		Faults: faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(lat), Jitter: faultlink.Duration(jit)}}})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	var delays []time.Duration
	for range 20 {
		cl.Write([]byte("j"))
		d := waitDeliveryTimer(t, clk, trap)
		clocktest.Advance(t, clk, d)
		readN(t, srv, 1)
		delays = append(delays, d)
	}
	lo, hi := slices.Min(delays), slices.Max(delays)
	if lo < lat-jit || hi > lat+jit || hi-lo < jit {
		t.Fatalf("delays from %s to %s, want spread over %s-%s", lo, hi, lat-jit, lat+jit)
	}
}

func TestAMovedClientIsResetAtItsNextSendWhileTheServerHearsNothing(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skipf("on %s 127.0.0.2 exists only after sudo ifconfig lo0 alias 127.0.0.2", runtime.GOOS)
	}
	u := newUpstream(t)
	l := startLink(t, faultlink.Config{Upstream: u.addr(), ClientSide: true})
	cl := dial(t, l.Addr())
	srv := u.accept(t)
	if n, err := l.Move("127.0.0.2"); n != 1 || err != nil {
		t.Fatalf("Move: %d, %v; want 1 connection left behind", n, err)
	}
	srv.Write([]byte("to the old address"))
	eventually(t, func() string { return "the server's bytes were not dropped" }, func() bool { return l.Stats().DroppedDown == 18 })
	expectQuiet(t, cl, 50*time.Millisecond) // the client hears nothing until it speaks
	cl.Write([]byte("still there?"))
	if err := readErr(t, cl); !isReset(err) {
		t.Fatalf("the moved client after sending: got %v, want connection reset", err)
	}
	expectQuiet(t, srv, 50*time.Millisecond) // no byte, no FIN, no RST: the server is unaware
	dial(t, l.Addr())
	if got := u.accept(t).RemoteAddr().String(); !strings.HasPrefix(got, "127.0.0.2:") {
		t.Fatalf("the client's new connection comes from %s, want 127.0.0.2", got)
	}
}
