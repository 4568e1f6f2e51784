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
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
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

// StartNode starts one more node (what Config.Node says) without adding
// it to the balancer.
func (l *Lab) StartNode(ctx context.Context) (*Node, error) {
	l.growMu.Lock()
	defer l.growMu.Unlock()
	return l.startNode(ctx, l.cfg.Node)
}

// startNode starts node number N+1 as spec says, on the next port.
// Callers hold growMu (or are Start), so that two new nodes never get the
// same number.
func (l *Lab) startNode(ctx context.Context, spec NodeSpec) (*Node, error) {
	i := len(l.Nodes()) + 1
	name := spec.Name
	if name == "" {
		name = fmt.Sprintf("node-%d", i)
	}
	if l.Node(name) != nil {
		return nil, fmt.Errorf("node %q: two nodes have that name", name)
	}
	port := 0
	if l.cfg.NodePort != 0 {
		port = l.cfg.NodePort + i - 1
	}
	n := &Node{name: name, kind: spec.Kind()}
	switch n.kind {
	case KindCommand:
		if port == 0 {
			p, err := freePort(l.cfg.NodeHost)
			if err != nil {
				return nil, fmt.Errorf("node %q: %w", name, err)
			}
			port = p
		}
		p := newProcess(name, l.cfg.NodeHost, port, spec, l.redisURL, l.out, l.publish)
		p.mu.Lock()
		_, err := p.launch(ctx, spec.Command)
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		n.d = p
	case KindURL:
		r := newRemote(name, spec, os.Environ(), l.out, l.publish)
		if err := r.check(ctx); err != nil {
			l.publish(events.Event{Kind: events.NodeStopped, Source: name, Reason: "unreachable",
				Detail: fmt.Sprintf("%s does not answer (%v); the lab runs on, and the balancer's health checks keep it out until it does", r.base, err)})
		}
		n.d = r
	case KindHandler:
		h := newHandlerNode(name, l.cfg.NodeHost, port, spec, l.clock, l.redisURL, l.cfg.Logger, l.publish)
		h.mu.Lock()
		err := h.listen()
		h.mu.Unlock()
		if err != nil {
			return nil, err
		}
		n.d = h
	default:
		mode := spec.Mode
		if mode == "" {
			mode = l.cfg.NodeMode
		}
		nn, err := node.Start(ctx, node.Config{
			Name: name, Addr: net.JoinHostPort(l.cfg.NodeHost, strconv.Itoa(port)), RedisURL: l.redisURL, Mode: mode,
			PingInterval: l.cfg.PingInterval, PingTimeout: l.cfg.PingTimeout, AllowedOrigins: l.cfg.AllowedOrigins,
			SessionCookie: l.cfg.SessionCookie, StopGrace: spec.StopGrace,
			Recovery: spec.Recovery, MaxDisconnection: spec.MaxDisconnection,
			Clock: l.clock, Events: l.Events, Logger: l.cfg.Logger,
			Rand: rand.New(rand.NewPCG(l.rng.Uint64(), l.rng.Uint64())),
		})
		if err != nil {
			return nil, err
		}
		n.d, n.kind = inProcess{nn}, Kind(nn.Mode())
	}
	l.nodesMu.Lock()
	l.nodes = append(l.nodes, n)
	l.nodesMu.Unlock()
	return n, nil
}

// freePort asks the system for a free port on host. Another program may
// take it before the command listens; the command then fails to start,
// with its output in the error.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Nodes lists the lab's nodes, in the order they started.
func (l *Lab) Nodes() []*Node {
	l.nodesMu.Lock()
	defer l.nodesMu.Unlock()
	return slices.Clone(l.nodes)
}

// AddNode starts one more node and, when the balancer's servers are the
// lab's nodes, reloads the balancer with it (the next generation). The
// admin API calls it from its own goroutines.
func (l *Lab) AddNode(ctx context.Context) (*Node, error) {
	l.growMu.Lock()
	defer l.growMu.Unlock()
	if l.cfg.Node.Kind() == KindURL {
		return nil, errors.New("lab: this lab's nodes are url nodes; the lab cannot start another")
	}
	n, err := l.startNode(ctx, l.cfg.Node)
	if err != nil {
		return nil, err
	}
	if err := l.linkNodes(); err != nil {
		return n, err
	}
	if l.Proxy != nil && l.cfg.Balancer.ServerGroup.Servers == nil {
		var doc config.Config
		doc.ServerGroup.Servers = append(l.Proxy.Config().ServerGroup.Servers, config.Server{Name: n.Name(), URL: l.serverURL(n)})
		_, err := l.Proxy.Reload(ctx, doc)
		return n, err
	}
	if l.Balancer != nil && l.cfg.Balancer.ServerGroup.Servers == nil {
		doc := l.Balancer.Document()
		doc.ServerGroup.Servers = append(slices.Clone(l.Balancer.Config().ServerGroup.Servers), config.Server{Name: n.Name(), URL: l.serverURL(n)})
		if _, err := l.Balancer.Reload(doc); err != nil {
			return n, err
		}
	}
	return n, nil
}

// RemoveNode takes a node out of the balancer's server group (a reload): it
// gets no new connections and its tunnels drain. The node keeps running.
func (l *Lab) RemoveNode(name string) error {
	if l.Proxy != nil {
		running := l.Proxy.Config().ServerGroup.Servers
		var doc config.Config
		doc.ServerGroup.Servers = slices.DeleteFunc(slices.Clone(running), func(s config.Server) bool { return s.Name == name })
		if len(doc.ServerGroup.Servers) == len(running) {
			return fmt.Errorf("lab: %q is not in the server group", name)
		}
		_, err := l.Proxy.Reload(context.Background(), doc)
		return err
	}
	if l.Balancer == nil {
		return errors.New("lab: no balancer to remove a node from")
	}
	running := l.Balancer.Config().ServerGroup.Servers
	kept := slices.DeleteFunc(slices.Clone(running), func(s config.Server) bool { return s.Name == name })
	if len(kept) == len(running) {
		return fmt.Errorf("lab: %q is not in the server group", name)
	}
	doc := l.Balancer.Document()
	doc.ServerGroup.Servers = kept
	_, err := l.Balancer.Reload(doc)
	return err
}

// RedisDown cuts every node off the embedded Redis: an outage.
func (l *Lab) RedisDown() error {
	if l.link == nil {
		return errors.New("lab: only the embedded Redis can be cut")
	}
	l.link.Cut()
	return nil
}

// RedisUp ends the outage.
func (l *Lab) RedisUp() error {
	if l.link == nil {
		return errors.New("lab: only the embedded Redis can be cut")
	}
	return l.link.Restore()
}

// RedisUpEmpty ends the outage with a Redis that lost its data, as a
// redis-server restarted without persistence does: every session hash and
// the lab's epoch key are gone. Called while Redis is up, it restarts it.
func (l *Lab) RedisUpEmpty() error {
	if l.link == nil {
		return errors.New("lab: only the embedded Redis can be restarted empty")
	}
	if err := l.Redis.RestartEmpty(); err != nil {
		return err
	}
	return l.link.Restore()
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
			AddNode: l.addNodeState, Links: l.Links, Extra: cfg.Dashboard, Token: cfg.AdminToken, Hosts: cfg.AdminHosts,
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

// addNodeState is AddNode for the admin API.
func (l *Lab) addNodeState(ctx context.Context) (node.State, error) {
	n, err := l.AddNode(ctx)
	if n == nil {
		return node.State{}, err
	}
	return n.State(), err
}

// nodeSpecs is every node the config asks for, in order, each checked.
func (cfg Config) nodeSpecs() ([]NodeSpec, error) {
	count := cfg.Nodes
	if count == 0 && len(cfg.NodeList) == 0 {
		count = 2
	}
	if count < 0 || count+len(cfg.NodeList) > 64 || count+len(cfg.NodeList) == 0 {
		return nil, fmt.Errorf("nodes: %d is out of range 1-64", count+len(cfg.NodeList))
	}
	errs := []error{cfg.Node.Validate("node."), cfg.Clients.Validate("clients.")}
	if cfg.Node.Kind() == KindURL && count > 0 {
		errs = append(errs, fmt.Errorf("node.url: %q is one server; list url nodes one by one (NodeList, --node-url)", cfg.Node.URL))
	}
	var specs []NodeSpec
	for range count {
		specs = append(specs, cfg.Node)
	}
	for i, s := range cfg.NodeList {
		s = s.Over(cfg.Node)
		errs = append(errs, s.Validate(fmt.Sprintf("nodes[%d].", i)))
		specs = append(specs, s)
	}
	errs = append(errs, recoveryAgrees(specs))
	return specs, errors.Join(errs...)
}

// recoveryAgrees refuses a lab whose chat nodes differ on recovery: those
// with it chat over a Redis Stream, the others over pub/sub, and they
// would not hear each other.
func recoveryAgrees(specs []NodeSpec) error {
	var with, without string
	for i, s := range specs {
		if s.Kind() != KindChat {
			continue
		}
		name := s.Name
		if name == "" {
			name = fmt.Sprintf("node-%d", i+1)
		}
		if s.Recovery && with == "" {
			with = name
		} else if !s.Recovery && without == "" {
			without = name
		}
	}
	if with != "" && without != "" {
		return fmt.Errorf("recovery: %s has it and %s does not; nodes with recovery chat over a Redis Stream and the others over pub/sub, so they would not hear each other: set it on every chat node (lab.node.recovery, lab up --recovery) or on none", with, without)
	}
	return nil
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

// specOf is the spec the i-th node started from.
func (l *Lab) specOf(i int) NodeSpec {
	specs, _ := l.cfg.nodeSpecs()
	if i < len(specs) {
		return specs[i]
	}
	return l.cfg.Node
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

// Node returns the node with the given name, or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes() {
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
