package balancer_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/load"
)

// BenchmarkHandshake measures a WebSocket handshake through the balancer to
// a raw echo backend, then the close: the cost of opening a tunnel.
func BenchmarkHandshake(b *testing.B) {
	be := httptest.NewServer(load.EchoHandler("echo"))
	defer be.Close()
	bal, err := balancer.Start(context.Background(), config.Config{
		Listener:    config.Listener{Addr: "127.0.0.1:0"},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "echo", URL: be.URL}}, HealthCheck: config.HealthCheck{Disabled: true}},
	}, balancer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bal.Close()
	req := "GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", bal.Addr())
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 101 {
			b.Fatalf("%v %v", resp, err)
		}
		c.Close()
	}
}

// BenchmarkHandshakeSticky is BenchmarkHandshake with lb_cookie stickiness
// on and the client sending the cookie it got: the cost of checking and
// rewriting the cookie, against BenchmarkHandshake.
func BenchmarkHandshakeSticky(b *testing.B) {
	be := httptest.NewServer(load.EchoHandler("echo"))
	defer be.Close()
	bal, err := balancer.Start(context.Background(), config.Config{
		Listener: config.Listener{Addr: "127.0.0.1:0"},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "echo", URL: be.URL}}, HealthCheck: config.HealthCheck{Disabled: true},
			Stickiness: config.Stickiness{Type: config.StickyLBCookie}},
	}, balancer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bal.Close()
	req := "GET / HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	handshake := func(req string) *http.Response {
		c, err := net.Dial("tcp", bal.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, req)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 101 {
			b.Fatalf("%v %v", resp, err)
		}
		return resp
	}
	cookies := handshake(req + "\r\n").Cookies()
	if len(cookies) == 0 {
		b.Fatal("no sticky cookie on the 101")
	}
	req += "Cookie: " + cookies[0].String() + "\r\n\r\n"
	b.ReportAllocs()
	for b.Loop() {
		handshake(req)
	}
	if st := bal.Status().Stickiness; st.Hits == 0 || st.Repicks != 0 {
		b.Fatalf("stickiness: got %+v, want hits and no repicks", st)
	}
}
