package load

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"
)

// dialAll opens the connections, at most cfg.Ramp handshakes at a time,
// and reports the handshake rate.
func dialAll(ctx context.Context, cfg Config, st *stats) ([]*wire, float64) {
	conns := make([]*wire, cfg.Conns)
	sem := make(chan struct{}, cfg.Ramp)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w, node, err := dialWire(cfg.URL)
			if err != nil {
				st.fail(fmt.Errorf("handshake: %w", err))
				return
			}
			st.open.Add(1)
			st.mu.Lock()
			st.backends[node]++
			st.mu.Unlock()
			conns[i] = w
		}()
	}
	wg.Wait()
	rate := float64(cfg.Conns) / time.Since(start).Seconds()
	delete(st.backends, "")
	return slices.DeleteFunc(conns, func(c *wire) bool { return c == nil }), rate
}

// runEcho runs rtt, flood or hold against an echo backend.
func runEcho(ctx context.Context, cfg Config, st *stats) (Report, error) {
	conns, rate := dialAll(ctx, cfg, st)
	rep := Report{Handshakes: int64(len(conns)), HandshakesPerSec: rate}
	defer func() {
		for _, c := range conns {
			c.c.Close()
		}
	}()
	if len(conns) == 0 {
		return rep, fmt.Errorf("no connection opened: %s", st.first)
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch cfg.Mode {
			case RTT:
				err = rtt(ctx, c, cfg, st)
			case Flood:
				err = flood(runCtx, c, cfg, st)
			case Hold:
				err = hold(runCtx, c, st)
			}
			if err != nil && ctx.Err() == nil {
				st.fail(err)
			}
		}()
	}
	wg.Wait()
	if cfg.Mode != Hold {
		rep.MsgsPerSec = float64(st.messages.Load()) / time.Since(start).Seconds()
		rep.MBPerSec = rep.MsgsPerSec * float64(cfg.Size) / 1e6
	}
	return rep, nil
}

func payload(size int) []byte {
	p := make([]byte, max(size, 8))
	rand.Read(p)
	return p
}

// rtt sends one message at a time and times each echo.
func rtt(ctx context.Context, c *wire, cfg Config, st *stats) error {
	msg, buf := payload(cfg.Size), make([]byte, cfg.Size)
	lat := make([]time.Duration, 0, cfg.Messages)
	defer func() { st.addLatencies(lat) }()
	for range cfg.Messages {
		if ctx.Err() != nil {
			return nil
		}
		t0 := time.Now()
		c.writeFrame(opBinary, msg)
		if err := c.flush(); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if _, _, err := c.readFrame(&buf, len(buf)); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		lat = append(lat, time.Since(t0))
		st.messages.Add(1)
	}
	return nil
}

// flood keeps cfg.Window messages in flight until ctx ends.
func flood(ctx context.Context, c *wire, cfg Config, st *stats) error {
	window := make(chan struct{}, cfg.Window)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, cfg.Size)
		for {
			if _, _, err := c.readFrame(&buf, len(buf)); err != nil {
				readErr <- err
				return
			}
			st.messages.Add(1)
			<-window
		}
	}()
	msg := payload(cfg.Size)
	stop := func(err error) error {
		c.c.Close() // ends the reader
		<-readErr
		return err
	}
	for {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			return stop(nil)
		case err := <-readErr:
			return fmt.Errorf("read: %w", err)
		}
		binary.LittleEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		c.writeFrame(opBinary, msg)
		if len(window) == cap(window) || len(window) == 1 { // batch while the window fills
			if err := c.flush(); err != nil {
				return stop(fmt.Errorf("write: %w", err))
			}
		}
	}
}

// hold keeps the connection idle until ctx ends, then checks it still
// answers a ping.
func hold(ctx context.Context, c *wire, st *stats) error {
	closed := make(chan error, 1)
	pong := make(chan struct{}, 1)
	go func() {
		var buf []byte
		for {
			op, _, err := c.readFrame(&buf, 64<<10)
			if err != nil {
				closed <- err
				return
			}
			if op == opPong {
				pong <- struct{}{}
			}
		}
	}()
	select {
	case err := <-closed:
		st.open.Add(-1)
		return fmt.Errorf("closed while held: %w", err)
	case <-ctx.Done():
	}
	c.writeFrame(opPing, []byte("hold"))
	if err := c.flush(); err != nil {
		return fmt.Errorf("ping after the hold: %w", err)
	}
	select {
	case <-pong:
		st.messages.Add(1)
		c.c.Close()
		<-closed
		return nil
	case err := <-closed:
		return fmt.Errorf("no pong after the hold: %w", err)
	case <-time.After(10 * time.Second):
		c.c.Close()
		<-closed
		return fmt.Errorf("no pong within 10s after the hold")
	}
}
