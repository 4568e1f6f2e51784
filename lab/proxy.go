package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/proxies"
)

// Waits of a proxy's own, in wall time: its processes are not the lab's
// clock's (a lab with a proxy runs on the real clock, see Clocking).
const (
	proxyReady    = 15 * time.Second // from launch until the front door accepts
	proxyStop     = 5 * time.Second  // SIGTERM, then SIGKILL
	proxyReloaded = 10 * time.Second // signal sent until the new workers serve
)

// Proxy is nginx, HAProxy or Caddy running as the lab's balancer
// (Config.BalancerKind), a process group the lab starts, reloads and
// stops with its process code (process.go). The config it reads is
// written from the lab's balancer config (package proxies), or is the
// user's own file with the nodes filled in (Config.BalancerConfigFile).
type Proxy struct {
	kind      proxies.Kind
	site      proxies.Site
	file      string // the config the proxy reads
	own       string // the user's own config file; "": the lab writes it
	addr      string // the front door, host:port
	version   string // as the program says it; "" when it would not
	proc      *process
	overrides config.Config
	defaults  config.Config
	publish   func(events.Event)

	// mu serializes the control path (reload, close) and guards the
	// fields below.
	mu    sync.Mutex
	cfg   config.Config // composed: what the proxy was last given
	doc   config.Config // the document it was composed from (the lab's balancer config, or the last reload's)
	gen   uint64
	warns []proxies.Warning
}

// isProxy reports whether the config asks for a proxy, not the built-in
// balancer.
func (cfg Config) isProxy() bool {
	return cfg.BalancerKind != "" && cfg.BalancerKind != BuiltinBalancer
}

// BuiltinBalancer is the name of the lab's own balancer (lab up
// --balancer wslab).
const BuiltinBalancer = "wslab"

// startProxy writes the proxy's config, has the proxy check it, starts it
// and waits until its front door accepts. On error nothing is left
// running and its folder is gone.
func (l *Lab) startProxy(ctx context.Context) (err error) {
	kind, err := proxies.ParseKind(l.cfg.BalancerKind)
	if err != nil {
		return fmt.Errorf("balancer: %q is not wslab, nginx, haproxy or caddy", l.cfg.BalancerKind)
	}
	bin, err := proxies.Binary(kind)
	if err != nil {
		return err
	}
	if err := l.linkNodes(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "wslab-"+string(kind)+"-")
	if err != nil {
		return fmt.Errorf("%s: its folder: %w", kind, err)
	}
	p := &Proxy{kind: kind, site: proxies.Site{Dir: dir}, file: proxies.ConfigFile(kind, proxies.Site{Dir: dir}),
		own: l.cfg.BalancerConfigFile, overrides: l.cfg.BalancerOverrides, publish: l.publish}
	// Shown on the dashboard's front-door card; a program that will not
	// say its version still runs.
	p.version, _ = proxies.Version(ctx, kind, bin)
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if kind == proxies.Caddy {
		port, err := freePort("127.0.0.1")
		if err != nil {
			return fmt.Errorf("caddy: a port for its admin API: %w", err)
		}
		p.site.AdminAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	if l.cfg.Balancer.ServerGroup.Servers == nil {
		p.defaults.ServerGroup.Servers = l.servers()
		p.defaults.ServerGroup.HealthCheck.Path = l.healthPath()
	}
	cfg := config.Compose(p.overrides, l.cfg.Balancer, p.defaults, nil)
	host, port, err := net.SplitHostPort(cfg.WithDefaults().Listener.Addr)
	if err != nil {
		return fmt.Errorf("listener.addr: %q is not host:port", cfg.WithDefaults().Listener.Addr)
	}
	if port == "0" { // a proxy cannot tell which port it got: pick one
		free, err := freePort(host)
		if err != nil {
			return fmt.Errorf("listener.addr: %w", err)
		}
		port = strconv.Itoa(free)
	}
	p.addr = net.JoinHostPort(host, port)
	cfg.Listener.Addr = p.addr
	if err := p.write(ctx, cfg, p.file); err != nil {
		return err
	}
	p.cfg, p.doc, p.gen = cfg, l.cfg.Balancer, 1
	if ln, err := net.Listen("tcp", p.addr); err != nil {
		return fmt.Errorf("listener.addr: %s: %s cannot listen there (%v): stop what listens there, or choose another with --listen", p.addr, kind, err)
	} else {
		ln.Close()
	}
	spec := NodeSpec{Command: "exec " + shellQuote(proxies.Args(kind, bin, p.file, p.site)), Env: proxies.Env(kind, p.site),
		ReadyTimeout: proxyReady, StopGrace: proxyStop}
	p.proc = newProcess(string(kind), host, mustAtoi(port), spec, "", l.out, p.relay)
	p.proc.mu.Lock()
	_, err = p.proc.launch(ctx, spec.Command)
	p.proc.mu.Unlock()
	if err == nil {
		err = p.awaitWorkers(ctx)
	}
	if err != nil {
		p.proc.close()
		return p.startError(err)
	}
	l.Proxy = p
	l.publish(events.Event{Kind: events.ConfigApplied, Source: string(kind), Generation: 1, Detail: p.summary(cfg)})
	return nil
}

// awaitWorkers waits until nginx or HAProxy has forked its workers: the
// front door accepting tells only that the first listener is bound, and
// a proxy that fails to bind the next one exits after that.
func (p *Proxy) awaitWorkers(ctx context.Context) error {
	if p.kind == proxies.Caddy {
		return nil
	}
	inc := p.proc.run.Load()
	deadline := time.NewTimer(proxyReady)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for len(p.workers(ctx, inc.pid)) == 0 {
		select {
		case <-inc.exited:
			<-inc.done // all it printed is read
			return errors.New("it exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("no worker process after %s", proxyReady)
		case <-tick.C:
		}
	}
	return nil
}

// startError says in one line why the proxy did not start, in its own
// words where it printed any.
func (p *Proxy) startError(err error) error {
	inc := p.proc.run.Load()
	if inc == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s did not start: %w", p.kind, err)
	}
	own := proxies.OwnError(p.kind, strings.ReplaceAll(inc.out.String(), "\n  | ", "\n"))
	if own == "" {
		own = oneLineTail(&inc.out)
	}
	if inc.alive() || inc.err == nil {
		return fmt.Errorf("%s did not start: it did not accept connections on %s within %s (%s); its config must listen on {listen}", p.kind, p.addr, proxyReady, own)
	}
	return fmt.Errorf("%s did not start: %s; fix what it names (%s is the config it read)", p.kind, own, p.file)
}

// relay passes on what the process code says of the proxy's process: its
// start is in the lab's summary, an unexpected exit is news.
func (p *Proxy) relay(e events.Event) {
	if e.Kind != events.NodeStarted {
		p.publish(e)
	}
}

// write writes the proxy's config for cfg (or the user's own, filled in)
// to file and has the proxy check it.
func (p *Proxy) write(ctx context.Context, cfg config.Config, file string) error {
	var text string
	if p.own != "" {
		data, err := os.ReadFile(p.own)
		if err != nil {
			return fmt.Errorf("%s: --balancer-config: %w", p.kind, err)
		}
		text = proxies.FillIn(p.kind, string(data), p.addr, p.site, cfg.WithDefaults().ServerGroup.Servers)
	} else {
		t, warns, err := proxies.Render(p.kind, cfg, p.site)
		if err != nil {
			return fmt.Errorf("%s cannot run this config: %s", p.kind, config.OneLine(err))
		}
		text, p.warns = t, warns
	}
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		return fmt.Errorf("%s: write its config: %w", p.kind, err)
	}
	err := proxies.Check(ctx, p.kind, file, p.site)
	var ce *proxies.CheckError
	if p.own != "" && errors.As(err, &ce) {
		return fmt.Errorf("%s rejects your --balancer-config %s (placeholders filled in: %s): %s; fix it and start again", p.kind, p.own, file, ce.Msg)
	}
	return err
}

func (p *Proxy) summary(cfg config.Config) string {
	if p.own != "" {
		return "your own config " + p.own + ", servers filled in"
	}
	return proxies.Summary(cfg)
}

// Kind is which proxy runs.
func (p *Proxy) Kind() proxies.Kind { return p.kind }

// Addr is the front door, host:port.
func (p *Proxy) Addr() string { return p.addr }

// URL is the front door as http://host:port.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Dir is the proxy's own folder (its config, pid file, sockets).
func (p *Proxy) Dir() string { return p.site.Dir }

// Warnings are what the proxy's config could not express exactly.
func (p *Proxy) Warnings() []proxies.Warning {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.warns)
}

// Config is the balancer config the proxy was last given, composed.
func (p *Proxy) Config() config.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg
}

// Document is the config document the proxy's config was last composed
// from, as the built-in balancer's Document: a reload that changes one
// setting (a node added or removed) starts from it and keeps the rest.
func (p *Proxy) Document() config.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doc
}

// Generation counts the configs applied: 1 at start, one more per
// reload.
func (p *Proxy) Generation() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gen
}

// PID is the proxy's master process (also its process group); 0 when it
// is not running.
func (p *Proxy) PID() int {
	if inc := p.proc.run.Load(); inc != nil && inc.alive() {
		return inc.pid
	}
	return 0
}

// Reload applies doc the way the proxy reloads (package proxies'
// Reload) and returns once the proxy serves with it: its new workers
// started (nginx, HAProxy), or its admin API applied it (Caddy). A
// config the proxy cannot express or rejects is not applied; the running
// one keeps serving. Servers left out keep the running ones.
func (p *Proxy) Reload(ctx context.Context, doc config.Config) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg := config.Compose(p.overrides, doc, p.defaults, p.cfg.ServerGroup.Servers)
	cfg.Listener.Addr = p.addr // the front door stays where clients know it
	err := p.apply(ctx, cfg)
	if err != nil {
		p.publish(events.Event{Kind: events.ConfigRejected, Source: string(p.kind), Generation: p.gen, Detail: err.Error()})
		return p.gen, err
	}
	p.cfg, p.doc = cfg, doc
	p.gen++
	p.publish(events.Event{Kind: events.ConfigApplied, Source: string(p.kind), Generation: p.gen, Detail: p.summary(cfg)})
	return p.gen, nil
}

// ReloadYAML is Reload of a YAML (or JSON) document.
func (p *Proxy) ReloadYAML(ctx context.Context, data []byte) (uint64, error) {
	doc, err := config.Load(data)
	if err != nil {
		p.publish(events.Event{Kind: events.ConfigRejected, Source: string(p.kind), Generation: p.gen, Detail: config.OneLine(err)})
		return p.gen, err
	}
	return p.Reload(ctx, doc)
}

// apply writes and checks the next config beside the running one, puts
// it in its place and reloads the proxy. Callers hold mu.
func (p *Proxy) apply(ctx context.Context, cfg config.Config) error {
	pid := p.PID()
	if pid == 0 {
		return fmt.Errorf("%s is not running; nothing to reload", p.kind)
	}
	next := p.file + ".next"
	if err := p.write(ctx, cfg, next); err != nil {
		os.Remove(next)
		return err
	}
	if err := os.Rename(next, p.file); err != nil {
		return fmt.Errorf("%s: %w", p.kind, err)
	}
	before := p.workers(ctx, pid)
	if err := proxies.Reload(ctx, p.kind, p.file, p.site, pid); err != nil {
		return err
	}
	return p.awaitReload(ctx, pid, before)
}

// workers lists the proxy's current workers: HAProxy's from its master
// CLI, nginx's as the members of its group but the master. Caddy has
// none (one process).
func (p *Proxy) workers(ctx context.Context, master int) []int {
	switch p.kind {
	case proxies.HAProxy:
		pids, _ := proxies.Workers(ctx, p.site)
		return pids
	case proxies.Nginx:
		members, _ := groupMembers(master)
		return slices.DeleteFunc(members, func(pid int) bool { return pid == master || shuttingDown(pid) })
	}
	return nil
}

// awaitReload waits until the proxy serves with the new config: a worker
// that was not there before serves and the old ones stopped taking
// connections (nginx's retitle themselves "shutting down", HAProxy's
// master lists them as old workers). Caddy's /load answered once done.
func (p *Proxy) awaitReload(ctx context.Context, master int, before []int) error {
	if p.kind == proxies.Caddy {
		return nil
	}
	deadline := time.NewTimer(proxyReloaded)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		now := p.workers(ctx, master)
		if len(now) > 0 && !slices.ContainsFunc(now, func(pid int) bool { return slices.Contains(before, pid) }) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for its reload: %w", p.kind, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("%s: reload signalled, but its workers are still %v (were %v) after %s; see its output", p.kind, now, before, proxyReloaded)
		case <-tick.C:
		}
	}
}

// shuttingDown reports whether an nginx worker is an old one that
// finishes its connections after a reload. Where /proc is missing it
// cannot tell and says no.
func shuttingDown(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && strings.Contains(string(b), "shutting down")
}

// Status is what the lab shows of the proxy, with HAProxy's own figures
// from its stats socket.
func (p *Proxy) Status(ctx context.Context) proxies.Status {
	p.mu.Lock()
	cfg, gen, warns := p.cfg.WithDefaults(), p.gen, p.warns
	p.mu.Unlock()
	st := proxies.Status{Kind: p.kind, Version: p.version, URL: p.URL(), PID: p.PID(), Config: p.file, Own: p.own != "", Generation: gen}
	if p.own == "" {
		st.Policy, st.IdleTimeout = cfg.ServerGroup.Policy, time.Duration(cfg.Listener.IdleTimeout)
	}
	for _, w := range warns {
		st.Warnings = append(st.Warnings, w.String())
	}
	switch p.kind {
	case proxies.HAProxy:
		servers, err := proxies.Stats(ctx, p.site)
		if err != nil {
			st.Figures = err.Error()
		}
		st.Servers = servers
	case proxies.Nginx:
		st.Figures = "nginx OSS exposes no per-server figures (stub_status counts connections in all)"
	case proxies.Caddy:
		st.Figures = "Caddy 2.6 exposes upstream health in its admin API /reverse_proxy/upstreams, not sessions"
	}
	return st
}

// close stops the proxy (SIGTERM to its group, SIGKILL after a grace)
// and removes its folder.
func (p *Proxy) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.proc.close()
	return errors.Join(err, os.RemoveAll(p.site.Dir))
}

// shellQuote joins args into a line /bin/sh reads back as the same args.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
