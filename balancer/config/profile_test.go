package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

func TestAProfileFillsInTheRestOfTheConfig(t *testing.T) {
	c, err := config.FromProfile("aws-alb")
	if err != nil {
		t.Fatal(err)
	}
	g := c.ServerGroup
	if !g.HealthCheck.FailOpen {
		t.Error("aws-alb: fail_open is off, want on (an ALB fails open when every target is unhealthy)")
	}
	if g.LambdaUpgradeStatus != 400 {
		t.Errorf("aws-alb: lambda_upgrade_status %d, want 400", g.LambdaUpgradeStatus)
	}
	if time.Duration(*g.DeregistrationDelay) != 300*time.Second || time.Duration(g.HealthCheck.Interval) != 30*time.Second || g.HealthCheck.HealthyThreshold != 5 {
		t.Errorf("aws-alb: deregistration %s, health interval %s, healthy threshold %d; want 300s, 30s, 5",
			g.DeregistrationDelay, g.HealthCheck.Interval, g.HealthCheck.HealthyThreshold)
	}
	ali, _ := config.FromProfile("ali-alb")
	if h := ali.ServerGroup.HealthCheck; h.Method != "HEAD" || h.SuccessCodes != "200-299,300-399" || time.Duration(*ali.ServerGroup.DeregistrationDelay) != 0 {
		t.Errorf("ali-alb: method %s, codes %s, deregistration %s; want HEAD, 200-299,300-399 and 0s (draining off by default)",
			h.Method, h.SuccessCodes, ali.ServerGroup.DeregistrationDelay)
	}
	caddy, _ := config.FromProfile("caddy-default")
	if !caddy.ServerGroup.Drain.CloseFrame || caddy.Listener.IdleReset != config.IdleResetNone {
		t.Errorf("caddy-default: drain close frame %v, idle reset %q; want a 1001 on reload and no idle timer", caddy.ServerGroup.Drain.CloseFrame, caddy.Listener.IdleReset)
	}
	for _, name := range []string{"aws-alb", "ali-alb", "gcp-lb", "cloudflare", "aws-nlb", "nginx-default", "haproxy-default", "caddy-default", "azure-app-gateway", "heroku", "aws-api-gateway"} {
		c, err := config.FromProfile(name)
		if err != nil {
			t.Fatal(err)
		}
		c.ServerGroup.Servers = []config.Server{{Name: "a", URL: "http://127.0.0.1:9"}}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: its own config does not validate: %v", name, err)
		}
	}
}

func TestAProfileBoundsWhatTheDocumentMaySet(t *testing.T) {
	tests := []struct {
		doc, want string
	}{
		{"profile: aws-alb\nlistener: {idle_timeout: 5000s}\n", "line 2: listener.idle_timeout: 5000s is outside what aws-alb allows (1s-4000s)"},
		{"profile: cloudflare\nlistener: {idle_timeout: 60s}\n", "listener.idle_timeout: 60s is outside what cloudflare allows (fixed at 100s)"},
		{"profile: gcp-lb\nlistener: {idle_timeout: 60s}\n", "gcp-lb has no idle timeout to set"},
		{"profile: aws-api-gateway\nlistener: {max_lifetime: 3h}\n", "listener.max_lifetime: 3h is outside what aws-api-gateway allows (fixed at 2h)"},
		{"profile: aws-alb\nlistener: {max_lifetime: 1h}\n", "cannot be set: aws-alb has no lifetime cap"},
		{"profile: aws-elb\n", `line 1: profile: unknown profile "aws-elb": known profiles: aws-alb, ali-alb`},
		{"profile: AWS-ALB\n", `did you mean "aws-alb"?`},
		{"listener: {idle_reset: upstream, cut: rst}\n", `listener.idle_reset: "upstream" is not both, client_to_backend, backend_to_client or none`},
		{"listener: {cut: rst}\n", `listener.cut: "rst" is not fin, reset or close_frame`},
	}
	for _, tt := range tests {
		_, err := config.Load([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error containing %q", tt.doc, err, tt.want)
		}
	}
	if _, err := config.Load([]byte("profile: aws-alb\nlistener: {idle_timeout: 4000s}\n")); err != nil {
		t.Errorf("aws-alb with its largest idle timeout: %v, want it accepted", err)
	}
}
