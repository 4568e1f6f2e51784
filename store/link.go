package store

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Link is a TCP relay in front of a Redis that a lab cuts and restores to
// play an outage: Cut drops every connection and refuses new ones, Restore
// listens again on the same address. (Closing miniredis itself would leave
// its blocking commands unanswered after a restart.)
type Link struct {
	target string
	addr   string

	// mu guards the fields below.
	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	done  bool

	wg sync.WaitGroup // accept loop and relays
}

// NewLink relays 127.0.0.1:<free port> to target.
func NewLink(target string) (*Link, error) {
	l := &Link{target: target, conns: map[net.Conn]struct{}{}}
	if err := l.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return l, nil
}

// Addr is the link's host:port; URL its redis:// URL.
func (l *Link) Addr() string { return l.addr }
func (l *Link) URL() string  { return "redis://" + l.addr + "/0" }

func (l *Link) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("redis link: listen on %s: %w", addr, err)
	}
	l.ln, l.addr = ln, ln.Addr().String()
	l.wg.Add(1)
	go l.accept(ln)
	return nil
}

func (l *Link) accept(ln net.Listener) {
	defer l.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		if l.ln != ln {
			l.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		l.conns[c], l.conns[up] = struct{}{}, struct{}{}
		l.wg.Add(2)
		l.mu.Unlock()
		go l.relay(c, up)
		go l.relay(up, c)
	}
}

func (l *Link) relay(dst, src net.Conn) {
	defer l.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	l.mu.Lock()
	delete(l.conns, dst)
	delete(l.conns, src)
	l.mu.Unlock()
}

// Cut drops every connection and refuses new ones until Restore.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
	}
}

// Restore accepts connections again on the same address.
func (l *Link) Restore() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return errors.New("redis link: closed")
	}
	if l.ln != nil {
		return nil
	}
	return l.listen(l.addr)
}

// Close cuts the link for good and waits for its goroutines.
func (l *Link) Close() {
	l.Cut()
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
	l.wg.Wait()
}
