//go:build unix

package balancer

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// BenchmarkWrite compares a copy's counted write (sockWriter) with the
// plain net.Conn.Write it replaced, 1 KiB at a time to a loopback peer
// that reads everything: the counter must cost nothing on the way through.
func BenchmarkWrite(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	msg := make([]byte, 1024)
	for _, way := range []string{"net.Conn", "sockWriter"} {
		b.Run(way, func(b *testing.B) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var w sockWriter
			var blocked atomic.Uint64
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if way == "net.Conn" {
					_, err = c.Write(msg)
				} else {
					err = w.write(c, &blocked, msg)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
