package balancer

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/wslab/wslab/events"
)

// Reload validates cfg as a whole and, if it is valid, publishes it as the
// next generation: new connections use it, open tunnels keep the generation
// they started under (backend and idle timeout) and are not dropped.
// Backends that left the server group, or are set to drain, start draining.
// An invalid config is rejected with every problem, and the old one keeps
// serving.
func (b *Balancer) Reload(cfg Config) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, ErrClosed
	}
	old := b.snap.Load()
	// The listener can only change with a restart: a config that leaves it
	// out (its address came from a flag, say) keeps the running one.
	if cfg.Listener.Addr == "" {
		cfg.Listener.Addr = old.cfg.Listener.Addr
	}
	if cfg.Listener.TLS == nil {
		cfg.Listener.TLS = old.cfg.Listener.TLS
	}
	if err := cfg.Validate(); err != nil {
		return 0, b.reject(err)
	}
	cfg = cfg.withDefaults()
	if err := fixedOnReload(old.cfg, b.asConfigured, cfg); err != nil {
		return 0, b.reject(err)
	}
	cfg.Listener.Addr, cfg.Listener.TLS = old.cfg.Listener.Addr, old.cfg.Listener.TLS
	snap := b.buildSnapshot(cfg, old.gen+1)
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

// ReloadYAML parses and reloads a YAML (or JSON) config.
func (b *Balancer) ReloadYAML(data []byte) (uint64, error) {
	cfg, err := LoadConfig(data)
	if err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		return 0, b.reject(err)
	}
	return b.Reload(cfg)
}

// RejectedError is a reload that was refused; the old config keeps serving.
type RejectedError struct {
	Generation uint64 // the generation that keeps serving
	Err        error  // every problem
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("config rejected, generation %d keeps serving:\n%v", e.Generation, e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }

// reject reports a refused reload. Callers hold b.mu.
func (b *Balancer) reject(err error) error {
	gen := b.snap.Load().gen
	b.counters.rejected.Add(1)
	b.publish(events.Event{Kind: events.ConfigRejected, Generation: gen, Detail: strings.ReplaceAll(err.Error(), "\n", "; ")})
	return &RejectedError{Generation: gen, Err: err}
}

// fixedOnReload lists settings that only a restart can change. The
// addresses may be given as configured (port 0) or as bound.
func fixedOnReload(old Config, configured ListenerConfig, cfg Config) error {
	var problems []string
	if a := cfg.Listener.Addr; a != old.Listener.Addr && a != configured.Addr {
		problems = append(problems, fmt.Sprintf("listener.addr: cannot change from %q to %q on reload; restart the balancer", old.Listener.Addr, a))
	}
	if (cfg.Listener.TLS == nil) != (old.Listener.TLS == nil) ||
		cfg.Listener.TLS != nil && !reflect.DeepEqual(*cfg.Listener.TLS, *old.Listener.TLS) && !reflect.DeepEqual(*cfg.Listener.TLS, *configured.TLS) {
		problems = append(problems, "listener.tls: cannot change on reload; restart the balancer")
	}
	if old.Listener.HeaderTimeout != cfg.Listener.HeaderTimeout || old.Listener.MaxHeaderBytes != cfg.Listener.MaxHeaderBytes {
		problems = append(problems, "listener.header_timeout, listener.max_header_bytes: cannot change on reload; restart the balancer")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
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
