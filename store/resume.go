package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ResumePrefix is the key prefix of the records that let a client resume
// its session on any node (connection state recovery): resume:<pid>, a
// hash keyed by the session's private id, which only that client knows.
const ResumePrefix = "resume:"

// Resumable is what a node needs to give a returning client its session
// back.
type Resumable struct {
	PID      string // private session id: the record's key, the client's secret
	SID      string // the public session id the client keeps
	Username string
	Tag      string // part of every offset of this session: offsets from another session do not match
	// Seen is when the client was last known connected, in Unix
	// milliseconds of the nodes' clock: refreshed while it is connected,
	// set at its disconnection. Past Seen plus the window, it is a new
	// session.
	Seen int64
}

func resumeKey(pid string) string { return ResumePrefix + pid }

// SaveResumable writes r; Redis deletes it after ttl unless refreshed.
func (c *Client) SaveResumable(ctx context.Context, r Resumable, ttl time.Duration) error {
	_, err := c.redis().TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, resumeKey(r.PID), "sid", r.SID, "username", r.Username, "tag", r.Tag, "seen", r.Seen)
		p.PExpire(ctx, resumeKey(r.PID), ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("save resumable session %q: %w", r.SID, err)
	}
	return nil
}

// SetResumableName records a session's new username in its record, if the
// record exists.
func (c *Client) SetResumableName(ctx context.Context, pid, name string) error {
	const script = `if redis.call("EXISTS", KEYS[1]) == 1 then redis.call("HSET", KEYS[1], "username", ARGV[1]) end return 0`
	if err := c.redis().Eval(ctx, script, []string{resumeKey(pid)}, name).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("record the username of a resumable session: %w", err)
	}
	return nil
}

// TouchResumable marks the sessions of pids as seen at seen (Unix ms) and
// pushes their expiry to ttl, in one round trip.
func (c *Client) TouchResumable(ctx context.Context, pids []string, seen int64, ttl time.Duration) error {
	if len(pids) == 0 {
		return nil
	}
	const script = `if redis.call("EXISTS", KEYS[1]) == 1 then redis.call("HSET", KEYS[1], "seen", ARGV[1]) redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`
	_, err := c.redis().Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, pid := range pids {
			p.Eval(ctx, script, []string{resumeKey(pid)}, seen, ttl.Milliseconds())
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("refresh %d resumable sessions: %w", len(pids), err)
	}
	return nil
}

// LoadResumable reads the record of pid; false if there is none (never
// was, expired, or ended by its client).
func (c *Client) LoadResumable(ctx context.Context, pid string) (Resumable, bool, error) {
	m, err := c.redis().HGetAll(ctx, resumeKey(pid)).Result()
	if err != nil {
		return Resumable{}, false, fmt.Errorf("read resumable session: %w", err)
	}
	if m["sid"] == "" || m["tag"] == "" {
		return Resumable{}, false, nil
	}
	seen, err := strconv.ParseInt(m["seen"], 10, 64)
	if err != nil {
		return Resumable{}, false, nil
	}
	return Resumable{PID: pid, SID: m["sid"], Username: m["username"], Tag: m["tag"], Seen: seen}, true, nil
}

// DropResumable deletes the record of pid: its client left for good.
func (c *Client) DropResumable(ctx context.Context, pid string) error {
	if err := c.redis().Del(ctx, resumeKey(pid)).Err(); err != nil {
		return fmt.Errorf("delete resumable session: %w", err)
	}
	return nil
}
