package load

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// runEcho runs rtt, flood or hold over raw WebSocket echo connections.
func runEcho(ctx context.Context, cfg Config, st *stats) (Report, error) {
	conns, rate := dialAll(ctx, cfg, st)
	rep := Report{Handshakes: int64(len(conns)), HandshakesPerSec: rate}
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	if len(conns) == 0 {
		return rep, fmt.Errorf("no connection opened: %s", st.first)
	}
	start := time.Now()
	var wg sync.WaitGroup
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	if cfg.Mode == RTT {
		cancel()
		runCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
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
				err = hold(runCtx, ctx, c, st)
			}
			if err != nil {
				st.fail(err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if cfg.Mode != Hold {
		rep.MsgsPerSec = float64(st.messages.Load()) / elapsed.Seconds()
		rep.MBPerSec = rep.MsgsPerSec * float64(cfg.Size) / 1e6
	}
	return rep, nil
}

// payload is a message whose first 8 bytes carry the send time.
func payload(size int) []byte {
	p := make([]byte, max(size, 8))
	rand.Read(p)
	return p
}

// rtt sends one message at a time and times each echo.
func rtt(ctx context.Context, c *websocket.Conn, cfg Config, st *stats) error {
	msg, buf := payload(cfg.Size), make([]byte, cfg.Size+8)
	lat := make([]time.Duration, 0, cfg.Messages)
	defer func() { st.addLatencies(lat) }()
	for range cfg.Messages {
		t0 := time.Now()
		if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if _, err := readInto(ctx, c, buf); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
		st.messages.Add(1)
	}
	return nil
}

// flood keeps cfg.Window messages in flight until ctx ends.
func flood(ctx context.Context, c *websocket.Conn, cfg Config, st *stats) error {
	window := make(chan struct{}, cfg.Window)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, cfg.Size+8)
		for {
			if _, err := readInto(context.Background(), c, buf); err != nil {
				readErr <- err
				return
			}
			st.messages.Add(1)
			<-window
		}
	}()
	msg := payload(cfg.Size)
	for {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			c.CloseNow() // ends the reader
			<-readErr
			return nil
		case err := <-readErr:
			return err
		}
		binary.LittleEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		if err := c.Write(context.Background(), websocket.MessageBinary, msg); err != nil {
			c.CloseNow()
			<-readErr
			return fmt.Errorf("write: %w", err)
		}
	}
}

// hold keeps the connection idle until holdCtx ends, then checks it still
// answers a ping. Messages the server sends meanwhile are read and dropped.
func hold(holdCtx, ctx context.Context, c *websocket.Conn, st *stats) error {
	closed := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := readInto(context.Background(), c, buf); err != nil {
				closed <- err
				return
			}
		}
	}()
	select {
	case err := <-closed:
		st.open.Add(-1)
		return fmt.Errorf("closed while held: %w", err)
	case <-holdCtx.Done():
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		return fmt.Errorf("no pong after the hold: %w", err)
	}
	st.messages.Add(1)
	return nil
}

// readInto reads one message into buf without allocating.
func readInto(ctx context.Context, c *websocket.Conn, buf []byte) (int, error) {
	_, r, err := c.Reader(ctx)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("read: %w", err)
	}
	io.Copy(io.Discard, r) // longer than buf
	return n, nil
}
