// Package balancertest is test support for code that runs a balancer, as
// net/http/httptest is for net/http: a balancer on loopback that closes
// with the test, on either front door; raw WebSocket backends that answer
// the upgrade by hand; and a wait that backs off instead of spinning.
//
// Every wait is bounded by chattest.WaitFor and fails the test with what
// it was waiting for.
package balancertest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/internal/chattest"
)

// Start starts a balancer on cfg and opts, listening on 127.0.0.1 on a free
// port unless cfg names an address, and closes it when the test ends.
func Start(t testing.TB, cfg config.Config, opts balancer.Options) *balancer.Balancer {
	t.Helper()
	if cfg.Listener.Addr == "" {
		cfg.Listener.Addr = "127.0.0.1:0"
	}
	b, err := balancer.Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// FrontDoors runs test once per front door: on the event loop, where there
// is one (elsewhere that subtest is skipped), and on goroutines.
func FrontDoors(t *testing.T, test func(t *testing.T, door balancer.FrontDoor)) {
	t.Helper()
	t.Run("event loop", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("no event loop on " + runtime.GOOS)
		}
		test(t, balancer.EventLoop)
	})
	t.Run("goroutines", func(t *testing.T) { test(t, balancer.Goroutines) })
}

// Eventually waits until cond holds, looking again after a pause that
// doubles from 1 ms to 50 ms — a state nothing announces (a backlog, a
// socket count) is polled without spinning a core — and fails with what
// after chattest.WaitFor.
func Eventually(t testing.TB, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(chattest.WaitFor)
	for pause := time.Millisecond; !cond(); pause = min(2*pause, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		<-time.After(pause)
	}
}

// WaitBlockedWrite returns once b has counted a write that found a
// client's socket full (client) or a backend's: a peer that stopped
// reading (Status.BlockedWrites).
func WaitBlockedWrite(t testing.TB, b *balancer.Balancer, client bool) {
	t.Helper()
	peer := "backend"
	if client {
		peer = "client"
	}
	Eventually(t, func() string { return "no write to a " + peer + " found its socket full" }, func() bool {
		w := b.Status().BlockedWrites
		if client {
			return w.Client > 0
		}
		return w.Backend > 0
	})
}

// RawBackend listens on loopback and runs serve on each connection it
// accepts, until the test ends. It returns the backend's URL.
func RawBackend(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// Answer101 reads a handshake request on a raw backend connection and
// accepts it; br is what the request is read with. It reports false, the
// connection closed, if no request came.
func Answer101(c net.Conn, br *bufio.Reader) bool {
	if _, err := http.ReadRequest(br); err != nil {
		c.Close()
		return false
	}
	io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
	return true
}

// EchoBackend is a raw backend that accepts the upgrade and then sends
// back every byte it gets, frames or not. It returns its URL.
func EchoBackend(t testing.TB) string {
	t.Helper()
	return RawBackend(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if Answer101(c, br) {
			io.Copy(c, br)
		}
	})
}
