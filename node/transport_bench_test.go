package node_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
)

// BenchmarkChatTransports measures the chat straight to a node (embedded
// Redis) over each Socket.IO transport:
//
//   - roundtrip: a user sends a message and waits for it to come back
//     through the room; ns/op is the latency, and p50/p99 are reported.
//   - stream: a user sends b.N messages without waiting and another user
//     on the same node receives them all; msgs/s is the throughput.
//
// go test -run='^$' -bench=ChatTransports -benchtime=2000x ./node/
func BenchmarkChatTransports(b *testing.B) {
	for _, tr := range []client.Transport{client.SocketIO, client.Polling} {
		name := map[client.Transport]string{client.SocketIO: "websocket", client.Polling: "polling"}[tr]
		b.Run(name+"/roundtrip", func(b *testing.B) {
			n := benchNode(b)
			a := benchUser(b, n.URL(), tr, "A")
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if err := a.Emit(ctxT(b), "message", fmt.Sprint(i)); err != nil {
					b.Fatal(err)
				}
				if _, err := a.NextMessage(ctxT(b)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
		b.Run(name+"/stream", func(b *testing.B) {
			n := benchNode(b)
			a := benchUser(b, n.URL(), tr, "A")
			r := benchUser(b, n.URL(), tr, "R")
			b.ResetTimer()
			sent := make(chan error, 1)
			go func() {
				for i := range b.N {
					if err := a.Emit(ctxT(b), "message", fmt.Sprint(i)); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			for range b.N {
				if _, err := r.NextMessage(ctxT(b)); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-sent; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func benchNode(b *testing.B) *node.Node {
	b.Helper()
	w := newWorld(b)
	// A queue as deep as the stream, so that the reader's pace is
	// measured rather than the slow-consumer rule.
	return w.startNode(b, node.Config{Name: "node-1", Queue: max(b.N+16, node.DefaultQueue)})
}

func benchUser(b *testing.B, url string, tr client.Transport, name string) *client.Client {
	b.Helper()
	return joinAs(b, url, tr, name)
}
