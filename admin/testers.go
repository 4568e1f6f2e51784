package admin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wslab/wslab/node/client"
)

// testers are chat clients the dashboard opens through the balancer: each
// sets a name, says something every few seconds and reconnects after its
// connection is lost, as a real page would.
type testers struct {
	// mu guards next and cancels.
	mu      sync.Mutex
	next    int
	cancels []context.CancelFunc
	wg      sync.WaitGroup
}

// open starts n more testers against url.
func (ts *testers) open(url string, n int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for range n {
		ts.next++
		ctx, cancel := context.WithCancel(context.Background())
		ts.cancels = append(ts.cancels, cancel)
		ts.wg.Add(1)
		go ts.run(ctx, url, fmt.Sprintf("tester-%d", ts.next))
	}
}

// run keeps one tester connected and chatting until ctx ends. Its pauses
// are people's wall-clock time: the dashboard is for watching, not replay.
func (ts *testers) run(ctx context.Context, url, name string) {
	defer ts.wg.Done()
	for ctx.Err() == nil {
		c, err := client.Dial(ctx, client.Options{URL: url})
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
	c.Emit(ctx, "set_username", name)
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
			c.Emit(ctx, "message", "hello from "+c.Node())
			for c.Pending() > 0 { // keep the queue short
				c.Next(ctx)
			}
		}
	}
}

func (ts *testers) count() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.cancels)
}

// closeAll stops every tester and waits for them.
func (ts *testers) closeAll() {
	ts.mu.Lock()
	for _, c := range ts.cancels {
		c()
	}
	ts.cancels = nil
	ts.mu.Unlock()
	ts.wg.Wait()
}
