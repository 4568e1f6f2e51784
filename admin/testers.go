package admin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wslab/wslab/node/client"
)

// testers are chat clients the dashboard opens through the balancer: each
// sets a name, says something every few seconds and reconnects after its
// connection is lost, as a real page would.
//
// Each runs in a goroutine of its own; stop and closeAll cancel it and
// wait until it has closed its connection and returned.
type testers struct {
	// mu guards next and running.
	mu      sync.Mutex
	next    int
	running []*tester // oldest first
	wg      sync.WaitGroup
}

type tester struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// open starts n more testers against url.
func (ts *testers) open(url string, n int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for range n {
		ts.next++
		ctx, cancel := context.WithCancel(context.Background())
		t := &tester{cancel: cancel, done: make(chan struct{})}
		ts.running = append(ts.running, t)
		name := fmt.Sprintf("tester-%d", ts.next)
		ts.wg.Add(1)
		go func() {
			defer ts.wg.Done()
			defer close(t.done)
			ts.run(ctx, url, name)
		}()
	}
}

// run keeps one tester connected and chatting until ctx ends. Its pauses
// are people's wall-clock time: the dashboard is for watching, not replay.
// Stopping never cuts a handshake or a write short (a cancelled write
// closes the connection with no goodbye): a stopped tester always leaves
// as a closed tab does, with a close frame.
func (ts *testers) run(ctx context.Context, url, name string) {
	for ctx.Err() == nil {
		dialCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		c, err := client.Dial(dialCtx, client.Options{URL: url})
		cancel()
		if err == nil {
			ts.chat(ctx, c, name)
			c.CloseNow()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (ts *testers) chat(ctx context.Context, c *client.Client, name string) {
	emit := func(event, text string) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		c.Emit(wctx, event, text)
	}
	if ctx.Err() == nil {
		emit("set_username", name)
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Close()
			return
		case <-c.Done():
			return
		case <-tick.C:
			emit("message", "hello from "+c.Node())
			for c.Pending() > 0 { // keep the queue short
				c.Next(ctx)
			}
		}
	}
}

func (ts *testers) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.running)
}

// stop stops the n newest testers (all if n is 0 or more than run) and
// waits until each has said goodbye; it returns how many it stopped.
func (ts *testers) stop(n int) int {
	ts.mu.Lock()
	if n <= 0 || n > len(ts.running) {
		n = len(ts.running)
	}
	stopping := ts.running[len(ts.running)-n:]
	ts.running = ts.running[: len(ts.running)-n : len(ts.running)-n]
	ts.mu.Unlock()
	for _, t := range stopping {
		t.cancel()
	}
	for _, t := range stopping {
		<-t.done
	}
	return n
}

// closeAll stops every tester and waits for them.
func (ts *testers) closeAll() {
	ts.stop(0)
	ts.wg.Wait()
}

// openTesters opens ?count=N (1-100) chatting test clients through the
// balancer.
func (s *Server) openTesters(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Balancer == nil {
		writeError(w, http.StatusNotFound, "this lab runs no balancer to connect through")
		return
	}
	n, err := strconv.Atoi(r.URL.Query().Get("count"))
	if err != nil || n < 1 || n > 100 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("count %q: want a number from 1 to 100", r.URL.Query().Get("count")))
		return
	}
	s.testers.open(s.cfg.Balancer.URL(), n)
	writeJSON(w, http.StatusOK, map[string]int{"testers": s.testers.count()})
}

// stopTesters stops the test clients, or the ?count=N newest, each with a
// close frame as a closed tab sends, and answers once they are gone.
func (s *Server) stopTesters(w http.ResponseWriter, r *http.Request) {
	n := 0
	if c := r.URL.Query().Get("count"); c != "" {
		var err error
		if n, err = strconv.Atoi(c); err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("count %q: want a positive number, or no count to stop them all", c))
			return
		}
	}
	stopped := s.testers.stop(n)
	writeJSON(w, http.StatusOK, map[string]int{"stopped": stopped, "testers": s.testers.count()})
}
