// Package store is the lab's Redis access: an embedded miniredis by default or
// any external Redis by URL, holding chat sessions (hash session:<sid>) and
// the cross-node message bus (pub/sub).
//
// # Concurrency
//
// A Client is safe for concurrent use. A Subscription owns one goroutine that
// reads from Redis and calls the handler; Close cancels and waits for it.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionPrefix is the key prefix of session hashes, as in the tutorial's app.
const SessionPrefix = "session:"

// DefaultChannel is the pub/sub channel the chat bus uses.
const DefaultChannel = "lab:chat"

// Options configure a Client. Only URL is required.
type Options struct {
	URL     string // redis://[user:pass@]host:port[/db]
	Channel string // pub/sub channel of the chat bus; "" means DefaultChannel
}

// Client talks to one Redis for sessions and the chat bus.
type Client struct {
	opts    *redis.Options
	addr    string
	channel string
	stream  string // the chat's Redis Stream (recovery): the channel's name + ":stream"
	// rdb is the command client. It is replaced by a fresh one when Redis
	// comes back and the old one still cannot dial: go-redis stops dialing
	// after PoolSize failed dials and then probes only once a second, which
	// would keep a lab's chat failing for up to a second after Redis is back.
	rdb atomic.Pointer[redis.Client]
}

// ErrUnreachable is wrapped by Dial when Redis does not answer.
var ErrUnreachable = errors.New("store: redis unreachable")

// Dial connects to the Redis at opts.URL and checks that it answers.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	ro, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: ro, addr: ro.Addr, channel: opts.Channel}
	c.rdb.Store(redis.NewClient(ro))
	if c.channel == "" {
		c.channel = DefaultChannel
	}
	c.stream = c.channel + ":stream"
	if err := c.redis().Ping(ctx).Err(); err != nil {
		c.redis().Close()
		return nil, fmt.Errorf("%w at %s: %v (is redis-server running there? omit --redis to use the embedded one)", ErrUnreachable, ro.Addr, err)
	}
	return c, nil
}

// parseURL accepts redis:// URLs and configures the client so that it works
// against miniredis and a real Redis alike: RESP2, and no CLIENT SETINFO.
func parseURL(raw string) (*redis.Options, error) {
	if raw == "" {
		return nil, errors.New("store: no redis URL given (want redis://host:port/db)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" || u.Host == "" {
		return nil, fmt.Errorf("store: bad redis URL %q (want redis://host:port/db)", raw)
	}
	ro, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("store: bad redis URL %q: %w", raw, err)
	}
	ro.Protocol = 2
	ro.DisableIdentity = true
	// A lab wants an outage to show at once, not after seconds of retries:
	// one command retry, one dial attempt (go-redis would try five, 100 ms
	// apart, before a user is told).
	ro.MaxRetries = 1
	ro.DialerRetries = 1
	ro.DialTimeout = 2 * time.Second
	return ro, nil
}

// Addr is the host:port of the Redis this client talks to.
func (c *Client) Addr() string { return c.addr }

// Stream is the chat's Redis Stream, used when recovery is on.
func (c *Client) Stream() string { return c.stream }

// Channel is the pub/sub channel of the chat bus.
func (c *Client) Channel() string { return c.channel }

// Redis exposes the underlying go-redis client, for inspection in tests and
// tools.
func (c *Client) Redis() *redis.Client { return c.redis() }

func (c *Client) redis() *redis.Client { return c.rdb.Load() }

// Revive makes sure the command client can reach Redis, replacing it with a
// fresh one if it cannot but Redis answers a fresh connection. A caller
// whose command failed revives and tries once more: the command pool may
// have stopped dialing while Redis was away and would fail for up to a
// second after it is back. Returns an error while Redis is unreachable.
func (c *Client) Revive(ctx context.Context) error {
	old := c.redis()
	if old.Ping(ctx).Err() == nil {
		return nil
	}
	fresh := redis.NewClient(c.opts)
	if err := fresh.Ping(ctx).Err(); err != nil {
		fresh.Close()
		return fmt.Errorf("reconnect to %s: %w", c.addr, err)
	}
	if !c.rdb.CompareAndSwap(old, fresh) {
		fresh.Close() // closed or revived meanwhile
		return nil
	}
	old.Close() // its commands were failing anyway
	return nil
}

// Close closes the client's connections.
func (c *Client) Close() error { return c.redis().Close() }
