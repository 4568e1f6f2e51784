package config

import (
	"errors"
	"reflect"
	"time"
)

// FixedOnReload lists settings that only a restart can change. The
// addresses may be given as configured (port 0) or as bound.
func FixedOnReload(old Config, configured Listener, cfg Config) error {
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
