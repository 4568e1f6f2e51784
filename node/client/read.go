package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/coder/websocket"
)

func (c *Client) readLoop() {
	defer close(c.done)
	if c.transport == Plain {
		c.readFrames()
		return
	}
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
	switch s {
	case "2":
		if !c.opts.NoPong {
			c.wire.write(context.Background(), []byte("3"))
		}
		return Event{}, false
	case "3":
		c.pong()
		return Event{}, false
	}
	pk, ok := parsePacket(s)
	if !ok {
		if strings.HasPrefix(s, "4") {
			return Event{Name: "invalid", Text: s}, true
		}
		return Event{}, false
	}
	if pk.nsp != c.opts.nsp() {
		return Event{}, false // another namespace's
	}
	switch pk.typ {
	case '2':
		var args []json.RawMessage
		if json.Unmarshal([]byte(pk.data), &args) != nil || len(args) == 0 {
			return Event{Name: "invalid", Text: s}, true
		}
		rest, _ := json.Marshal(args[1:])
		ev := Event{Args: string(rest)}
		if json.Unmarshal(args[0], &ev.Name) != nil {
			return Event{Name: "invalid", Text: s}, true
		}
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
	case '3':
		if id, ok := c.messageAcked(pk.id); ok {
			return Event{Name: "ack", Text: id}, true
		}
		var args []json.RawMessage
		if json.Unmarshal([]byte(pk.data), &args) == nil && pk.id >= 0 {
			c.acked(pk.id, args)
		}
		return Event{}, false
	case '4':
		return Event{Name: "connect_error", Text: pk.data}, true
	case '1':
		return Event{Name: "disconnect"}, true
	case '5', '6':
		return Event{Name: "invalid", Text: "binary Socket.IO packets are not supported: " + s}, true
	}
	return Event{}, false
}

// packet is one Socket.IO packet: 4<type>[<attachments>-][<nsp>,][<id>]<data>.
type packet struct {
	typ  byte   // '0' connect ... '6' binary ack
	nsp  string // "" for the main namespace, else "/name,"
	id   int    // the ack id; -1 without one
	data string // the JSON payload
}

// parsePacket splits an Engine.IO message packet holding Socket.IO.
func parsePacket(s string) (packet, bool) {
	if len(s) < 2 || s[0] != '4' || s[1] < '0' || s[1] > '6' {
		return packet{}, false
	}
	pk := packet{typ: s[1], id: -1}
	rest := s[2:]
	if pk.typ == '5' || pk.typ == '6' {
		i := strings.IndexByte(rest, '-')
		if i < 0 {
			return packet{}, false
		}
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "/") {
		i := strings.IndexByte(rest, ',')
		if i < 0 { // "40/chat": the namespace alone
			pk.nsp, rest = rest+",", ""
		} else {
			pk.nsp, rest = rest[:i+1], rest[i+1:]
		}
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i > 0 {
		pk.id, _ = strconv.Atoi(rest[:i])
	}
	pk.data = rest[i:]
	return pk, true
}

// readFrames is a plain WebSocket's reader: every frame is an event.
func (c *Client) readFrames() {
	for {
		typ, p, err := c.conn.Read(context.Background())
		if err != nil {
			c.stop(err)
			return
		}
		if typ == websocket.MessageBinary {
			c.push(Event{Name: "binary", Text: string(p)})
		} else {
			c.push(Event{Name: "text", Text: string(p)})
		}
	}
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
	for id, ch := range c.acks {
		close(ch)
		delete(c.acks, id)
	}
}

// acked hands an ack's arguments to the EmitAck that waits for them.
func (c *Client) acked(id int, args []json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.acks[id]; ok {
		ch <- args
		delete(c.acks, id)
	}
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
	if c.transport == JSON {
		b, _ := json.Marshal(struct {
			Event string `json:"event"`
			Data  string `json:"data"`
		}{event, text})
		return c.wire.write(ctx, b)
	}
	a, _ := json.Marshal(text)
	return c.EmitArgs(ctx, event, a)
}

// EmitArgs sends a Socket.IO event with any arguments, each JSON.
func (c *Client) EmitArgs(ctx context.Context, event string, args ...json.RawMessage) error {
	b, err := c.eventPacket(-1, event, args)
	if err != nil {
		return err
	}
	return c.wire.write(ctx, b)
}

// EmitAck sends a Socket.IO event asking for an acknowledgement and waits
// for it: it returns the arguments the server acknowledged with.
func (c *Client) EmitAck(ctx context.Context, event string, args ...json.RawMessage) ([]json.RawMessage, error) {
	ch := make(chan []json.RawMessage, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, fmt.Errorf("connection closed: %w", err)
	}
	id := c.ackID
	c.ackID++
	c.acks[id] = ch
	c.mu.Unlock()
	b, err := c.eventPacket(id, event, args)
	if err == nil {
		err = c.wire.write(ctx, b)
	}
	if err != nil {
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return nil, err
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("connection closed before the ack: %w", c.Err())
		}
		return a, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// eventPacket is a Socket.IO EVENT packet; id < 0 asks for no ack.
func (c *Client) eventPacket(id int, event string, args []json.RawMessage) ([]byte, error) {
	if !c.socketIO() {
		return nil, fmt.Errorf("client: a %s client has no Socket.IO events", c.transport)
	}
	name, _ := json.Marshal(event)
	all := append([]json.RawMessage{name}, args...)
	a, err := json.Marshal(all)
	if err != nil {
		return nil, fmt.Errorf("client: event %q: %w", event, err)
	}
	b := append([]byte("42"), c.opts.nsp()...)
	if id >= 0 {
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return append(b, a...), nil
}

// Send sends one frame on a plain WebSocket: text, or binary.
func (c *Client) Send(ctx context.Context, binary bool, p []byte) error {
	if c.transport != Plain {
		return fmt.Errorf("client: a %s client sends no raw frames", c.transport)
	}
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	return c.conn.Write(ctx, typ, p)
}

func (c *Client) pong() {
	select {
	case c.pongs <- struct{}{}:
	default:
	}
}

// Ping sends a client heartbeat (Engine.IO ping "2", {"event":"ping"} on
// /ws, a ping frame on a plain WebSocket) and returns once the server's pong is back: by then every hop in
// between has seen traffic both ways.
func (c *Client) Ping(ctx context.Context) error {
	if c.transport == Plain {
		return c.conn.Ping(ctx)
	}
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
	if c.socketIO() {
		c.wire.write(context.Background(), []byte("41"+c.opts.nsp()))
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
