package balancer

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

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
func (b *Balancer) Reload(doc Config) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reload(doc, nil)
}

// ReloadYAML parses a YAML (or JSON) document and reloads it: it replaces
// the running document, as PUT /api/config does.
func (b *Balancer) ReloadYAML(data []byte) (uint64, error) {
	doc, err := LoadConfig(data)
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
	_, ls, err := parseConfig(data)
	if err != nil {
		return 0, b.reject(err)
	}
	var patch, base yaml.Node
	yaml.Unmarshal(data, &patch) // parsed above
	if err := base.Encode(b.doc); err != nil {
		return 0, b.reject(fmt.Errorf("encode the running document: %w", err))
	}
	var doc Config
	if err := mergeNodes(&base, patch.Content[0]).Decode(&doc); err != nil {
		return 0, b.reject(err)
	}
	return b.reload(doc, ls)
}

// Document is the document the running config came from, before flags and
// defaults: what Patch merges into.
func (b *Balancer) Document() Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.doc
}

// reload applies doc; ls, when not nil, gives the lines of its fields for
// the problems. Callers hold b.mu.
func (b *Balancer) reload(doc Config, ls lines) (uint64, error) {
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
		for _, p := range Problems(err) {
			p.Line = ls.of(p.Field)
		}
		return 0, b.reject(err)
	}
	cfg = cfg.withDefaults()
	if err := fixedOnReload(old.cfg, b.asConfigured, cfg); err != nil {
		return 0, b.reject(err)
	}
	cfg.Listener.Addr, cfg.Listener.TLS = old.cfg.Listener.Addr, old.cfg.Listener.TLS
	snap := b.buildSnapshot(cfg, old.gen+1)
	b.doc = doc
	b.snap.Store(snap)
	for name, be := range b.backends {
		t := snap.lookup(name)
		switch {
		case t == nil || t.drain:
			if !be.draining.Load() {
				b.startDrain(be, snap)
			}
		case be.draining.Load():
			b.cancelDrain(be)
		}
	}
	if !reflect.DeepEqual(old.cfg.ServerGroup.HealthCheck, cfg.ServerGroup.HealthCheck) || !sameTargets(old, snap) {
		b.startChecks(snap)
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
	return fmt.Sprintf("config rejected, generation %d keeps serving: %s", e.Generation, OneLine(e.Err))
}

func (e *RejectedError) Unwrap() error { return e.Err }

// OneLine joins a multi-problem error into one line, problems separated by
// "; ".
func OneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, strings.TrimSuffix(l, ":"))
		}
	}
	return strings.Join(parts, "; ")
}

// reject reports a refused reload. Callers hold b.mu.
func (b *Balancer) reject(err error) error {
	gen := b.snap.Load().gen
	b.counters.rejected.Add(1)
	b.publish(events.Event{Kind: events.ConfigRejected, Generation: gen, Detail: OneLine(err)})
	return &RejectedError{Generation: gen, Err: err}
}

// fixedOnReload lists settings that only a restart can change. The
// addresses may be given as configured (port 0) or as bound.
func fixedOnReload(old Config, configured ListenerConfig, cfg Config) error {
	var ps problems
	if a := cfg.Listener.Addr; a != old.Listener.Addr && a != configured.Addr {
		ps.add("listener.addr", "cannot change from %q to %q on reload; restart the balancer", old.Listener.Addr, a)
	}
	if (cfg.Listener.TLS == nil) != (old.Listener.TLS == nil) ||
		cfg.Listener.TLS != nil && !reflect.DeepEqual(*cfg.Listener.TLS, *old.Listener.TLS) && !reflect.DeepEqual(*cfg.Listener.TLS, *configured.TLS) {
		ps.add("listener.tls", "cannot change on reload; restart the balancer")
	}
	if old.Listener.HeaderTimeout != cfg.Listener.HeaderTimeout {
		ps.add("listener.header_timeout", "cannot change on reload (%s now); restart the balancer", fmtDuration(time.Duration(old.Listener.HeaderTimeout)))
	}
	if old.Listener.MaxHeaderBytes != cfg.Listener.MaxHeaderBytes {
		ps.add("listener.max_header_bytes", "cannot change on reload (%d now); restart the balancer", old.Listener.MaxHeaderBytes)
	}
	return errors.Join(ps...)
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
