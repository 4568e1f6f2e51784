package balancer

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// startChecks (re)starts the active health checks of every target of snap.
// Health state lives in the backends and survives. Callers hold b.mu.
func (b *Balancer) startChecks(snap *snapshot) {
	if b.stopChecks != nil {
		b.stopChecks()
	}
	hc := snap.cfg.ServerGroup.HealthCheck
	if hc.Disabled {
		b.stopChecks = nil
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stopChecks = cancel
	for _, t := range snap.targets {
		w := b.clock.TickerFunc(ctx, time.Duration(hc.Interval), func() error {
			b.check(ctx, t, hc)
			return nil
		}, "balancer", "health")
		b.checkWait = append(b.checkWait, w)
	}
}

// check runs one probe of t in the background. Its timeout runs on the
// balancer's clock, so a wedged backend fails its check at exactly
// interval + timeout in virtual time.
func (b *Balancer) check(ctx context.Context, t *target, hc config.HealthCheck) {
	be := t.b
	be.mu.Lock()
	if be.checking {
		be.mu.Unlock()
		return // the previous probe is still out
	}
	be.checking = true
	be.mu.Unlock()
	pctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	report := func(err error) {
		once.Do(func() {
			cancel()
			if ctx.Err() == nil {
				b.recordCheck(t, hc, err)
				return
			}
			// The checks were restarted (a reload) or stopped: this result
			// no longer counts, but the backend must be free for the next.
			be.mu.Lock()
			be.checking = false
			be.mu.Unlock()
			b.probeSettled()
		})
	}
	timeout := time.Duration(hc.Timeout)
	timer := b.clock.AfterFunc(timeout, func() {
		report(fmt.Errorf("no answer within %s", timeout))
	}, "balancer", "health-timeout")
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		err := b.probeOnce(pctx, t, hc)
		timer.Stop()
		report(err)
	}()
}

// probeOnce is one HTTP request (GET or HEAD; a status among the success
// codes is healthy), or one WebSocket upgrade and ping.
func (b *Balancer) probeOnce(ctx context.Context, t *target, hc config.HealthCheck) error {
	u := "http://" + t.addr + hc.Path
	if hc.Type == "websocket" {
		c, _, err := websocket.Dial(ctx, "ws://"+t.addr+hc.Path, nil)
		if err != nil {
			return err
		}
		defer c.CloseNow()
		c.CloseRead(ctx)
		return c.Ping(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, hc.Method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "wslab-health-check")
	resp, err := b.probe.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	codes, _ := config.ParseCodes(hc.SuccessCodes) // validated
	if !codes.Match(resp.StatusCode) {
		return fmt.Errorf("status %d on %s %s (success_codes %s)", resp.StatusCode, hc.Method, hc.Path, hc.SuccessCodes)
	}
	return nil
}

// WaitProbes waits until no health probe is out, leaving aside backends
// for which skip reports true (a hung node, whose probe only its timeout on
// the clock can end). A scenario calls it after each step of virtual time,
// so results never depend on how fast the machine is.
func (b *Balancer) WaitProbes(ctx context.Context, skip func(backend string) bool) error {
	for {
		b.probeMu.Lock()
		wake := b.probeWake
		b.probeMu.Unlock()
		busy := false
		b.mu.Lock()
		for name, be := range b.backends {
			be.mu.Lock()
			out := be.checking
			be.mu.Unlock()
			if out && (skip == nil || !skip(name)) {
				busy = true
			}
		}
		b.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// probeSettled wakes WaitProbes.
func (b *Balancer) probeSettled() {
	b.probeMu.Lock()
	close(b.probeWake)
	b.probeWake = make(chan struct{})
	b.probeMu.Unlock()
}

// recordCheck counts a result and flips the backend's health after the
// configured number of consecutive results.
func (b *Balancer) recordCheck(t *target, hc config.HealthCheck, err error) {
	be := t.b
	be.mu.Lock()
	defer be.mu.Unlock()
	be.checking = false
	result, detail := "ok", ""
	if err != nil {
		result, detail = "failed", shortErr(err)
		be.failures.Add(1)
		be.okRun, be.failRun = 0, be.failRun+1
	} else {
		be.okRun, be.failRun = be.okRun+1, 0
	}
	be.lastCheck = result
	if detail != "" {
		be.lastCheck += ": " + detail
	}
	defer b.probeSettled()
	b.publish(events.Event{Kind: events.BackendCheck, Backend: t.name, Reason: result, Detail: detail})
	switch {
	case be.healthy.Load() && be.failRun >= hc.UnhealthyThreshold:
		be.healthy.Store(false)
		b.publish(events.Event{Kind: events.BackendHealth, Backend: t.name, Reason: "unhealthy",
			Detail: fmt.Sprintf("%d checks failed in a row, last: %s", be.failRun, detail)})
		b.groupHealthChanged(hc, t.name+": "+detail)
	case !be.healthy.Load() && be.okRun >= hc.HealthyThreshold:
		be.healthy.Store(true)
		b.publish(events.Event{Kind: events.BackendHealth, Backend: t.name, Reason: "healthy",
			Detail: fmt.Sprintf("%d checks passed in a row", be.okRun)})
		b.groupHealthChanged(hc, "")
	}
}

// groupHealthChanged says so, once, when the last healthy backend of the
// group goes (every new request now gets 503, or is routed to all of them
// with fail_open) and when one comes back. Callers hold the changed
// backend's mu, never b.mu.
func (b *Balancer) groupHealthChanged(hc config.HealthCheck, last string) {
	snap := b.snap.Load()
	healthy := 0
	for _, t := range snap.targets {
		if t.b.healthy.Load() {
			healthy++
		}
	}
	down := healthy == 0 && len(snap.targets) > 0
	if b.allDown.Swap(down) == down {
		return
	}
	if !down {
		b.publish(events.Event{Kind: events.GroupHealth, Reason: "recovered",
			Detail: "a backend is healthy again; new connections are routed to the healthy ones"})
		return
	}
	then := "new requests get 503"
	if hc.FailOpen {
		then = "fail_open: new requests go to all of them"
	}
	detail := fmt.Sprintf("every backend is unhealthy, %s (last failure: %s). Check that %s %s answers %s on your servers, "+
		"or set server_group.health_check.path/success_codes/method to what they answer; health_check.disabled: true or fail_open: true route regardless",
		then, last, hc.Method, hc.Path, hc.SuccessCodes)
	b.publish(events.Event{Kind: events.GroupHealth, Reason: "all_unhealthy", Detail: detail})
}

// shortErr trims Go's error chains to what a person needs.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "dial tcp") {
		return "connect: " + s[i+2:]
	}
	return s
}
