package balancer_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

func TestCloseReasonsSayWhoEndedFirstAndHow(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		nodes := echoNodes(t, 1)
		r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, quartz.NewMock(t), door)
		closedWith := func(end func(c *wsConn)) events.Event {
			t.Helper()
			c := dialWS(t, r.b.URL())
			r.waitEvent(t, kind(opened))
			c.echo(t, "hello")
			end(c)
			return r.waitEvent(t, kind(closed))
		}
		tests := []struct {
			name       string
			end        func(c *wsConn)
			reason     string
			detailHint string
		}{
			{"a tab closes: the client's 1001", func(c *wsConn) { c.Close(websocket.StatusGoingAway, "tab closed") }, balancer.ReasonClientCloseFrame, `client sent close 1001 "tab closed"`},
			{"a client that says 1000", func(c *wsConn) { c.Close(websocket.StatusNormalClosure, "") }, balancer.ReasonClientCloseFrame, "client sent close 1000"},
			{"a client that just hangs up", func(c *wsConn) { c.CloseNow() }, balancer.ReasonClientFIN, "without a close frame"},
		}
		for _, tt := range tests {
			e := closedWith(tt.end)
			if e.Reason != tt.reason || !strings.Contains(e.Detail, tt.detailHint) {
				t.Errorf("%s: closed %s (%s), want %s with %q", tt.name, e.Reason, e.Detail, tt.reason, tt.detailHint)
			}
		}
		// A graceful stop says 1001 from the backend; a crash says nothing.
		c := dialWS(t, r.b.URL())
		r.waitEvent(t, kind(opened))
		nodes[0].Stop(ctxT(t))
		if e := r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonBackendCloseFrame || !strings.Contains(e.Detail, "backend sent close 1001") {
			t.Errorf("a stopped node: closed %s (%s), want backend_close_frame with 1001", e.Reason, e.Detail)
		}
		c.CloseNow()
		if err := nodes[0].Start(); err != nil {
			t.Fatal(err)
		}
		c = dialWS(t, r.b.URL())
		r.waitEvent(t, kind(opened))
		nodes[0].Kill()
		if e := r.waitEvent(t, kind(closed)); e.Reason != balancer.ReasonBackendFIN && e.Reason != balancer.ReasonBackendReset {
			t.Errorf("a killed node: closed %s (%s), want the backend's FIN or reset", e.Reason, e.Detail)
		}
		st := r.b.Status()
		for reason, want := range map[string]uint64{balancer.ReasonClientCloseFrame: 2, balancer.ReasonClientFIN: 1, balancer.ReasonBackendCloseFrame: 1} {
			if st.Closed[reason] != want {
				t.Errorf("status counts %d closed %s, want %d (all: %v)", st.Closed[reason], reason, want, st.Closed)
			}
		}
		// The one backend's breakdown is the whole count.
		if got := st.Backends[0].Closed; !maps.Equal(got, st.Closed) {
			t.Errorf("%s's closed tunnels by reason: got %v, want %v as the balancer's", st.Backends[0].Name, got, st.Closed)
		}
		if st.CloseCodes["client 1001"] != 1 || st.CloseCodes["client 1000"] != 1 || st.CloseCodes["backend 1001"] != 1 {
			t.Errorf("close codes %v, want client 1001, client 1000 and backend 1001 once each", st.CloseCodes)
		}
	})
}

// maskedClose1001 is a client's close frame with code 1001.
var maskedClose1001 = []byte{0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe9 ^ 2}

// closeCodeOf reads frames from a raw WebSocket peer's connection until a
// close frame, and returns its code.
func closeCodeOf(br *bufio.Reader) (int, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return 0, err
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(br, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			io.ReadFull(br, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		var key [4]byte
		if h[1]&0x80 != 0 {
			io.ReadFull(br, key[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return 0, err
		}
		for i := range p {
			p[i] ^= key[i%4]
		}
		if h[0]&0x0f == 0x8 {
			if len(p) < 2 {
				return 1005, nil
			}
			return int(binary.BigEndian.Uint16(p)), nil
		}
	}
}

func TestShutdownSaysGoodbyeToBothEnds(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		backendHeard := make(chan int, 100)
		addr := balancertest.RawBackend(t, func(c net.Conn) {
			defer c.Close()
			br := bufio.NewReader(c)
			if !balancertest.Answer101(c, br) {
				return
			}
			code, err := closeCodeOf(br)
			if err != nil {
				code = -1
			}
			backendHeard <- code
			c.Write([]byte{0x88, 0x02, 0x03, 0xe9}) // answer 1001, then hang up
		})
		r := start(t, config.Config{ServerGroup: config.ServerGroup{
			Servers: []config.Server{{Name: "raw", URL: addr}}, HealthCheck: noChecks()}}, quartz.NewMock(t), door)
		b := r.b
		const n = 20
		heard := make(chan int, n)
		for range n {
			c, br := openTunnel(t, b.Addr())
			defer c.Close()
			r.waitEvent(t, kind(opened))
			go func() {
				code, err := closeCodeOf(br)
				if err != nil {
					code = -1
				}
				heard <- code
				c.Write(maskedClose1001) // answer as a browser does
				io.Copy(io.Discard, br)
			}()
		}
		var seen []int
		start := time.Now()
		if err := b.Shutdown(ctxT(t), func(open int) { seen = append(seen, open) }); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("shutdown took %s with every peer answering, want it to end when they do", took)
		}
		for range n {
			if code := <-heard; code != 1001 {
				t.Errorf("a client saw close status %d, want 1001", code)
			}
			if code := <-backendHeard; code != 1001 {
				t.Errorf("the backend heard close %d, want 1001", code)
			}
		}
		if len(seen) == 0 || seen[0] != n || seen[len(seen)-1] != 0 {
			t.Errorf("progress %v, want it to start at %d and end at 0", seen, n)
		}
		if st := b.Status(); st.Closed[balancer.ReasonShutdown] != n {
			t.Errorf("closed for shutdown: %d, want %d (%v)", st.Closed[balancer.ReasonShutdown], n, st.Closed)
		}
	})
}

func TestShutdownClosesWhatDoesNotAnswerAtItsTimeout(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		addr := balancertest.EchoBackend(t)
		r := start(t, config.Config{ServerGroup: config.ServerGroup{
			Servers: []config.Server{{Name: "raw", URL: addr}}, HealthCheck: noChecks()}}, quartz.NewMock(t), door)
		b := r.b
		c, br := openTunnel(t, b.Addr()) // a client that never answers a close frame
		defer c.Close()
		r.waitEvent(t, kind(opened))
		ctx, cancel := context.WithTimeout(ctxT(t), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		b.Shutdown(ctx, nil)
		if took := time.Since(start); took < 300*time.Millisecond || took > 2*time.Second {
			t.Errorf("shutdown took %s, want the 300ms timeout", took)
		}
		if code, err := closeCodeOf(br); code != 1001 {
			t.Errorf("the client heard %d (%v), want 1001 before the end", code, err)
		}
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("after the timeout: %v, want the connection closed", err)
		}
	})
}
