package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		p, err := c.wire.read(context.Background())
		if err != nil {
			c.stop(err)
			return
		}
		ev, ok := c.decode(string(p))
		if ok {
			c.push(ev)
		}
	}
}

// decode turns one frame into an event, answering pings on the way.
func (c *Client) decode(s string) (Event, bool) {
	if c.transport == JSON {
		var f struct {
			Event  string          `json:"event"`
			Data   json.RawMessage `json:"data"`
			Offset string          `json:"offset"`
		}
		if json.Unmarshal([]byte(s), &f) != nil {
			return Event{Name: "invalid", Text: s}, true
		}
		if f.Event == "session" { // recovery on: {"sid","token","recovered"}
			var sess struct{ SID, Token string }
			json.Unmarshal(f.Data, &sess)
			c.SID = sess.SID
			c.setSession(sess.Token)
			return Event{Name: "session", Text: sess.SID}, true
		}
		if f.Offset != "" {
			c.setOffset(f.Offset)
		}
		var text string
		if json.Unmarshal(f.Data, &text) != nil && len(f.Data) > 0 {
			text = string(f.Data)
		}
		if f.Event == "pong" {
			c.pong()
			return Event{}, false
		}
		return Event{Name: f.Event, Text: text}, true
	}
	switch {
	case s == "2":
		if !c.opts.NoPong {
			c.wire.write(context.Background(), []byte("3"))
		}
		return Event{}, false
	case strings.HasPrefix(s, "42"):
		var args []json.RawMessage
		if json.Unmarshal([]byte(s[2:]), &args) != nil || len(args) == 0 {
			return Event{Name: "invalid", Text: s}, true
		}
		var ev Event
		json.Unmarshal(args[0], &ev.Name)
		if len(args) > 1 {
			json.Unmarshal(args[1], &ev.Text)
		}
		if len(args) > 2 && c.PID() != "" { // recovery on: the offset comes last
			var off string
			if json.Unmarshal(args[len(args)-1], &off) == nil {
				c.setOffset(off)
			}
		}
		return ev, true
	case strings.HasPrefix(s, "43"):
		if id, ok := c.ackOf(s); ok {
			return Event{Name: "ack", Text: id}, true
		}
		return Event{}, false
	case s == "3":
		c.pong()
		return Event{}, false
	case strings.HasPrefix(s, "44"):
		return Event{Name: "connect_error", Text: s[2:]}, true
	}
	return Event{}, false
}

func (c *Client) push(ev Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = append(c.queue, ev)
	close(c.notify)
	c.notify = make(chan struct{})
}

func (c *Client) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	close(c.notify)
	c.notify = make(chan struct{})
}

// Next returns the next event, waiting for it until ctx ends or the
// connection closes.
func (c *Client) Next(ctx context.Context) (Event, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			ev := c.queue[0]
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return ev, nil
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return Event{}, fmt.Errorf("connection closed: %w", err)
		}
		wait := c.notify
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// NextMessage returns the text of the next "message" event, skipping others.
func (c *Client) NextMessage(ctx context.Context) (string, error) {
	for {
		ev, err := c.Next(ctx)
		if err != nil {
			return "", err
		}
		if ev.Name == "message" {
			return ev.Text, nil
		}
	}
}

// Pending is the number of received events not yet taken by Next.
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// Emit sends an event with one text argument.
func (c *Client) Emit(ctx context.Context, event, text string) error {
	var b []byte
	if c.transport == JSON {
		b, _ = json.Marshal(struct {
			Event string `json:"event"`
			Data  string `json:"data"`
		}{event, text})
	} else {
		a, _ := json.Marshal([2]string{event, text})
		b = append([]byte("42"), a...)
	}
	return c.wire.write(ctx, b)
}

func (c *Client) pong() {
	select {
	case c.pongs <- struct{}{}:
	default:
	}
}

// Ping sends a client heartbeat (Engine.IO ping "2", or {"event":"ping"} on
// /ws) and returns once the server's pong is back: by then every hop in
// between has seen traffic both ways.
func (c *Client) Ping(ctx context.Context) error {
	msg := []byte("2")
	if c.transport == JSON {
		msg = []byte(`{"event":"ping"}`)
	}
	if err := c.wire.write(ctx, msg); err != nil {
		return err
	}
	select {
	case <-c.pongs:
		return nil
	case <-c.done:
		return fmt.Errorf("connection closed: %w", c.Err())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while open). websocket.CloseStatus
// gives the close code, -1 if the server sent no close frame.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close leaves politely: Socket.IO disconnect (41) and a 1000 close frame.
func (c *Client) Close() error {
	if c.transport != JSON {
		c.wire.write(context.Background(), []byte("41"))
	}
	err := c.wire.close()
	<-c.done
	return err
}

// CloseNow drops the connection with no goodbye, as a crashed client would.
func (c *Client) CloseNow() error {
	err := c.wire.closeNow()
	<-c.done
	return err
}
