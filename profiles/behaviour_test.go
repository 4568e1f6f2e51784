package profiles_test

import (
	"testing"
	"time"

	"github.com/wslab/wslab/profiles"
)

// Each profile's test pins the behaviours that set it apart, the ones a
// client pattern runs into first. The values come from the issue (#19) and
// from the sources in the table.
func TestEachProfilePinsTheBehavioursThatSetItApart(t *testing.T) {
	tests := []struct {
		name  string
		check func(t *testing.T, p profiles.Profile)
	}{
		{"aws-alb", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 60*time.Second)
			wantRange(t, p.IdleRange.V, time.Second, 4000*time.Second)
			want(t, "fail open", p.FailOpen.V, true)
			want(t, "lambda upgrade status", p.FunctionUpgrade.V, profiles.FunctionTarget{Kind: "lambda", UpgradeStatus: 400})
			wantDur(t, "deregistration delay", p.DeregistrationDelay.V, 300*time.Second)
			want(t, "health interval", p.Health.Interval.V, 30*time.Second)
			want(t, "reset rule", p.IdleResetBy.V, profiles.ResetRule{Direction: profiles.BothWays, ControlFrames: true})
		}},
		{"ali-alb", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 60*time.Second)
			wantRange(t, p.IdleRange.V, time.Second, 180*time.Second)
			want(t, "drain on by default", p.DrainByDefault.V, false)
			wantDur(t, "drain timeout", p.DeregistrationDelay.V, 300*time.Second)
			want(t, "health method", p.Health.Method.V, "HEAD")
			want(t, "health interval", p.Health.Interval.V, 2*time.Second)
			want(t, "health thresholds", [2]int{p.Health.Healthy.V, p.Health.Unhealthy.V}, [2]int{3, 3})
			want(t, "sticky cookie", p.StickyCookie.V, "SERVERID")
		}},
		{"gcp-lb", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "lifetime cap (backend service timeout)", p.MaxLifetime.V, 30*time.Second)
			wantDur(t, "idle timeout", p.IdleTimeout.V, 0)
			want(t, "traffic does not extend it", p.IdleResetBy.V.Direction, profiles.NoTimer)
		}},
		{"cloudflare", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 100*time.Second)
			want(t, "range (Enterprise only)", p.IdleRange.V, profiles.Range{})
			want(t, "browser code", p.Cut.V.BrowserCode(), 1006)
		}},
		{"aws-nlb", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 350*time.Second)
			wantRange(t, p.IdleRange.V, 60*time.Second, 6000*time.Second)
			want(t, "cut", p.Cut.V.Kind, profiles.Reset)
			want(t, "open connections survive the drain", p.DrainCut.V.Kind, profiles.NeverCut)
			want(t, "fail open", p.FailOpen.V, true)
		}},
		{"nginx-default", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 60*time.Second)
			want(t, "idle timeout status", p.IdleTimeout.Source.Status, profiles.Observed)
			want(t, "cut", p.Cut.V, profiles.Cut{Kind: profiles.FIN})
			wantDur(t, "old workers drain", p.DeregistrationDelay.V, profiles.Forever)
			want(t, "active health checks", p.Health.Enabled.V, false)
		}},
		{"haproxy-default", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 0)
			want(t, "cut", p.Cut.V.Kind, profiles.NeverCut)
			want(t, "health defaults once on", [3]any{p.Health.Interval.V, p.Health.Healthy.V, p.Health.Unhealthy.V}, [3]any{2 * time.Second, 2, 3})
		}},
		{"caddy-default", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 0)
			want(t, "a reload closes with a close frame", p.DrainCut.V, profiles.Cut{Kind: profiles.CloseFrame, Code: 1001})
			wantDur(t, "no drain delay", p.DeregistrationDelay.V, 0)
		}},
		{"azure-app-gateway", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 4*time.Minute)
			want(t, "health codes", p.Health.SuccessCodes.V, "200-399")
			want(t, "drain on by default", p.DrainByDefault.V, false)
		}},
		{"heroku", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 55*time.Second)
			want(t, "reset rule", p.IdleResetBy.V.Direction, profiles.BothWays)
			want(t, "no active health checks", p.Health.Enabled.V, false)
		}},
		{"aws-api-gateway", func(t *testing.T, p profiles.Profile) {
			wantDur(t, "idle timeout", p.IdleTimeout.V, 10*time.Minute)
			wantDur(t, "lifetime cap", p.MaxLifetime.V, 2*time.Hour)
			want(t, "neither can be changed", [2]profiles.Range{p.IdleRange.V, p.LifetimeRange.V}, [2]profiles.Range{})
		}},
	}
	if len(tests) != len(profiles.List()) {
		t.Errorf("got %d profile tests, want one per profile (%d)", len(tests), len(profiles.List()))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := profiles.Get(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}

func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func wantDur(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %s, want %s", what, profiles.Duration(got), profiles.Duration(want))
	}
}

func wantRange(t *testing.T, got profiles.Range, min, max time.Duration) {
	t.Helper()
	if got.Min != min || got.Max != max {
		t.Errorf("configurable range: got %s, want %s-%s", got, profiles.Duration(min), profiles.Duration(max))
	}
}
