// Package lab assembles a whole lab — store, N chat nodes, balancer — from
// one config, for `lab up`, for the scenario runner and for users' own go
// tests.
//
// # Concurrency
//
// A Lab owns its parts; Close stops them in order (balancer, nodes, store)
// and waits for every goroutine they started.
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/store"
)

// Config describes a lab. The zero value is two chat nodes on free loopback
// ports with an embedded Redis, and a balancer on 127.0.0.1:8080 in front
// of them.
type Config struct {
	// Balancer configures the listener and server group. When it lists no
	// servers, the lab's nodes are its servers.
	Balancer   balancer.Config
	NoBalancer bool   // nodes and store only
	AdminAddr  string // admin API listen address; "" runs none

	Nodes     int       // number of chat nodes; default 2
	NodeHost  string    // host the nodes listen on; default 127.0.0.1
	NodePort  int       // port of node-1, node-i gets NodePort+i-1; 0: free ports
	NodeMode  node.Mode // chat (default) or echo
	RedisURL  string    // external Redis; "" starts an embedded one
	RedisAddr string    // listen address of the embedded Redis; default 127.0.0.1:0

	PingInterval time.Duration // Engine.IO heartbeat of the nodes; default 25s
	PingTimeout  time.Duration // default 20s

	Seed   uint64       // seeds every random choice; 0 picks one (see Lab.Seed)
	Clock  quartz.Clock // nil: real time
	Events *events.Bus  // nil: a new bus (Lab.Events)
	Logger *slog.Logger // nil: slog.Default()
}

// Lab is a running lab.
type Lab struct {
	cfg      Config
	Events   *events.Bus
	Seed     uint64
	Redis    *store.Embedded // nil when RedisURL was given
	Nodes    []*node.Node
	Balancer *balancer.Balancer // nil with NoBalancer
	Admin    *admin.Server      // nil without AdminAddr
	rng      *rand.Rand
}

// Start starts the store and the nodes. On error, whatever started is
// stopped again.
func Start(ctx context.Context, cfg Config) (_ *Lab, err error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 2
	}
	if cfg.Nodes < 0 || cfg.Nodes > 64 {
		return nil, fmt.Errorf("nodes: %d is out of range 1-64", cfg.Nodes)
	}
	if cfg.NodeHost == "" {
		cfg.NodeHost = "127.0.0.1"
	}
	l := &Lab{cfg: cfg, Events: cfg.Events, Seed: cfg.Seed}
	if l.Events == nil {
		l.Events = events.New()
	}
	if l.Seed == 0 {
		l.Seed = rand.Uint64()
	}
	l.rng = rand.New(rand.NewPCG(l.Seed, 0x1ab))
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	redisURL := cfg.RedisURL
	if redisURL == "" {
		if l.Redis, err = store.StartEmbedded(cfg.RedisAddr); err != nil {
			return nil, err
		}
		redisURL = l.Redis.URL()
	}
	for i := 1; i <= cfg.Nodes; i++ {
		addr := net.JoinHostPort(cfg.NodeHost, "0")
		if cfg.NodePort != 0 {
			addr = net.JoinHostPort(cfg.NodeHost, strconv.Itoa(cfg.NodePort+i-1))
		}
		n, err := node.Start(ctx, node.Config{
			Name: fmt.Sprintf("node-%d", i), Addr: addr, RedisURL: redisURL, Mode: cfg.NodeMode,
			PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout,
			Clock: cfg.Clock, Events: l.Events, Logger: cfg.Logger,
			Rand: rand.New(rand.NewPCG(l.rng.Uint64(), l.rng.Uint64())),
		})
		if err != nil {
			return nil, err
		}
		l.Nodes = append(l.Nodes, n)
	}
	if !cfg.NoBalancer {
		if err := l.startBalancer(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.AdminAddr != "" {
		l.Admin, err = admin.Start(admin.Config{
			Addr: cfg.AdminAddr, Balancer: l.Balancer, Nodes: l.Nodes, Events: l.Events,
			Seed: l.Seed, Redis: l.RedisAddr(), Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *Lab) startBalancer(ctx context.Context) error {
	bc := l.cfg.Balancer
	if len(bc.ServerGroup.Servers) == 0 {
		bc.ServerGroup.Servers = l.servers()
	}
	b, err := balancer.Start(ctx, bc, balancer.Options{
		Clock: l.cfg.Clock, Events: l.Events, Logger: l.cfg.Logger,
		Rand: rand.New(rand.NewPCG(l.rng.Uint64(), l.rng.Uint64())),
	})
	if err != nil {
		return err
	}
	l.Balancer = b
	return nil
}

// servers lists the lab's nodes as balancer servers.
func (l *Lab) servers() []balancer.ServerConfig {
	out := make([]balancer.ServerConfig, len(l.Nodes))
	for i, n := range l.Nodes {
		out[i] = balancer.ServerConfig{Name: n.Name(), URL: n.URL()}
	}
	return out
}

// Node returns the node with the given name, or nil.
func (l *Lab) Node(name string) *node.Node {
	for _, n := range l.Nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// RedisAddr is the host:port of the Redis the lab uses.
func (l *Lab) RedisAddr() string {
	if l.Redis != nil {
		return l.Redis.Addr()
	}
	return l.cfg.RedisURL
}

// Close stops the admin API, the balancer, the nodes, then the store.
func (l *Lab) Close() error {
	var errs []error
	if l.Admin != nil {
		errs = append(errs, l.Admin.Close())
	}
	if l.Balancer != nil {
		errs = append(errs, l.Balancer.Close())
	}
	for _, n := range l.Nodes {
		errs = append(errs, n.Close())
	}
	if l.Redis != nil {
		l.Redis.Close()
	}
	return errors.Join(errs...)
}
