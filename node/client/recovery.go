package client

import (
	"context"
	"encoding/json"
	"strconv"
)

// Connection state recovery and acknowledged messages, as socket.io-client
// does them with connectionStateRecovery and retries.

// PID is the private session id the server gave (with recovery on), ""
// otherwise: with Offset, what a later client presents in Options.Resume.
func (c *Client) PID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pid
}

// Recovered reports whether the server gave back the session of
// Options.Resume.
func (c *Client) Recovered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recovered
}

// Offset is the offset of the last event received (recovery on).
func (c *Client) Offset() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// setSession records the server's private id from its connect answer.
func (c *Client) setSession(pid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pid = pid
	c.recovered = pid != "" && c.opts.Resume != nil && c.opts.Resume.PID == pid
}

func (c *Client) setOffset(off string) {
	c.mu.Lock()
	c.offset = off
	c.mu.Unlock()
}

// EmitID sends event with text and a message id, and asks for an
// acknowledgement: when it comes, Next returns Event{Name: "ack", Text: id}.
// A server that takes each id once lets a client resend what was not
// acknowledged without it being delivered twice.
func (c *Client) EmitID(ctx context.Context, event, text, id string) error {
	var b []byte
	if c.transport == JSON {
		b, _ = json.Marshal(struct {
			Event string `json:"event"`
			Data  string `json:"data"`
			ID    string `json:"id"`
		}{event, text, id})
	} else {
		c.mu.Lock()
		n := c.ackID
		c.ackID++
		if c.msgAcks == nil {
			c.msgAcks = map[int]string{}
		}
		c.msgAcks[n] = id
		c.mu.Unlock()
		a, _ := json.Marshal([3]string{event, text, id})
		b = append([]byte("42"+c.opts.nsp()+strconv.Itoa(n)), a...)
	}
	return c.wire.write(ctx, b)
}

// messageAcked maps a Socket.IO ack id to the message id EmitID sent
// with it, if it was EmitID's.
func (c *Client) messageAcked(n int) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.msgAcks[n]
	delete(c.msgAcks, n)
	return id, ok
}
