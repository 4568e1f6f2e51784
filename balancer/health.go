package balancer

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// prober runs the active health checks: a ticker per target of the
// running snapshot on the balancer's clock, and each round's probe in a
// goroutine it owns. Health itself lives in the backends, which survive
// reloads; the prober owns which probes are out, so that WaitProbes can
// say when none is.
type prober struct {
	clock   quartz.Clock
	client  *http.Client
	publish func(events.Event)
	snap    func() *snapshot // the running one, for the group's health
	// lag keeps a backend that fails its checks in the rotation for the
	// deregistration lag (drainer.lag).
	lag     func(be *backend, lag time.Duration, why string)
	allDown atomic.Bool    // every backend unhealthy, said once (groupHealthChanged)
	wg      sync.WaitGroup // probes out

	// mu guards the fields below; nothing is taken inside it.
	mu      sync.Mutex
	stop    context.CancelFunc // ends the running checks; nil if none
	tickers []quartz.Waiter    // every ticker started, for close to wait on
	out     map[*backend]bool  // backends with a probe out
	wake    chan struct{}      // closed and replaced whenever a probe settles
}

func newProber(clock quartz.Clock, publish func(events.Event), snap func() *snapshot, lag func(*backend, time.Duration, string)) *prober {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &prober{
		clock: clock, publish: publish, snap: snap, lag: lag,
		client: &http.Client{
			Transport:     &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		out: map[*backend]bool{}, wake: make(chan struct{}),
	}
}

// restart (re)starts the checks of every target of snap. The control path
// calls it, serialized by Balancer.mu.
func (p *prober) restart(snap *snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	hc := snap.cfg.ServerGroup.HealthCheck
	if hc.Disabled {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	for _, t := range snap.targets {
		w := p.clock.TickerFunc(ctx, time.Duration(hc.Interval), func() error {
			p.check(ctx, t, hc)
			return nil
		}, "balancer", "health")
		p.tickers = append(p.tickers, w)
	}
}

// close stops the checks and waits for their tickers and probes.
func (p *prober) close() {
	p.mu.Lock()
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	tickers := p.tickers
	p.mu.Unlock()
	for _, w := range tickers {
		w.Wait()
	}
	p.wg.Wait()
}

// check runs one probe of t in the background. Its timeout runs on the
// balancer's clock, so a wedged backend fails its check at exactly
// interval + timeout in virtual time.
func (p *prober) check(ctx context.Context, t *target, hc config.HealthCheck) {
	p.mu.Lock()
	if p.out[t.b] {
		p.mu.Unlock()
		return // the previous probe is still out
	}
	p.out[t.b] = true
	p.mu.Unlock()
	pctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	report := func(err error) {
		once.Do(func() {
			cancel()
			if ctx.Err() == nil {
				p.record(t, hc, err)
				return
			}
			// The checks were restarted (a reload) or stopped: this result
			// no longer counts, but the backend must be free for the next.
			p.settled(t.b)
		})
	}
	timeout := time.Duration(hc.Timeout)
	timer := p.clock.AfterFunc(timeout, func() {
		report(fmt.Errorf("no answer within %s", timeout))
	}, "balancer", "health-timeout")
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := p.probeOnce(pctx, t, hc)
		timer.Stop()
		report(err)
	}()
}

// probeOnce is one HTTP request (GET or HEAD; a status among the success
// codes is healthy), or one WebSocket upgrade and ping.
func (p *prober) probeOnce(ctx context.Context, t *target, hc config.HealthCheck) error {
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
	resp, err := p.client.Do(req)
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
	p := b.health
	for {
		p.mu.Lock()
		wake, busy := p.wake, false
		for be := range p.out {
			if skip == nil || !skip(be.name) {
				busy = true
			}
		}
		p.mu.Unlock()
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

// settled marks be's probe as over and wakes WaitProbes.
func (p *prober) settled(be *backend) {
	p.free(be)
	p.wakeWaiters()
}

// free lets be take its next probe.
func (p *prober) free(be *backend) {
	p.mu.Lock()
	delete(p.out, be)
	p.mu.Unlock()
}

// wakeWaiters wakes WaitProbes to look again.
func (p *prober) wakeWaiters() {
	p.mu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// record counts a result and flips the backend's health after the
// configured number of consecutive results.
func (p *prober) record(t *target, hc config.HealthCheck, err error) {
	be := t.b
	be.mu.Lock()
	defer be.mu.Unlock()
	// Free before the result is published: whoever sees it may start the
	// next round at once.
	p.free(be)
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
	defer p.wakeWaiters()
	p.publish(events.Event{Kind: events.BackendCheck, Backend: t.name, Reason: result, Detail: detail})
	switch {
	case be.healthy.Load() && be.failRun >= hc.UnhealthyThreshold:
		p.lag(be, time.Duration(p.snap().cfg.ServerGroup.DeregistrationLag), "its health checks failed")
		be.healthy.Store(false)
		p.publish(events.Event{Kind: events.BackendHealth, Backend: t.name, Reason: "unhealthy",
			Detail: fmt.Sprintf("%d checks failed in a row, last: %s", be.failRun, detail)})
		p.groupHealthChanged(hc, t.name+": "+detail)
	case !be.healthy.Load() && be.okRun >= hc.HealthyThreshold:
		be.healthy.Store(true)
		p.publish(events.Event{Kind: events.BackendHealth, Backend: t.name, Reason: "healthy",
			Detail: fmt.Sprintf("%d checks passed in a row", be.okRun)})
		p.groupHealthChanged(hc, "")
	}
}

// groupHealthChanged says so, once, when the last healthy backend of the
// group goes (every new request now gets 503, or is routed to all of them
// with fail_open) and when one comes back. Callers hold the changed
// backend's mu, never Balancer.mu.
func (p *prober) groupHealthChanged(hc config.HealthCheck, last string) {
	snap := p.snap()
	healthy := 0
	for _, t := range snap.targets {
		if t.b.healthy.Load() {
			healthy++
		}
	}
	down := healthy == 0 && len(snap.targets) > 0
	if p.allDown.Swap(down) == down {
		return
	}
	if !down {
		p.publish(events.Event{Kind: events.GroupHealth, Reason: "recovered",
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
	p.publish(events.Event{Kind: events.GroupHealth, Reason: "all_unhealthy", Detail: detail})
}

// shortErr trims Go's error chains to what a person needs.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "dial tcp") {
		return "connect: " + s[i+2:]
	}
	return s
}
