package balancer_test

import (
	"testing"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
)

// Each profile gets the client pattern that shows what sets it apart, run
// through the balancer's tunnel code on a mock clock (balancer.Simulate).
func TestEachProfileTreatsTheClientPatternThatSetsItApartAsItsVendorDoes(t *testing.T) {
	silent := func(life time.Duration) balancer.Pattern {
		return balancer.Pattern{From: "client", Lifetime: life}
	}
	beat := func(every time.Duration, from string, life time.Duration) balancer.Pattern {
		return balancer.Pattern{Heartbeat: every, From: from, MessageBytes: 16, Lifetime: life}
	}
	pings := func(every time.Duration, life time.Duration) balancer.Pattern {
		return balancer.Pattern{Heartbeat: every, From: "client", Ping: true, Lifetime: life}
	}
	survives := balancer.Outcome{Survives: true}
	cut := func(at time.Duration, reason, how string) balancer.Outcome {
		code := 1006
		if how == config.CutCloseFrame {
			code = 1001
		}
		return balancer.Outcome{CutAt: at, Reason: reason, Cut: how, CloseCode: code, Cuts: 1}
	}
	idle, life := balancer.ReasonIdleTimeout, balancer.ReasonMaxLifetime
	tests := []struct {
		profile, what string
		p             balancer.Pattern
		want          balancer.Outcome
	}{
		{"aws-alb", "a client that only sends keeps it open", beat(25*time.Second, "client", 2*time.Hour), survives},
		{"aws-alb", "client pings count", pings(50*time.Second, 2*time.Hour), survives},
		{"aws-alb", "silence is cut at 60 s with a bare FIN", silent(time.Hour), cut(60*time.Second, idle, config.CutFIN)},
		{"ali-alb", "a 90 s heartbeat is too slow for 60 s", beat(90*time.Second, "both", time.Hour), cut(60*time.Second, idle, config.CutFIN)},
		{"gcp-lb", "a busy connection is cut at its 30 s lifetime", beat(5*time.Second, "both", time.Hour), cut(30*time.Second, life, config.CutFIN)},
		{"cloudflare", "a 2 min heartbeat loses to 100 s", beat(2*time.Minute, "backend", time.Hour), cut(100*time.Second, idle, config.CutFIN)},
		{"aws-nlb", "silence is reset at 350 s", silent(time.Hour), cut(350*time.Second, idle, config.CutReset)},
		{"aws-nlb", "a 5 min heartbeat survives", beat(5*time.Minute, "client", 2*time.Hour), survives},
		{"nginx-default", "a backend-only heartbeat keeps it open", beat(50*time.Second, "backend", time.Hour), survives},
		{"nginx-default", "silence is cut at 60 s", silent(time.Hour), cut(60*time.Second, idle, config.CutFIN)},
		{"haproxy-default", "silence for a day is fine", silent(24 * time.Hour), survives},
		{"caddy-default", "silence for a day is fine", silent(24 * time.Hour), survives},
		{"azure-app-gateway", "silence is reset at 4 min", silent(time.Hour), cut(4*time.Minute, idle, config.CutReset)},
		{"heroku", "a 60 s heartbeat loses to 55 s", beat(time.Minute, "both", time.Hour), cut(55*time.Second, idle, config.CutFIN)},
		{"aws-api-gateway", "pings do not count", pings(time.Minute, time.Hour), cut(10*time.Minute, idle, config.CutCloseFrame)},
		{"aws-api-gateway", "messages count, but 2 h is the cap", beat(time.Minute, "client", 3*time.Hour), cut(2*time.Hour, life, config.CutCloseFrame)},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.profile] = true
		t.Run(tt.profile+": "+tt.what, func(t *testing.T) {
			got, err := balancer.Simulate(config.Config{Profile: tt.profile}, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if len(seen) != 11 {
		t.Errorf("got patterns for %d profiles, want all 11", len(seen))
	}
}

func TestSimulateCountsTheCutsOfAClientThatReconnects(t *testing.T) {
	got, err := balancer.Simulate(config.Config{Profile: "gcp-lb"}, balancer.Pattern{From: "client", Lifetime: 10 * time.Minute, Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Cuts != 20 || got.CutAt != 30*time.Second {
		t.Errorf("gcp-lb over 10 min: %d cuts, first at %s; want 20, at 30s", got.Cuts, got.CutAt)
	}
}

func TestSimulateHonoursTheUsersSettingsOverTheProfile(t *testing.T) {
	doc := config.Config{Profile: "aws-alb", Listener: config.Listener{IdleTimeout: config.Duration(10 * time.Minute)}}
	got, err := balancer.Simulate(doc, balancer.Pattern{From: "client", Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got.CutAt != 10*time.Minute {
		t.Errorf("aws-alb with idle_timeout 10m: cut at %s, want 10m0s", got.CutAt)
	}
}
