package faultlink_test

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/wslab/wslab/faultlink"
)

// A link in front of a server: the faults change while a connection is
// open, and the counters say what passed.
func Example() {
	server, _ := net.Listen("tcp", "127.0.0.1:0") // an echo server
	defer server.Close()
	go func() {
		c, err := server.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	link, err := faultlink.Start(faultlink.Config{Name: "node-1", Upstream: server.Addr().String()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer link.Close()

	c, _ := net.Dial("tcp", link.Addr())
	link.Set(faultlink.Faults{Up: faultlink.Direction{Latency: faultlink.Duration(20 * time.Millisecond)}})
	start := time.Now()
	c.Write([]byte("ping"))
	io.ReadFull(c, make([]byte, 4))
	fmt.Println("faults:", link.Faults(), "- round trip at least 20ms:", time.Since(start) >= 20*time.Millisecond)

	link.Set(faultlink.Faults{BlackHole: true})
	fmt.Println("faults:", link.Faults())
	link.Clear()
	c.Close()
	st := link.Stats()
	fmt.Println("connections:", st.Connections, "bytes up:", st.BytesUp, "bytes down:", st.BytesDown)
	// Output:
	// faults: up latency 20ms - round trip at least 20ms: true
	// faults: black hole
	// connections: 1 bytes up: 4 bytes down: 4
}
