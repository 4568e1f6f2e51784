// The lab's nodes as a group: starting one, adding it to the server group or
// taking it out, finding one by name, and the specs they start from.

package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

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
		doc := l.Proxy.Document()
		doc.ServerGroup.Servers = append(slices.Clone(l.Proxy.Config().ServerGroup.Servers), config.Server{Name: n.Name(), URL: l.serverURL(n)})
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
		doc := l.Proxy.Document()
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

// specOf is the spec the i-th node started from.
func (l *Lab) specOf(i int) NodeSpec {
	specs, _ := l.cfg.nodeSpecs()
	if i < len(specs) {
		return specs[i]
	}
	return l.cfg.Node
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
