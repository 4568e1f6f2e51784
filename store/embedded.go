package store

import (
	"fmt"
	"sync"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis (miniredis) listening on loopback, so that
// a lab needs no Redis installed and redis-cli can still look inside it.
type Embedded struct {
	// mu guards mr, replaced by RestartEmpty.
	mu sync.Mutex
	mr *miniredis.Miniredis
}

// StartEmbedded starts an embedded Redis on addr ("" means 127.0.0.1 on a
// free port).
func StartEmbedded(addr string) (*Embedded, error) {
	mr, err := startMiniredis(addr)
	if err != nil {
		return nil, err
	}
	return &Embedded{mr: mr}, nil
}

func startMiniredis(addr string) (*miniredis.Miniredis, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("start embedded redis on %s: %w", addr, err)
	}
	return mr, nil
}

func (e *Embedded) miniredis() *miniredis.Miniredis {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mr
}

// Addr is the host:port the embedded Redis listens on.
func (e *Embedded) Addr() string { return e.miniredis().Addr() }

// URL is the redis:// URL clients use to reach the embedded Redis.
func (e *Embedded) URL() string { return "redis://" + e.Addr() + "/0" }

// RestartEmpty stops the embedded Redis, dropping every connection, and
// starts a fresh, empty one on the same address: a redis-server restarted
// without its data. (A fresh instance, because miniredis's own Restart
// leaves blocking commands unanswered.)
func (e *Embedded) RestartEmpty() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	addr := e.mr.Addr()
	e.mr.Close()
	mr, err := startMiniredis(addr)
	if err != nil {
		return err
	}
	e.mr = mr
	return nil
}

// Close stops the embedded Redis and drops every client connection.
func (e *Embedded) Close() { e.miniredis().Close() }
