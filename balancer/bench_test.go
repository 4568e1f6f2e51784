package balancer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/node"
)

// BenchmarkTunnelEcho measures 1 KiB echo round trips through the balancer
// against the same echo node reached directly: bytes/s and allocations per
// message (client and backend included; the difference is the tunnel's).
func BenchmarkTunnelEcho(b *testing.B) {
	nd, err := node.Start(context.Background(), node.Config{Name: "echo", Mode: node.ModeEcho})
	if err != nil {
		b.Fatal(err)
	}
	defer nd.Close()
	bal, err := balancer.Start(context.Background(), config.Config{
		Listener:    config.Listener{Addr: "127.0.0.1:0"},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "echo", URL: nd.URL()}}, HealthCheck: config.HealthCheck{Disabled: true}},
	}, balancer.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bal.Close()
	pumps, err := balancer.Start(context.Background(), config.Config{
		Listener:    config.Listener{Addr: "127.0.0.1:0"},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "echo", URL: nd.URL()}}, HealthCheck: config.HealthCheck{Disabled: true}},
	}, balancer.Options{FrontDoor: balancer.Goroutines})
	if err != nil {
		b.Fatal(err)
	}
	defer pumps.Close()
	for _, target := range []struct{ name, url string }{{"direct", nd.URL()}, {"balancer", bal.URL()}, {"balancer-goroutines", pumps.URL()}} {
		b.Run(target.name, func(b *testing.B) {
			ctx := context.Background()
			c, _, err := websocket.Dial(ctx, strings.Replace(target.url, "http", "ws", 1)+"/", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseNow()
			msg := []byte(strings.Repeat("x", 1024))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPick measures choosing a backend among 8 for a new connection.
func BenchmarkPick(b *testing.B) {
	for _, policy := range []string{config.RoundRobin, config.LeastConn, config.SourceHash} {
		b.Run(policy, func(b *testing.B) {
			var srv []config.Server
			for i := range 8 {
				srv = append(srv, config.Server{Name: fmt.Sprintf("n%d", i), URL: fmt.Sprintf("http://127.0.0.1:%d", 9001+i)})
			}
			b.ReportAllocs()
			balancer.BenchPick(b, config.Config{ServerGroup: config.ServerGroup{Policy: policy, Servers: srv}})
		})
	}
}
