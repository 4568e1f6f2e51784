package load

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wslab/wslab/node/client"
)

// runChat connects Socket.IO users through the balancer; each says
// something once a second and every user measures how long each message
// took to reach it, across nodes.
func runChat(ctx context.Context, cfg Config, st *stats) (Report, error) {
	base := strings.Replace(strings.Replace(cfg.URL, "wss://", "https://", 1), "ws://", "http://", 1)
	users := make([]*client.Client, cfg.Conns)
	sem := make(chan struct{}, cfg.Ramp)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range users {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := client.Dial(ctx, client.Options{URL: base})
			if err != nil {
				st.fail(fmt.Errorf("connect: %w", err))
				return
			}
			c.Emit(ctx, "set_username", "u"+strconv.Itoa(i))
			st.open.Add(1)
			st.mu.Lock()
			st.backends[c.Node()]++
			st.mu.Unlock()
			users[i] = c
		}()
	}
	wg.Wait()
	rep := Report{HandshakesPerSec: float64(cfg.Conns) / time.Since(start).Seconds()}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	t0 := time.Now()
	for i, c := range users {
		if c == nil {
			continue
		}
		rep.Handshakes++
		wg.Add(2)
		go func() { defer wg.Done(); speak(runCtx, c, i, t0, st) }()
		go func() { defer wg.Done(); listen(runCtx, c, t0, st) }()
	}
	wg.Wait()
	for _, c := range users {
		if c != nil {
			c.CloseNow()
		}
	}
	rep.MsgsPerSec = float64(st.messages.Load()) / time.Since(t0).Seconds()
	return rep, nil
}

// speak sends "@<ns since t0>" once a second, phase-shifted per user.
func speak(ctx context.Context, c *client.Client, i int, t0 time.Time, st *stats) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(i%1000) * time.Millisecond):
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := c.Emit(ctx, "message", "@"+strconv.FormatInt(int64(time.Since(t0)), 10)); err != nil && ctx.Err() == nil {
			st.fail(err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// listen times every chat line that carries a send time.
func listen(ctx context.Context, c *client.Client, t0 time.Time, st *stats) {
	var lat []time.Duration
	defer func() { st.addLatencies(lat) }()
	for {
		text, err := c.NextMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				st.fail(err)
			}
			return
		}
		if _, sent, ok := strings.Cut(text, ": @"); ok {
			if ns, err := strconv.ParseInt(sent, 10, 64); err == nil {
				lat = append(lat, time.Since(t0)-time.Duration(ns))
				st.messages.Add(1)
			}
		}
	}
}
