// Package app is a small WebSocket service written as a Go user would
// write one, and made ready for wslab: every timer comes from an injected
// quartz.Clock, so a test can run it on the lab's mock clock, and it says
// goodbye with 1001 Going Away when told the server is stopping.
//
// Its protocol is one JSON object per message, both ways:
// {"event":"message","data":"hi"}. On connect it sends a "node" event
// (its name) and a welcome message; it answers "ping" with "pong" and
// echoes "message". A client that sends nothing for IdleLimit is closed
// with 4000.
//
// # Concurrency
//
// Each connection is served by its ServeHTTP call, which owns one more
// goroutine (the goodbye on Stopping) and waits for it before returning;
// the idle timer's callback runs on the clock's goroutine.
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"
)

// StatusIdle is the close code of a client that stayed silent too long.
const StatusIdle websocket.StatusCode = 4000

// Config configures New. The zero value is valid.
type Config struct {
	Name      string          // sent as the "node" event; default "app"
	Clock     quartz.Clock    // every timer; nil: real time
	IdleLimit time.Duration   // default 2m
	Stopping  <-chan struct{} // closed when the server shuts down; nil: never
}

type server struct {
	name     string
	clock    quartz.Clock
	idle     time.Duration
	stopping <-chan struct{}
}

// New returns the service's handler: /ws and /healthz.
func New(cfg Config) http.Handler {
	s := &server{name: cfg.Name, clock: cfg.Clock, idle: cfg.IdleLimit, stopping: cfg.Stopping}
	if s.name == "" {
		s.name = "app"
	}
	if s.clock == nil {
		s.clock = quartz.NewReal()
	}
	if s.idle == 0 {
		s.idle = 2 * time.Minute
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /ws", s.serveWS)
	return mux
}

type frame struct {
	Event string `json:"event"`
	Data  string `json:"data,omitempty"`
}

func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered the request
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	send := func(event, data string) error {
		b, _ := json.Marshal(frame{event, data})
		return c.Write(ctx, websocket.MessageText, b)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-s.stopping:
			c.Close(websocket.StatusGoingAway, "server shutting down")
		case <-ctx.Done():
		}
	}()
	// The idle limit runs on the injected clock: on a mock, it fires when
	// the test moves time, at the same virtual instant every run.
	idle := s.clock.AfterFunc(s.idle, func() {
		c.Close(StatusIdle, fmt.Sprintf("silent for %s", s.idle))
	}, "app", "idle")
	defer idle.Stop()
	if send("node", s.name) != nil || send("message", "welcome") != nil {
		return
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		idle.Reset(s.idle, "app", "idle")
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			err = send("error", `want JSON like {"event":"ping"}`)
		} else {
			switch f.Event {
			case "ping":
				err = send("pong", "")
			case "message":
				err = send("message", f.Data)
			default:
				err = send("error", fmt.Sprintf("unknown event %q: want ping or message", f.Event))
			}
		}
		if err != nil {
			return
		}
	}
}
