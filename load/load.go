// Package load generates WebSocket load through a balancer (or straight at
// a backend) and measures it: handshakes/s while connections open, echo
// round trips, pipelined throughput, idle connections held, and chat
// fan-out latency across nodes with every message accounted for (sent,
// delivered, lost, duplicated) while users drop and reconnect.
//
// # Concurrency
//
// Run owns every connection and goroutine it starts and returns after all
// have ended.
package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what the connections do once open.
type Mode string

// Modes.
const (
	RTT   Mode = "rtt"   // sequential echo round trips: latency
	Flood Mode = "flood" // a window of un-echoed messages per connection: throughput
	Hold  Mode = "hold"  // open, stay idle, then check each still answers: capacity
	Chat  Mode = "chat"  // Socket.IO users chatting through the balancer: fan-out latency
)

// Transport is how chat users speak Socket.IO, as socket.io-client's
// transports option chooses.
type Transport string

// Transports.
const (
	WebSocket Transport = "websocket" // a WebSocket from the start
	Polling   Transport = "polling"   // HTTP long-polling only: needs sticky sessions behind a balancer
	Default   Transport = "default"   // io(url)'s own: polling, then the upgrade to WebSocket
)

// Config describes a run. URL and Mode are required; zero fields get the
// defaults noted.
type Config struct {
	URL      string        // http(s):// or ws(s):// of the balancer or a backend
	Mode     Mode          //
	Conns    int           // connections; default 50
	Ramp     int           // handshakes in flight while opening; default 32
	Size     int           // message size in bytes; default 256 (rtt, chat), 1024 (flood)
	Messages int           // rtt: round trips per connection; default 400
	Window   int           // flood: messages in flight per connection; default 16
	Duration time.Duration // flood, chat: how long to send; hold: how long to hold; default 10s
	Progress func(Progress)
	// ProgressEvery is how often Progress is called; default 1s.
	ProgressEvery time.Duration

	// Chat only.
	Interval     time.Duration // how often each user speaks; default 1s
	ReconnectMin time.Duration // first reconnect delay, doubled per failed attempt; default 1s
	ReconnectMax time.Duration // longest reconnect delay; default 5s (each ±50 % jitter)
	Settle       time.Duration // after sending, how long to wait for messages in flight; default 5s
	Seed         uint64        // jitter and usernames; 0 picks one (printed in the report)
	// Retry sends every message with an id and asks for an
	// acknowledgement, as socket.io-client does with retries and
	// ackTimeout: a message counts as sent once acknowledged, and what was
	// not acknowledged when a connection ended is sent again after the
	// reconnect (a server that drops duplicate ids delivers it once).
	Retry     bool
	Transport Transport // default WebSocket
}

func (c Config) withDefaults() Config {
	if c.Conns == 0 {
		c.Conns = 50
	}
	if c.Ramp == 0 {
		c.Ramp = 32
	}
	if c.Size == 0 {
		c.Size = 256
		if c.Mode == Flood {
			c.Size = 1024
		}
	}
	if c.Messages == 0 {
		c.Messages = 400
	}
	if c.Window == 0 {
		c.Window = 16
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = time.Second
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = max(5*time.Second, c.ReconnectMin)
	}
	if c.Settle == 0 {
		c.Settle = 5 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	if c.Mode == Chat && c.Transport == "" {
		c.Transport = WebSocket
	}
	if c.Mode != Chat { // chat speaks Socket.IO, which starts over HTTP on polling
		c.URL = strings.Replace(c.URL, "http://", "ws://", 1)
	}
	return c
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var errs []error
	if !strings.HasPrefix(c.URL, "ws://") && !strings.HasPrefix(c.URL, "wss://") && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, fmt.Errorf("url: %q is not an http://, https://, ws:// or wss:// URL", c.URL))
	}
	switch c.Mode {
	case RTT, Flood, Hold, Chat:
	default:
		errs = append(errs, fmt.Errorf("mode: %q is not rtt, flood, hold or chat", c.Mode))
	}
	if c.Conns < 0 || c.Conns > 100000 {
		errs = append(errs, fmt.Errorf("conns: %d is out of range 1-100000", c.Conns))
	}
	if c.Size < 0 || c.Size > 1<<20 {
		errs = append(errs, fmt.Errorf("size: %d is out of range 1-1048576", c.Size))
	}
	if c.Window < 0 || c.Ramp < 0 || c.Messages < 0 || c.Duration < 0 {
		errs = append(errs, errors.New("window, ramp, messages and duration must not be negative"))
	}
	if c.Interval < 0 || c.ReconnectMin < 0 || c.ReconnectMax < 0 || c.Settle < 0 || c.ProgressEvery < 0 {
		errs = append(errs, errors.New("interval, reconnect-min, reconnect-max, settle and progress-every must not be negative"))
	}
	switch {
	case c.Transport == "" || c.Mode == Chat && (c.Transport == WebSocket || c.Transport == Polling || c.Transport == Default):
	case c.Mode != Chat:
		errs = append(errs, fmt.Errorf("transport: only chat mode speaks Socket.IO; %s mode sends raw WebSocket frames", c.Mode))
	default:
		errs = append(errs, fmt.Errorf("transport: %q is not websocket, polling or default", c.Transport))
	}
	if c.ReconnectMax != 0 && c.ReconnectMax < c.ReconnectMin {
		errs = append(errs, fmt.Errorf("reconnect-max: %s is shorter than reconnect-min %s", c.ReconnectMax, c.ReconnectMin))
	}
	return errors.Join(errs...)
}

// Progress is reported every second while a run goes on.
type Progress struct {
	Elapsed    time.Duration
	Open       int64 // connections open now (chat: users in the room)
	Messages   int64 // messages received so far
	Failures   int64 // chat: failed connection attempts, each retried
	Drops      int64 // chat: connections that ended while in the room
	Reconnects int64 // chat: drops whose user is back in the room
}

// Report is the outcome of a run. Its JSON leaves out the figures the
// mode does not measure (see MarshalJSON): no latency in flood and hold,
// no rates in hold, no bytes in chat.
type Report struct {
	Mode             Mode           `json:"mode"`
	URL              string         `json:"url"`
	Conns            int            `json:"conns"`
	Handshakes       int64          `json:"handshakes"`
	HandshakesPerSec float64        `json:"handshakes_per_sec"`
	Messages         int64          `json:"messages"`
	MsgsPerSec       float64        `json:"msgs_per_sec"`
	MBPerSec         float64        `json:"mb_per_sec"`
	Failures         int64          `json:"failures"`
	FirstFailure     string         `json:"first_failure,omitempty"`
	P50              time.Duration  `json:"p50_ns"`
	P90              time.Duration  `json:"p90_ns"`
	P99              time.Duration  `json:"p99_ns"`
	Max              time.Duration  `json:"max_ns"`
	Histogram        []Bucket       `json:"histogram,omitempty"` // latency: rtt and chat
	PerBackend       map[string]int `json:"per_backend,omitempty"`
	ClientCPU        time.Duration  `json:"client_cpu_ns"`
	Wall             time.Duration  `json:"wall_ns"`
	Retry            bool           `json:"retry,omitempty"`     // chat: messages were acknowledged and retried
	Seed             uint64         `json:"seed,omitempty"`      // chat: of the jitter and the usernames
	Transport        Transport      `json:"transport,omitempty"` // chat: how the users speak Socket.IO
	Chat             *Delivery      `json:"chat,omitempty"`      // chat: sent, delivered, lost, reconnects
	// Thresholds are the limits the run was checked against (see Check).
	Thresholds []Result `json:"thresholds,omitempty"`
}

// stats are shared by a run's connections.
type stats struct {
	open, messages, failures atomic.Int64
	drops, reconnects        atomic.Int64 // chat
	// mu guards the fields below.
	mu        sync.Mutex
	first     string
	latencies []time.Duration
	backends  map[string]int
}

func (s *stats) fail(err error) {
	s.failures.Add(1)
	s.mu.Lock()
	if s.first == "" {
		s.first = err.Error()
	}
	s.mu.Unlock()
}

func (s *stats) addLatencies(l []time.Duration) {
	s.mu.Lock()
	s.latencies = append(s.latencies, l...)
	s.mu.Unlock()
}

// Run opens the connections with a bounded ramp, runs the mode, and reports.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	cfg = cfg.withDefaults()
	RaiseFileLimit()
	st := &stats{backends: map[string]int{}}
	cpu0 := cpuTime()
	start := time.Now()
	stopProgress := progress(cfg, st, start)
	defer stopProgress()
	var rep Report
	var err error
	if cfg.Mode == Chat {
		rep, err = runChat(ctx, cfg, st)
	} else {
		rep, err = runEcho(ctx, cfg, st)
	}
	rep.Mode, rep.URL, rep.Conns = cfg.Mode, cfg.URL, cfg.Conns
	if cfg.Mode == Chat {
		rep.Seed, rep.Retry, rep.Transport = cfg.Seed, cfg.Retry, cfg.Transport
	}
	rep.Failures = st.failures.Load()
	rep.FirstFailure = st.first
	rep.Messages = st.messages.Load()
	rep.PerBackend = st.backends
	percentiles(&rep, st.latencies)
	rep.ClientCPU = cpuTime() - cpu0
	rep.Wall = time.Since(start)
	return rep, err
}

func progress(cfg Config, st *stats, start time.Time) func() {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				cfg.Progress(Progress{Elapsed: time.Since(start), Open: st.open.Load(), Messages: st.messages.Load(),
					Failures: st.failures.Load(), Drops: st.drops.Load(), Reconnects: st.reconnects.Load()})
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
