package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/wslab/wslab/profiles"
)

// A profile (the document's profile:, lab up --profile) is one more layer
// of Compose, just above the balancer's own defaults: the embedder's
// defaults, the document and the flags all win over it. Validate then holds
// the result to the profile's ranges, so that an aws-alb lab cannot be given
// an idle timeout AWS would refuse.

// FromProfile returns the named profile as a balancer config: the values
// Compose puts under the embedder's defaults. What the balancer cannot
// model is left out: sticky cookies and TCP-only health checks (an http
// check of / stands in). A drain that never cuts (AWS NLB by default) and
// a deregistration delay "until the connections end" (nginx's reload)
// become drain.keep_open.
func FromProfile(name string) (Config, error) {
	p, err := profiles.Get(name)
	if err != nil {
		return Config{}, err
	}
	var c Config
	c.Profile = p.Name
	l := &c.Listener
	if p.IdleTimeout.V == 0 || p.IdleResetBy.V.Direction == profiles.NoTimer {
		l.IdleReset = IdleResetNone
	} else {
		l.IdleTimeout = Duration(p.IdleTimeout.V)
		l.IdleReset = string(p.IdleResetBy.V.Direction)
		frames := p.IdleResetBy.V.ControlFrames
		l.ControlFramesReset = &frames
	}
	if p.MaxLifetime.V > 0 {
		d := Duration(p.MaxLifetime.V)
		l.MaxLifetime = &d
	}
	l.Cut = cutOf(p.Cut.V)
	if n := p.MaxHeaderBytes.V; n >= 1024 && n <= 1<<20 {
		l.MaxHeaderBytes = n
	}

	g := &c.ServerGroup
	delay := p.DeregistrationDelay.V
	switch {
	case !p.DrainByDefault.V:
		delay = 0
	case delay == profiles.Forever || delay > maxDeregistrationDelay:
		delay = maxDeregistrationDelay
	}
	g.Drain.KeepOpen = p.DrainCut.V.Kind == profiles.NeverCut || p.DeregistrationDelay.V == profiles.Forever
	d := Duration(delay)
	g.DeregistrationDelay = &d
	g.Drain.CloseFrame = p.DrainCut.V.Kind == profiles.CloseFrame
	if f := p.FunctionUpgrade.V; f.Kind == "lambda" {
		g.LambdaUpgradeStatus = f.UpgradeStatus
	}

	h := &g.HealthCheck
	h.FailOpen = p.FailOpen.V
	if !p.Health.Enabled.V {
		h.Disabled = true
		return c, nil
	}
	if strings.HasPrefix(p.Health.Path.V, "/") {
		h.Path = p.Health.Path.V
	}
	if m := p.Health.Method.V; m == "GET" || m == "HEAD" {
		h.Method = m
	}
	if codes := successCodes(p.Health.SuccessCodes.V); codes != "" {
		h.SuccessCodes = codes
	}
	if i := p.Health.Interval.V; i >= 100*time.Millisecond && i <= 300*time.Second {
		h.Interval = Duration(i)
	}
	if t := p.Health.Timeout.V; t >= time.Millisecond && t <= 120*time.Second {
		h.Timeout = Duration(t)
	}
	if n := p.Health.Healthy.V; n >= 1 && n <= 10 {
		h.HealthyThreshold = n
	}
	if n := p.Health.Unhealthy.V; n >= 1 && n <= 10 {
		h.UnhealthyThreshold = n
	}
	return c, nil
}

// maxDeregistrationDelay is the longest server_group.deregistration_delay.
const maxDeregistrationDelay = 3600 * time.Second

// maxDeregistrationLag is the longest server_group.deregistration_lag: the
// lags reported of cloud balancers are seconds to a couple of minutes.
const maxDeregistrationLag = 600 * time.Second

// cutOf is a profile's cut as listener.cut; a profile that never cuts
// has nothing to cut with, and keeps the default.
func cutOf(c profiles.Cut) string {
	switch c.Kind {
	case profiles.Reset:
		return CutReset
	case profiles.CloseFrame:
		return CutCloseFrame
	case profiles.FIN:
		return CutFIN
	}
	return ""
}

// successCodes writes a profile's success codes as the balancer reads
// them: "2xx,3xx" becomes "200-299,300-399". It returns "" for what the
// balancer does not read.
func successCodes(s string) string {
	var parts []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if len(p) == 3 && strings.HasSuffix(p, "xx") && p[0] >= '1' && p[0] <= '5' {
			p = fmt.Sprintf("%c00-%c99", p[0], p[0])
		}
		parts = append(parts, p)
	}
	out := strings.Join(parts, ",")
	if _, err := ParseCodes(out); err != nil {
		return ""
	}
	return out
}

// profileLayer is what Compose puts under the embedder's defaults: the
// named profile, or nothing for "" or a name Validate will refuse.
func profileLayer(name string) Config {
	if name == "" {
		return Config{}
	}
	c, err := FromProfile(name)
	if err != nil {
		return Config{Profile: name}
	}
	return c
}

// validateProfile holds c (composed, not yet defaulted) to its profile:
// the name must be known, and the idle timeout and lifetime must be in
// the profile's ranges. It reports whether c names a known profile, in
// which case its ranges replace the balancer's own.
func (c Config) validateProfile(ps *problems) (known bool) {
	if c.Profile == "" {
		return false
	}
	p, err := profiles.Get(c.Profile)
	if err != nil {
		ps.add("profile", "%s (lab profile list shows them)", strings.TrimPrefix(err.Error(), "profiles: "))
		return false
	}
	l := c.Listener
	if l.IdleReset != IdleResetNone && l.IdleTimeout != 0 {
		idle := time.Duration(l.IdleTimeout)
		if p.IdleTimeout.V == 0 && p.IdleRange.V == (profiles.Range{}) {
			ps.add("listener.idle_timeout", "%s: %s has no idle timeout to set; remove it, or drop the profile", profiles.Duration(idle), p.Name)
		} else if !inRange(idle, p.IdleTimeout.V, p.IdleRange.V) {
			ps.add("listener.idle_timeout", "%s is outside what %s allows (%s)", profiles.Duration(idle), p.Name, allowed(p.IdleTimeout.V, p.IdleRange.V))
		}
	}
	if l.MaxLifetime != nil {
		life := time.Duration(*l.MaxLifetime)
		if life != p.MaxLifetime.V && !inRange(life, p.MaxLifetime.V, p.LifetimeRange.V) {
			what := "is outside what " + p.Name + " allows (" + allowed(p.MaxLifetime.V, p.LifetimeRange.V) + ")"
			if p.MaxLifetime.V == 0 && p.LifetimeRange.V == (profiles.Range{}) {
				what = "cannot be set: " + p.Name + " has no lifetime cap"
			}
			ps.add("listener.max_lifetime", "%s %s", profiles.Duration(life), what)
		}
	}
	return true
}

func inRange(d, def time.Duration, r profiles.Range) bool {
	if r == (profiles.Range{}) {
		return d == def
	}
	return d >= r.Min && (r.Max == 0 || d <= r.Max)
}

func allowed(def time.Duration, r profiles.Range) string {
	if r == (profiles.Range{}) {
		return "fixed at " + profiles.Duration(def)
	}
	return r.String()
}
