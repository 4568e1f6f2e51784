package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultStream is the Redis Stream that carries the chat when connection
// state recovery is on: the fan-out between nodes and the log a returning
// client's missed messages are read back from.
// With another Channel, the stream is that channel's name + ":stream".
const DefaultStream = DefaultChannel + ":stream"

// Entry is one chat line in the stream, with the stream id Redis gave it.
// Entries without text are markers (a node made sure the stream exists)
// that readers skip.
type Entry struct {
	ID string
	Message
}

// StreamID is a parsed Redis Stream id, "<ms>-<seq>".
type StreamID struct{ MS, Seq uint64 }

// ParseStreamID parses "<ms>-<seq>"; it refuses anything else.
func ParseStreamID(s string) (StreamID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return StreamID{}, fmt.Errorf("stream id %q is not <ms>-<seq>", s)
	}
	return StreamID{a, b}, nil
}

// Less orders stream ids as Redis does.
func (a StreamID) Less(b StreamID) bool {
	return a.MS < b.MS || a.MS == b.MS && a.Seq < b.Seq
}

func (a StreamID) String() string {
	return strconv.FormatUint(a.MS, 10) + "-" + strconv.FormatUint(a.Seq, 10)
}

// Append adds m to the stream and trims the stream to about maxLen entries
// (XADD MAXLEN ~: Redis trims whole nodes, so a few more may stay). It
// returns the entry's id.
func (c *Client) Append(ctx context.Context, m Message, maxLen int64) (string, error) {
	id, err := c.redis().XAdd(ctx, &redis.XAddArgs{
		Stream: c.stream, MaxLen: maxLen, Approx: true,
		Values: []string{"from", m.From, "text", m.Text},
	}).Result()
	if err != nil {
		return "", fmt.Errorf("append to stream %q: %w", c.stream, err)
	}
	return id, nil
}

// AppendOnce appends m unless key was claimed within ttl: a client's retry
// of a message the chat already took. It reports whether m was a
// duplicate.
//
// The claim and the append are one script, so Redis runs both or neither:
// a node that claimed first and appended second could die (or lose Redis)
// in between and leave a claim with nothing behind it, and the client's
// retry on another node would be refused as a duplicate of a message no
// one ever saw.
func (c *Client) AppendOnce(ctx context.Context, m Message, maxLen int64, key string, ttl time.Duration) (dup bool, err error) {
	err = appendOnce.Run(ctx, c.redis(), []string{key, c.stream}, ttl.Milliseconds(), maxLen, m.From, m.Text).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("append message id %q to stream %q: %w", key, c.stream, err)
	}
	return false, nil
}

// appendOnce claims KEYS[1] for ARGV[1] ms and, if the claim is new,
// appends the message to the stream KEYS[2] as Append does; it answers
// the entry's id, or nil for a key already claimed.
var appendOnce = redis.NewScript(`
if not redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then
	return false
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'from', ARGV[3], 'text', ARGV[4])
`)

// StreamTip returns the id of the stream's newest entry. An empty (or
// missing) stream gets a marker entry first, so that every position a node
// hands out names an entry that exists until trimming removes it.
func (c *Client) StreamTip(ctx context.Context, maxLen int64) (string, error) {
	last, err := c.redis().XRevRangeN(ctx, c.stream, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("read the tip of stream %q: %w", c.stream, err)
	}
	if len(last) == 1 {
		return last[0].ID, nil
	}
	return c.Append(ctx, Message{}, maxLen)
}

// StreamHas reports whether the entry id is still in the stream (not
// trimmed away, not from before Redis lost its data).
func (c *Client) StreamHas(ctx context.Context, id string) (bool, error) {
	got, err := c.redis().XRange(ctx, c.stream, id, id).Result()
	if err != nil {
		return false, fmt.Errorf("look up %s in stream %q: %w", id, c.stream, err)
	}
	return len(got) == 1, nil
}

// After returns up to count entries that follow id, oldest first.
func (c *Client) After(ctx context.Context, id string, count int64) ([]Entry, error) {
	got, err := c.redis().XRangeN(ctx, c.stream, "("+id, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("read stream %q after %s: %w", c.stream, id, err)
	}
	return entries(got), nil
}

func entries(ms []redis.XMessage) []Entry {
	out := make([]Entry, 0, len(ms))
	for _, m := range ms {
		e := Entry{ID: m.ID}
		e.From, _ = m.Values["from"].(string)
		e.Text, _ = m.Values["text"].(string)
		out = append(out, e)
	}
	return out
}

// StreamHandler receives what a StreamReader reads; its methods run on
// the reader's goroutine.
type StreamHandler interface {
	// Entry is called for every entry after the start position, in order,
	// markers included.
	Entry(Entry)
	// State is called with the error when the reader loses Redis, and with
	// nil once it reads again.
	State(err error)
}

// StreamReader follows the stream from a position until closed, resuming
// from the last entry it delivered after Redis comes back: unlike pub/sub,
// nothing appended meanwhile is missed (unless trimmed away).
type StreamReader struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// streamBlock is how long one XREAD waits for new entries. It bounds how
// long Close waits and how soon a reader notices a Redis that went quiet.
const streamBlock = 200 * time.Millisecond

// streamGather is how long a reader that read more than one entry at once
// (lines arrive faster than it reads them one by one) lets the next ones
// gather before it reads again: a busy chat is read in batches, a quiet
// one line by line at once (the blocked XREAD answers on the append). The
// embedded Redis (miniredis) re-runs a blocked XREAD after every command
// of every client, scanning the stream from its start each time; at
// hundreds of lines a second that scan was the cost (chat p50 66 ms, p90
// 2 s at 500 msg/s). Batching bounds it to one scan per gather; a real
// Redis rarely returns more than one line and keeps reading at once.
const streamGather = 5 * time.Millisecond

// streamCount is the most entries one XREAD returns.
const streamCount = 512

// Follow reads the stream after id on a connection pool of its own.
func (c *Client) Follow(id string, h StreamHandler) *StreamReader {
	ctx, cancel := context.WithCancel(context.Background())
	r := &StreamReader{cancel: cancel, done: make(chan struct{})}
	go r.run(ctx, c, id, h)
	return r
}

func (r *StreamReader) run(ctx context.Context, c *Client, pos string, h StreamHandler) {
	defer close(r.done)
	opts := *c.opts
	opts.PoolSize = 1
	rdb := redis.NewClient(&opts)
	var mu sync.Mutex // guards rdb against the close below
	defer func() { mu.Lock(); rdb.Close(); mu.Unlock() }()
	down := false
	retry := minRetry
	for ctx.Err() == nil {
		mu.Lock()
		cl := rdb
		mu.Unlock()
		res, err := cl.XRead(ctx, &redis.XReadArgs{Streams: []string{c.stream, pos}, Count: streamCount, Block: streamBlock}).Result()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			if !down {
				down = true
				h.State(err)
			}
			// A fresh pool per attempt: go-redis stops dialing for a while
			// after failed dials, and the reader must come back with Redis.
			mu.Lock()
			rdb.Close()
			rdb = redis.NewClient(&opts)
			mu.Unlock()
			if !sleepCtx(ctx, retry) {
				return
			}
			retry = min(retry*2, maxRetry)
			continue
		}
		retry = minRetry
		if down {
			if c.Revive(ctx) != nil {
				continue
			}
			down = false
			h.State(nil)
		}
		n := 0
		for _, s := range res {
			for _, e := range entries(s.Messages) {
				h.Entry(e)
				pos = e.ID
				n++
			}
		}
		if n > 1 && n < streamCount && !sleepCtx(ctx, streamGather) {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Close stops the reader and waits for its goroutine to exit.
func (r *StreamReader) Close() error {
	r.cancel()
	<-r.done
	return nil
}
