package lab

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/wslab/wslab/faultlink"
)

// ClientLink is the name of the link between clients and the balancer;
// the link in front of a node is named after the node.
const ClientLink = "client"

// LinksConfig puts a fault link (package faultlink) on the lab's hops. The
// zero value puts none.
type LinksConfig struct {
	// On starts a link named "client" in front of the balancer (clients
	// reach the balancer through it at Lab.ClientURL) and, when the
	// balancer's servers are the lab's nodes, one link per node, named
	// after it, that becomes that node's address in the server group:
	// health checks and tunnels both pass through it.
	On bool
	// ClientAddr is where the client link listens; default 127.0.0.1:0.
	ClientAddr string
}

// linkSet holds the lab's links.
type linkSet struct {
	// mu guards all.
	mu  sync.Mutex
	all []*faultlink.Link // in the order they started: client, then nodes
}

// Link returns the link with the given name ("client", "node-1", ...),
// or nil.
func (l *Lab) Link(name string) *faultlink.Link {
	for _, k := range l.Links() {
		if k.Name() == name {
			return k
		}
	}
	return nil
}

// Links lists the lab's links: the client link first, then one per node.
func (l *Lab) Links() []*faultlink.Link {
	l.links.mu.Lock()
	defer l.links.mu.Unlock()
	return append([]*faultlink.Link(nil), l.links.all...)
}

// ClientURL is where clients connect: http://host:port of the client link
// when the lab has links, else the balancer's URL.
func (l *Lab) ClientURL() string {
	if k := l.Link(ClientLink); k != nil {
		return "http://" + k.Addr()
	}
	if l.Balancer != nil {
		return l.Balancer.URL()
	}
	if l.Proxy != nil {
		return l.Proxy.URL()
	}
	return ""
}

// LinkNames lists the lab's link names, for errors and help.
func (l *Lab) LinkNames() []string {
	var out []string
	for _, k := range l.Links() {
		out = append(out, k.Name())
	}
	return out
}

// FindLink is Link with an error that names the links there are.
func (l *Lab) FindLink(name string) (*faultlink.Link, error) {
	if k := l.Link(name); k != nil {
		return k, nil
	}
	if names := l.LinkNames(); len(names) > 0 {
		return nil, fmt.Errorf("lab: no link %q; links are: %s", name, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("lab: no link %q: this lab has no links (start it with links on: lab up --links)", name)
}

// LinkTargets is the links a fault set on name reaches: "client" is the
// clients' network — the client link, if the lab has one, and the link of
// every client process (ClientsConfig), each its own; any other name is
// the one link of that name (a node's, or one client process's:
// client-7). The error names the links there are.
func (l *Lab) LinkTargets(name string) ([]*faultlink.Link, error) {
	k, err := l.FindLink(name)
	if name != ClientLink {
		if err != nil {
			return nil, err
		}
		return []*faultlink.Link{k}, nil
	}
	var out []*faultlink.Link
	if k != nil {
		out = append(out, k)
	}
	for _, c := range l.Clients() {
		if k := l.Link(c.Name); k != nil {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, err
	}
	return out, nil
}

func (l *Lab) startLink(cfg faultlink.Config) error {
	cfg.Clock, cfg.Events, cfg.Logger = l.clock, l.Events, l.cfg.Logger
	cfg.Rand = rand.New(rand.NewPCG(l.rng.Uint64(), l.rng.Uint64()))
	k, err := faultlink.Start(cfg)
	if err != nil {
		return err
	}
	l.links.mu.Lock()
	if cfg.ClientSide { // listed first, ahead of the nodes' links that started before it
		l.links.all = append([]*faultlink.Link{k}, l.links.all...)
	} else {
		l.links.all = append(l.links.all, k)
	}
	l.links.mu.Unlock()
	return nil
}

// linkNodes starts a link for every node that has none, when the lab has
// links and the balancer's servers are its nodes. Callers hold growMu or
// are Start.
func (l *Lab) linkNodes() error {
	if !l.cfg.Links.On || l.cfg.Balancer.ServerGroup.Servers != nil {
		return nil
	}
	for _, n := range l.Nodes() {
		if l.Link(n.Name()) != nil {
			continue
		}
		if err := l.startLink(faultlink.Config{Name: n.Name(), Upstream: hostPort(n.URL())}); err != nil {
			return err
		}
	}
	return nil
}

// startClientLink puts the client link in front of the balancer.
func (l *Lab) startClientLink() error {
	if !l.cfg.Links.On || l.Balancer == nil && l.Proxy == nil {
		return nil
	}
	var front string
	if l.Balancer != nil {
		front = l.Balancer.Addr()
	} else {
		front = l.Proxy.Addr()
	}
	return l.startLink(faultlink.Config{Name: ClientLink, Listen: l.cfg.Links.ClientAddr, Upstream: front, ClientSide: true})
}

// serverURL is where the balancer reaches n: its link, if it has one.
func (l *Lab) serverURL(n *Node) string {
	k := l.Link(n.Name())
	if k == nil {
		return n.URL()
	}
	u, err := url.Parse(n.URL())
	if err != nil {
		return "http://" + k.Addr()
	}
	u.Host = k.Addr() // the same scheme and path, through the link
	return u.String()
}

// hostPort is the TCP address a node's URL names, with the scheme's port
// when it gives none.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" || u.Scheme == "wss" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// closeLinks closes every link and forgets them.
func (l *Lab) closeLinks() error {
	l.links.mu.Lock()
	all := l.links.all
	l.links.all = nil
	l.links.mu.Unlock()
	var errs []error
	for _, k := range all {
		errs = append(errs, k.Close())
	}
	return errors.Join(errs...)
}
