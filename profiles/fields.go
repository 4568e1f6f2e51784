package profiles

import (
	"fmt"
	"strconv"
	"time"
)

// Field is one row of a profile as people read it: the docs table, `lab
// profile show` and its JSON all come from Fields, so they list the same
// values with the same sources.
type Field struct {
	Key    string `json:"key"`   // stable, snake_case, dotted for health checks
	Label  string `json:"label"` // for people
	Value  string `json:"value"`
	Source Source `json:"source"`
}

// Fields lists every field of p in a fixed order.
func (p Profile) Fields() []Field {
	h := p.Health
	return []Field{
		row("idle_timeout", "Idle timeout", Duration(p.IdleTimeout.V), p.IdleTimeout.Source),
		row("idle_range", "Idle timeout a user may set", rangeFor(p.IdleTimeout.V, p.IdleRange.V), p.IdleRange.Source),
		row("idle_reset_by", "Traffic that resets the idle timer", p.IdleResetBy.V.String(), p.IdleResetBy.Source),
		row("max_lifetime", "Maximum connection lifetime", Duration(p.MaxLifetime.V), p.MaxLifetime.Source),
		row("lifetime_range", "Lifetime a user may set", rangeFor(p.MaxLifetime.V, p.LifetimeRange.V), p.LifetimeRange.Source),
		row("cut", "What the client sees when cut", p.Cut.V.String(), p.Cut.Source),
		row("browser_close_code", "Close code a browser reports", closeCode(p.Cut.V), p.Cut.Source),
		row("health.enabled", "Active health checks", onOff(h.Enabled.V), h.Enabled.Source),
		row("health.path", "Health check path", orNone(h.Path.V), h.Path.Source),
		row("health.method", "Health check method", orNone(h.Method.V), h.Method.Source),
		row("health.success_codes", "Health check success codes", orNone(h.SuccessCodes.V), h.SuccessCodes.Source),
		row("health.interval", "Health check interval", Duration(h.Interval.V), h.Interval.Source),
		row("health.timeout", "Health check timeout", Duration(h.Timeout.V), h.Timeout.Source),
		row("health.healthy_threshold", "Passes to turn healthy", count(h.Healthy.V), h.Healthy.Source),
		row("health.unhealthy_threshold", "Failures to turn unhealthy", count(h.Unhealthy.V), h.Unhealthy.Source),
		row("deregistration_delay", "Deregistration delay (drain)", Duration(p.DeregistrationDelay.V), p.DeregistrationDelay.Source),
		row("drain_by_default", "Draining on by default", yesNo(p.DrainByDefault.V), p.DrainByDefault.Source),
		row("drain_cut", "What a connection still open after the drain sees", p.DrainCut.V.String(), p.DrainCut.Source),
		row("fail_open", "Every target unhealthy: route to all (fail open)", yesNo(p.FailOpen.V), p.FailOpen.Source),
		row("sticky_cookie", "Sticky cookie name", orNone(p.StickyCookie.V), p.StickyCookie.Source),
		row("max_header_bytes", "Request header limit", headerBytes(p.MaxHeaderBytes.V), p.MaxHeaderBytes.Source),
		row("function_upgrade", "Upgrade sent to a function target", p.FunctionUpgrade.V.String(), p.FunctionUpgrade.Source),
	}
}

func row(key, label, value string, s Source) Field {
	return Field{Key: key, Label: label, Value: value, Source: s}
}

// Duration renders a profile duration: "none" for 0, "until the
// connections end" for Forever, else whole hours (2h), whole minutes from
// 10 to 59 (10m), or seconds as vendors write them (60s, 300s, 4000s).
func Duration(d time.Duration) string {
	switch {
	case d == 0:
		return "none"
	case d == Forever:
		return "until the connections end"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0 && d >= 10*time.Minute && d < time.Hour:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// String renders the range: "fixed", "any" or "1s-4000s".
func (r Range) String() string {
	switch {
	case r == Range{}:
		return "fixed (cannot be changed)"
	case r.Max == 0 && r.Min <= time.Millisecond:
		return "any value"
	case r.Max == 0:
		return Duration(r.Min) + " and up"
	}
	return Duration(r.Min) + "-" + Duration(r.Max)
}

// String renders the rule for people.
func (r ResetRule) String() string {
	var s string
	switch r.Direction {
	case BothWays:
		s = "a byte either way"
	case ClientToBackend:
		s = "bytes from the client only"
	case BackendToClient:
		s = "bytes from the backend only"
	default:
		return "no idle timer"
	}
	if r.ControlFrames {
		return s + "; ping/pong frames count"
	}
	return s + "; ping/pong frames do not count"
}

// String renders what an upgrade to a function target gets.
func (f FunctionTarget) String() string {
	switch {
	case f.Kind == "":
		return "no function targets"
	case f.UpgradeStatus != 0:
		return fmt.Sprintf("%s target: upgrade refused with HTTP %d", f.Kind, f.UpgradeStatus)
	}
	return f.Kind + " target: upgrade passed on"
}

// rangeFor renders r, the range of a setting whose default is d: a
// zero range of a setting that is off by default means there is nothing to
// set, not that the setting is fixed.
func rangeFor(d time.Duration, r Range) string {
	if d == 0 && r == (Range{}) {
		return "not configurable"
	}
	return r.String()
}

func closeCode(c Cut) string {
	if code := c.BrowserCode(); code != 0 {
		return strconv.Itoa(code)
	}
	return "none (never cut)"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func count(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

func headerBytes(n int) string {
	switch {
	case n == 0:
		return "not documented"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
