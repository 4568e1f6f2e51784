package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

func sessionKey(sid string) string { return SessionPrefix + sid }

// CreateSession creates the hash session:<sid> with an empty username.
func (c *Client) CreateSession(ctx context.Context, sid string) error {
	if err := c.redis().HSet(ctx, sessionKey(sid), "username", "").Err(); err != nil {
		return fmt.Errorf("create session %q: %w", sid, err)
	}
	return nil
}

// SetUsername stores the session's username.
func (c *Client) SetUsername(ctx context.Context, sid, name string) error {
	if err := c.redis().HSet(ctx, sessionKey(sid), "username", name).Err(); err != nil {
		return fmt.Errorf("set username of session %q: %w", sid, err)
	}
	return nil
}

// Username returns the session's username; "" if none is set or the session
// does not exist.
func (c *Client) Username(ctx context.Context, sid string) (string, error) {
	name, err := c.redis().HGet(ctx, sessionKey(sid), "username").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get username of session %q: %w", sid, err)
	}
	return name, nil
}

// Session returns every field of session:<sid>, and whether it exists.
func (c *Client) Session(ctx context.Context, sid string) (map[string]string, bool, error) {
	m, err := c.redis().HGetAll(ctx, sessionKey(sid)).Result()
	if err != nil {
		return nil, false, fmt.Errorf("read session %q: %w", sid, err)
	}
	return m, len(m) > 0, nil
}

// DeleteSession deletes session:<sid>.
func (c *Client) DeleteSession(ctx context.Context, sid string) error {
	if err := c.redis().Del(ctx, sessionKey(sid)).Err(); err != nil {
		return fmt.Errorf("delete session %q: %w", sid, err)
	}
	return nil
}

// Session is the content of one session hash.
type Session struct {
	ID       string
	Username string // "" for a client that has not set one
}

// RestoreSessions writes the given session hashes in one round trip, for a
// node that finds Redis came back without its data.
func (c *Client) RestoreSessions(ctx context.Context, sessions []Session) error {
	if len(sessions) == 0 {
		return nil
	}
	_, err := c.redis().Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range sessions {
			p.HSet(ctx, sessionKey(s.ID), "username", s.Username)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore %d sessions: %w", len(sessions), err)
	}
	return nil
}
