package store

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EpochKey holds a random value that lives as long as the Redis's data. A
// Redis that restarts without its data, or is flushed, loses it; miniredis
// has no run id to compare, so the lab keeps a sentinel of its own.
const EpochKey = "lab:epoch"

// Epoch returns the store's epoch, creating one if the key is missing. Two
// calls that return different values saw the data lost in between: whoever
// holds state mirrored in Redis (a node's sessions) must write it again.
func (c *Client) Epoch(ctx context.Context) (string, error) {
	rdb := c.redis()
	v, err := rdb.Get(ctx, EpochKey).Result()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("read %s: %w", EpochKey, err)
	}
	var b [8]byte
	crand.Read(b[:])
	fresh := hex.EncodeToString(b[:])
	// SETNX: when several nodes notice at once, one value wins for all.
	if err := rdb.SetNX(ctx, EpochKey, fresh, 0).Err(); err != nil {
		return "", fmt.Errorf("create %s: %w", EpochKey, err)
	}
	v, err = rdb.Get(ctx, EpochKey).Result()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", EpochKey, err)
	}
	return v, nil
}
