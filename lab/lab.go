// Package lab assembles a whole lab — store, N nodes, balancer — from one
// config, for `lab up`, for the scenario runner and for users' own go
// tests.
//
// A node is of one of five kinds (Kind): our chat or echo node run
// in-process, a user's Go http.Handler served in-process (handler.go), a
// command the lab starts as a process group of its own, or a server at a
// URL that runs elsewhere. Node and Lab.Fault treat them the
// same; what a kind cannot do is refused by name (RefusedError).
//
// # Concurrency
//
// A Lab owns its parts; Close stops them in order (balancer, nodes, store)
// and waits for every goroutine they started. A command node owns two
// goroutines per launch (its output reader and the waiter that reaps it);
// they end once its process group is gone, which Close makes sure of. A
// client process (ClientsConfig) owns the same two; Close stops the
// clients first, so their connections end as the clients end them.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/store"
)

// Config describes a lab. The zero value is two chat nodes on free loopback
// ports with an embedded Redis, and a balancer on 127.0.0.1:8080 in front
// of them.
type Config struct {
	// Balancer is the balancer's document: listener and server group. When
	// it lists no servers, the lab's nodes are its servers, checked on
	// /healthz. BalancerOverrides win over it at start and at every reload
	// (lab up's flags).
	Balancer          config.Config
	BalancerOverrides config.Config
	NoBalancer        bool // nodes and store only
	// BalancerKind is the front door: "" or "wslab" is the built-in
	// balancer; nginx, haproxy or caddy runs that proxy instead, its
	// config written from Balancer (package proxies), as a process the lab
	// starts, reloads and stops (Lab.Proxy). A lab with a proxy runs on
	// the real clock.
	BalancerKind string
	// BalancerConfigFile is the user's own config for that proxy, run
	// instead of the one the lab writes; the lab fills in its placeholders
	// ({listen}, {dir}, {admin}, {servers}, {node-1}, ...: see
	// proxies.FillIn).
	BalancerConfigFile string
	AdminAddr          string       // admin API listen address; "" runs none
	Dashboard          http.Handler // served by the admin API at /
	AdminToken         string       // required by the admin API; see admin.Config.Token
	AdminHosts         []string     // extra Host names the admin API answers; see admin.Config.Hosts

	Nodes    int       // number of nodes that run Node; default 2 (0 with a NodeList)
	NodeHost string    // host the nodes listen on; default 127.0.0.1
	NodePort int       // port of node-1, node-i gets NodePort+i-1; 0: free ports
	NodeMode node.Mode // chat (default) or echo
	// Node is what each of the Nodes is: the zero value is our chat node
	// (NodeMode); with a Command they are processes the lab starts.
	Node NodeSpec
	// NodeList adds nodes of their own after those: url nodes, commands
	// that differ. Each is read over Node (NodeSpec.Over).
	NodeList []NodeSpec
	// NodeOutput receives what command nodes print, each line prefixed
	// with the node's name; nil discards it (errors still quote the last
	// lines).
	NodeOutput io.Writer
	RedisURL   string // external Redis; "" starts an embedded one
	RedisAddr  string // listen address of the embedded Redis; default 127.0.0.1:0
	// AllowedOrigins are extra Origin host patterns the nodes accept on
	// upgrades; see node.Config.AllowedOrigins.
	AllowedOrigins []string
	// SessionCookie, when set, makes the lab's own nodes set this cookie
	// to the Engine.IO session id (Socket.IO's `io`), for app_cookie
	// stickiness; see node.Config.SessionCookie.
	SessionCookie string

	Links LinksConfig // fault links on the hops (links.go); default none
	// Clients starts the user's own clients as processes (clients.go);
	// with them the lab runs on the real clock.
	Clients ClientsConfig

	PingInterval time.Duration // Engine.IO heartbeat of the nodes; default 25s
	PingTimeout  time.Duration // default 20s

	Seed   uint64       // seeds every random choice; 0 picks one (see Lab.Seed)
	Clock  quartz.Clock // nil: real time; ignored when a node is a command or url (see Lab.Clocking)
	Events *events.Bus  // nil: a new bus (Lab.Events)
	Logger *slog.Logger // nil: slog.Default()
}

// Lab is a running lab.
type Lab struct {
	cfg      Config
	Events   *events.Bus
	Seed     uint64
	Redis    *store.Embedded    // nil when RedisURL was given
	link     *store.Link        // in front of the embedded Redis, to cut it
	Balancer *balancer.Balancer // nil with NoBalancer or a BalancerKind proxy
	Proxy    *Proxy             // the proxy of BalancerKind; nil with the built-in balancer
	Admin    *admin.Server      // nil without AdminAddr
	rng      *rand.Rand
	redisURL string
	links    linkSet      // links.go
	clients  clientSet    // clients.go
	clock    quartz.Clock // what the parts run on; nil: real time
	clocking Clocking
	out      *outputSink

	// growMu serializes adding nodes (the admin API, the lab's driver).
	growMu sync.Mutex
	// nodesMu guards nodes: the admin API adds to them while the goroutine
	// that drives the lab reads them.
	nodesMu sync.Mutex
	nodes   []*Node
}

// Start starts the store and the nodes. On error, whatever started is
// stopped again: no process is left running.
func Start(ctx context.Context, cfg Config) (_ *Lab, err error) {
	specs, err := cfg.nodeSpecs()
	if err != nil {
		return nil, err
	}
	if cfg.NodeHost == "" {
		cfg.NodeHost = "127.0.0.1"
	}
	l := &Lab{cfg: cfg, Events: cfg.Events, Seed: cfg.Seed, out: &outputSink{w: cfg.NodeOutput}}
	l.clock, l.clocking = clocking(cfg.Clock, specs)
	if real, c := clientsClocking(cfg.Clients, l.clocking); real {
		l.clock, l.clocking = nil, c
	}
	if cfg.isProxy() && !cfg.NoBalancer {
		l.clock, l.clocking = nil, Clocking{Real: true, Why: fmt.Sprintf("the balancer is %s, a process whose time the lab cannot control", cfg.BalancerKind)}
	}
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
		if l.link, err = store.NewLink(l.Redis.Addr()); err != nil {
			return nil, err
		}
		redisURL = l.link.URL()
	}
	l.redisURL = redisURL
	for _, spec := range specs {
		if _, err := l.startNode(ctx, spec); err != nil {
			return nil, err
		}
	}
	if !cfg.NoBalancer {
		start := l.startBalancer
		if cfg.isProxy() {
			start = l.startProxy
		}
		if err := start(ctx); err != nil {
			return nil, err
		}
		if err := l.startClientLink(); err != nil {
			return nil, err
		}
		if err := l.startClients(); err != nil {
			return nil, err
		}
	}
	if cfg.AdminAddr != "" {
		ac := admin.Config{
			Addr: cfg.AdminAddr, Balancer: l.Balancer, Nodes: l, Events: l.Events,
			Seed: l.Seed, Redis: l.RedisAddr(), Logger: cfg.Logger, Clocking: l.clocking.String(),
			AddNode: l.addNodeState, Links: l.Links, LinkTargets: l.LinkTargets, Extra: cfg.Dashboard, Token: cfg.AdminToken, Hosts: cfg.AdminHosts,
		}
		if l.Proxy != nil {
			ac.Proxy, ac.ProxyReload = l.Proxy.Status, l.Proxy.ReloadYAML
		}
		l.Admin, err = admin.Start(ac)
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// healthPath is where the balancer checks the lab's nodes: /healthz when
// they are all ours; else the one path every other node declares, or /
// (what a cloud ALB checks by default).
func (l *Lab) healthPath() string {
	path := "/healthz"
	for i, n := range l.Nodes() {
		if n.InProcess() != nil {
			continue
		}
		h := l.specOf(i).Health
		if h == "" || (path != "/healthz" && path != h) {
			return "/"
		}
		path = h
	}
	return path
}

func (l *Lab) startBalancer(ctx context.Context) error {
	if err := l.linkNodes(); err != nil {
		return err
	}
	var defaults config.Config
	if l.cfg.Balancer.ServerGroup.Servers == nil {
		// The group is the lab's nodes: ours answer on /healthz.
		defaults.ServerGroup.Servers = l.servers()
		defaults.ServerGroup.HealthCheck.Path = l.healthPath()
	}
	b, err := balancer.Start(ctx, l.cfg.Balancer, balancer.Options{
		Clock: l.clock, Events: l.Events, Logger: l.cfg.Logger,
		Rand:      rand.New(rand.NewPCG(l.rng.Uint64(), l.rng.Uint64())),
		Overrides: l.cfg.BalancerOverrides, Defaults: defaults,
	})
	if err != nil {
		return err
	}
	l.Balancer = b
	return nil
}

// servers lists the lab's nodes as balancer servers.
func (l *Lab) servers() []config.Server {
	nodes := l.Nodes()
	out := make([]config.Server, len(nodes))
	for i, n := range nodes {
		out[i] = config.Server{Name: n.Name(), URL: l.serverURL(n)}
	}
	return out
}

// Close stops the admin API, the balancer, the nodes, then the store.
func (l *Lab) Close() error { return l.Shutdown(nil, nil) }

// Shutdown is Close with a goodbye: the balancer sends every open tunnel's
// two ends a 1001 close frame and waits until ctx ends for them to close
// (balancer.Balancer.Shutdown, with progress) before the rest stops. A nil
// ctx closes at once.
func (l *Lab) Shutdown(ctx context.Context, progress func(open int)) error {
	errs := []error{l.StopClients()}
	if l.Admin != nil {
		errs = append(errs, l.Admin.Close())
	}
	switch {
	case l.Balancer != nil && ctx != nil:
		errs = append(errs, l.Balancer.Shutdown(ctx, progress))
	case l.Balancer != nil:
		errs = append(errs, l.Balancer.Close())
	case l.Proxy != nil:
		errs = append(errs, l.Proxy.close())
	}
	errs = append(errs, l.closeLinks())
	for _, n := range l.Nodes() {
		errs = append(errs, n.d.close())
	}
	if l.link != nil {
		l.link.Close()
	}
	if l.Redis != nil {
		l.Redis.Close()
	}
	return errors.Join(errs...)
}
