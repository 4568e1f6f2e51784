package faultlink_test

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/internal/chattest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// upstream is a TCP server whose accepted connections the test holds.
type upstream struct {
	ln    net.Listener
	conns chan *net.TCPConn
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{ln: ln, conns: make(chan *net.TCPConn, 64)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns <- c.(*net.TCPConn)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		close(u.conns)
		for c := range u.conns {
			c.Close()
		}
	})
	return u
}

func (u *upstream) addr() string { return u.ln.Addr().String() }

// accept returns the next connection the link made to the upstream.
func (u *upstream) accept(t *testing.T) *net.TCPConn {
	t.Helper()
	select {
	case c := <-u.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(chattest.WaitFor):
		t.Fatal("the link never dialed the upstream")
		return nil
	}
}

// echo sends back whatever c reads, until c ends.
func echo(t *testing.T, c net.Conn) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(c, c) })
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
}

func startLink(t *testing.T, cfg faultlink.Config) *faultlink.Link {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	l, err := faultlink.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// readN reads exactly n bytes, bounded by chattest.WaitFor of wall time.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(chattest.WaitFor))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return buf
}

// readErr reads until an error and returns it, bounded by WaitFor.
func readErr(t *testing.T, c net.Conn) error {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(chattest.WaitFor))
	defer c.SetReadDeadline(time.Time{})
	_, err := io.Copy(io.Discard, c)
	if err == nil {
		return io.EOF
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("no end of stream within %s", chattest.WaitFor)
	}
	return err
}

// expectQuiet checks that nothing (no byte, no FIN, no RST) arrives on c
// for d. Callers first prove by a counter that what they wait out was
// sent; d only bounds the look.
func expectQuiet(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	if n, err := c.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %d bytes, %v; want nothing for %s", n, err, d)
	}
}

// eventually waits until cond holds, looking again after a pause that
// doubles up to 50 ms, and fails with what after WaitFor.
func eventually(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(chattest.WaitFor)
	for pause := time.Millisecond; !cond(); pause = min(2*pause, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		<-time.After(pause)
	}
}

func nextEvent(t *testing.T, sub *events.Subscription) events.Event {
	t.Helper()
	select {
	case e := <-sub.C():
		return e
	case <-time.After(chattest.WaitFor):
		t.Fatal("no event")
		return events.Event{}
	}
}
