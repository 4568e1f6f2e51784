package store

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis (miniredis) listening on loopback, so that
// a lab needs no Redis installed and redis-cli can still look inside it.
type Embedded struct {
	mr *miniredis.Miniredis
}

// StartEmbedded starts an embedded Redis on addr ("" means 127.0.0.1 on a
// free port).
func StartEmbedded(addr string) (*Embedded, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start embedded redis on %s: %w", addr, err)
	}
	return &Embedded{mr: mr}, nil
}

// Addr is the host:port the embedded Redis listens on.
func (e *Embedded) Addr() string { return e.mr.Addr() }

// URL is the redis:// URL clients use to reach the embedded Redis.
func (e *Embedded) URL() string { return "redis://" + e.mr.Addr() + "/0" }

// Close stops the embedded Redis and drops every client connection.
func (e *Embedded) Close() { e.mr.Close() }
