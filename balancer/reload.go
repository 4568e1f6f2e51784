package balancer

import (
	"fmt"
	"reflect"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
)

// Reload makes doc the balancer's document and, if the config it composes
// to (see Options: flags over the document over defaults) is valid,
// publishes it as the next generation: new connections use it, open
// tunnels keep the generation they started under (backend and idle
// timeout) and are not dropped. A document without servers keeps the
// running ones. Backends that left the server group, or are set to drain,
// start draining. An invalid config is rejected with every problem, and
// the old one keeps serving.
func (b *Balancer) Reload(doc config.Config) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reload(doc, nil)
}

// ReloadYAML parses a YAML (or JSON) document and reloads it: it replaces
// the running document, as PUT /api/config does.
func (b *Balancer) ReloadYAML(data []byte) (uint64, error) {
	doc, err := config.Load(data)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		return 0, b.reject(err)
	}
	return b.reload(doc, nil)
}

// Patch merges a partial YAML (or JSON) document into the running one (a
// merge patch: mappings merge key by key, anything else — a list of
// servers, a value — replaces what stood there) and reloads the result.
func (b *Balancer) Patch(data []byte) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	doc, ls, err := config.Merge(b.doc, data)
	if err != nil {
		return 0, b.reject(err)
	}
	return b.reload(doc, ls)
}

// Document is the document the running config came from, before flags and
// defaults: what Patch merges into.
func (b *Balancer) Document() config.Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.doc
}

// reload applies doc; ls, when not nil, gives the lines of its fields for
// the problems. Callers hold b.mu.
func (b *Balancer) reload(doc config.Config, ls config.Lines) (uint64, error) {
	if b.closed {
		return 0, ErrClosed
	}
	old := b.snap.Load()
	cfg := b.compose(doc, old.cfg.ServerGroup.Servers)
	// The listener can only change with a restart: a config that leaves it
	// out keeps the running one.
	if cfg.Listener.Addr == "" {
		cfg.Listener.Addr = old.cfg.Listener.Addr
	}
	if cfg.Listener.TLS == nil {
		cfg.Listener.TLS = old.cfg.Listener.TLS
	}
	if err := cfg.Validate(); err != nil {
		ls.Place(err)
		return 0, b.reject(err)
	}
	cfg = cfg.WithDefaults()
	if err := config.FixedOnReload(old.cfg, b.asConfigured, cfg); err != nil {
		return 0, b.reject(err)
	}
	cfg.Listener.Addr, cfg.Listener.TLS = old.cfg.Listener.Addr, old.cfg.Listener.TLS
	snap := b.buildSnapshot(cfg, old.gen+1)
	snap.leaving = snap.leavingAfter(old)
	b.doc = doc
	b.snap.Store(snap)
	for name, be := range b.backends {
		t := snap.lookup(name)
		switch {
		case t == nil || t.drain:
			if !be.draining.Load() {
				b.drains.start(be, snap)
			}
		case be.draining.Load():
			b.drains.cancel(be)
		}
	}
	if !reflect.DeepEqual(old.cfg.ServerGroup.HealthCheck, cfg.ServerGroup.HealthCheck) || !sameTargets(old, snap) {
		b.health.restart(snap)
	}
	b.counters.applied.Add(1)
	b.publish(events.Event{Kind: events.ConfigApplied, Generation: snap.gen, Detail: snap.summary()})
	return snap.gen, nil
}

// RejectedError is a reload that was refused; the old config keeps serving.
type RejectedError struct {
	Generation uint64 // the generation that keeps serving
	Err        error  // every problem
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("config rejected, generation %d keeps serving: %s", e.Generation, config.OneLine(e.Err))
}

func (e *RejectedError) Unwrap() error { return e.Err }

// reject reports a refused reload. Callers hold b.mu.
func (b *Balancer) reject(err error) error {
	gen := b.snap.Load().gen
	b.counters.rejected.Add(1)
	b.publish(events.Event{Kind: events.ConfigRejected, Generation: gen, Detail: config.OneLine(err)})
	return &RejectedError{Generation: gen, Err: err}
}

func sameTargets(a, b *snapshot) bool {
	if len(a.targets) != len(b.targets) {
		return false
	}
	for i := range a.targets {
		if a.targets[i].name != b.targets[i].name || a.targets[i].addr != b.targets[i].addr {
			return false
		}
	}
	return true
}
