// Command observe measures how a real proxy ends an idle upgraded
// connection: the "observed" values of the nginx-default and
// haproxy-default profiles come from it. It runs on the wall clock on
// purpose (it measures other programs), so it is a tool, not a test.
//
// It starts a backend that answers the upgrade with 101, opens an upgrade
// through the proxy, optionally sends one byte from either side every
// interval, and prints when and how the client's read ends: EOF (a FIN),
// ECONNRESET (a reset) or still open at -limit, with any bytes received
// (a Close frame would show up there).
//
// Reproduce the profiles' measurements (loopback only; stop what you start):
//
//	# nginx: a server { location / { proxy_pass http://127.0.0.1:19081;
//	#   proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;
//	#   proxy_set_header Connection "upgrade"; } } listening on 127.0.0.1:18081
//	go run ./profiles/observe -backend 127.0.0.1:19081 -proxy 127.0.0.1:18081                     # silent: FIN at 60 s
//	go run ./profiles/observe -backend 127.0.0.1:19081 -proxy 127.0.0.1:18081 -client-every 20s    # open at 100 s
//	go run ./profiles/observe -backend 127.0.0.1:19081 -proxy 127.0.0.1:18081 -backend-every 20s   # open at 100 s
//
//	# HAProxy, mode http, frontend on 127.0.0.1:18091 to server 127.0.0.1:19091,
//	# with no timeouts (open at 100 s) or timeout client/server 50s (FIN at 50 s)
//	go run ./profiles/observe -backend 127.0.0.1:19091 -proxy 127.0.0.1:18091
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

func main() {
	backend := flag.String("backend", "127.0.0.1:0", "address the test backend listens on (the proxy's upstream)")
	proxy := flag.String("proxy", "", "address of the proxy under test")
	clientEvery := flag.Duration("client-every", 0, "the client sends one byte this often (0: never)")
	backendEvery := flag.Duration("backend-every", 0, "the backend sends one byte this often (0: never)")
	limit := flag.Duration("limit", 100*time.Second, "stop watching after this long")
	flag.Parse()
	if *proxy == "" {
		fmt.Fprintln(os.Stderr, "observe: -proxy is required, e.g. -proxy 127.0.0.1:18081")
		os.Exit(2)
	}
	if err := run(*backend, *proxy, *clientEvery, *backendEvery, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "observe:", err)
		os.Exit(1)
	}
}

func run(backend, proxy string, clientEvery, backendEvery, limit time.Duration) error {
	ln, err := net.Listen("tcp", backend)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	defer ln.Close()
	go serve(ln, backendEvery)

	c, err := net.DialTimeout("tcp", proxy, 5*time.Second)
	if err != nil {
		return fmt.Errorf("dial proxy: %w", err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /ws HTTP/1.1\r\nHost: lab\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read upgrade response: %w", err)
	}
	fmt.Println("upgrade status", resp.StatusCode)
	start := time.Now()
	if clientEvery > 0 {
		go tick(c, clientEvery, 'c')
	}
	c.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 64)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			fmt.Printf("%6.1fs received %q\n", time.Since(start).Seconds(), buf[:n])
		}
		if err != nil {
			fmt.Printf("%6.1fs end: %s (%v)\n", time.Since(start).Seconds(), kind(err), err)
			return nil
		}
	}
}

func kind(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "FIN"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "still open at the limit"
	}
	return "other error"
}

// tick writes one byte every interval until the write fails.
func tick(c net.Conn, every time.Duration, b byte) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
	}
}

// serve answers every upgrade with 101 and then only reads (and, with
// every > 0, writes one byte per interval).
func serve(ln net.Listener, every time.Duration) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			fmt.Fprint(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
			if every > 0 {
				go tick(c, every, 'b')
			}
			io.Copy(io.Discard, br)
		}()
	}
}
