package faultlink

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Faults is the state of a link's faults. The zero value is a clean link:
// bytes pass as they come. Set replaces the whole state; connections that
// are open take the new state at their next chunk.
type Faults struct {
	Up   Direction `json:"up,omitzero"`   // client → upstream
	Down Direction `json:"down,omitzero"` // upstream → client

	// BlackHole accepts connections and reads what comes, but forwards
	// nothing and answers nothing: no bytes, no FIN, no RST, either way. A
	// FIN that arrives meanwhile is held and passed on once the black hole
	// is cleared; bytes are gone (counted as dropped).
	BlackHole bool `json:"black_hole,omitempty"`
	// ResetNew answers every new connection with a RST (SO_LINGER 0) as it
	// is accepted; the upstream is not dialed. Reset does the same to the
	// connections that are open.
	ResetNew bool `json:"reset_new,omitempty"`
	// SlowClose holds a FIN (in either direction) this long before passing
	// it on; the bytes before it arrive as usual.
	SlowClose Duration `json:"slow_close,omitempty"`
	// SourceIP (client-side links only) is the address new connections
	// reach the upstream from, as if the client's address had changed; ""
	// is the link's default (the host's choice, 127.0.0.1 on loopback).
	// Open connections keep theirs: DropMappings or Reset them to play what
	// a real address change does to them.
	SourceIP string `json:"source_ip,omitempty"`
}

// Direction is what happens to the bytes going one way.
type Direction struct {
	// Latency delays each chunk by this long after the link read it; the
	// chunks keep their order, so a chunk never overtakes the one before.
	Latency Duration `json:"latency,omitempty"`
	// Jitter spreads each chunk's latency uniformly over Latency±Jitter
	// (never below zero); it must not be larger than Latency.
	Jitter Duration `json:"jitter,omitempty"`
	// Bandwidth caps the bytes per second passed on; 0 is no cap.
	Bandwidth int64 `json:"bandwidth,omitempty"`
}

// IsZero reports whether the faults are a clean link.
func (f Faults) IsZero() bool { return f == Faults{} }

// Validate reports every problem at once, each naming the field and its
// value. clientSide says whether the client-only faults are allowed.
func (f Faults) Validate(clientSide bool) error {
	var errs []error
	for _, d := range []struct {
		name string
		d    Direction
	}{{"up", f.Up}, {"down", f.Down}} {
		errs = append(errs, d.d.validate(d.name))
	}
	if f.SlowClose < 0 {
		errs = append(errs, fmt.Errorf("slow_close: %s is negative; use 0 for none", f.SlowClose))
	}
	if f.SourceIP != "" {
		ip, err := netip.ParseAddr(f.SourceIP)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("source_ip: %q is not an IP address; use e.g. 127.0.0.2", f.SourceIP))
		case !clientSide:
			errs = append(errs, fmt.Errorf("source_ip: %s: only the link in front of the balancer (client side) can change the client's address", ip))
		case ip.Zone() != "":
			errs = append(errs, fmt.Errorf("source_ip: %q has a zone; give a plain address", f.SourceIP))
		}
	}
	return errors.Join(errs...)
}

func (d Direction) validate(name string) error {
	var errs []error
	if d.Latency < 0 {
		errs = append(errs, fmt.Errorf("%s.latency: %s is negative", name, d.Latency))
	}
	if d.Jitter < 0 || d.Jitter > d.Latency {
		errs = append(errs, fmt.Errorf("%s.jitter: %s must be between 0 and the latency (%s)", name, d.Jitter, d.Latency))
	}
	if d.Bandwidth < 0 {
		errs = append(errs, fmt.Errorf("%s.bandwidth: %d bytes/s is negative; use 0 for no cap", name, d.Bandwidth))
	}
	return errors.Join(errs...)
}

// String lists the faults for people, e.g. "up latency 50ms±10ms, black
// hole"; a clean link is "none".
func (f Faults) String() string {
	var parts []string
	for _, d := range []struct {
		name string
		d    Direction
	}{{"up", f.Up}, {"down", f.Down}} {
		if d.d.Latency > 0 {
			s := fmt.Sprintf("%s latency %s", d.name, d.d.Latency)
			if d.d.Jitter > 0 {
				s += "±" + d.d.Jitter.String()
			}
			parts = append(parts, s)
		}
		if d.d.Bandwidth > 0 {
			parts = append(parts, fmt.Sprintf("%s bandwidth %s/s", d.name, FormatBytes(d.d.Bandwidth)))
		}
	}
	if f.BlackHole {
		parts = append(parts, "black hole")
	}
	if f.ResetNew {
		parts = append(parts, "reset new connections")
	}
	if f.SlowClose > 0 {
		parts = append(parts, "slow close "+f.SlowClose.String())
	}
	if f.SourceIP != "" {
		parts = append(parts, "client address "+f.SourceIP)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Duration is a time.Duration written as a Go duration string ("200ms")
// in JSON.
type Duration time.Duration

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string ("200ms"); a bare number is
// refused, since its unit would be a guess.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: write it as a string with a unit, e.g. \"200ms\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
