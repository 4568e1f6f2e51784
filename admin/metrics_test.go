package admin_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/coder/quartz"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/internal/clocktest"
	"github.com/wslab/wslab/lab"
)

// deadPort is a loopback address nothing listens on.
func deadPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestMetricsTellHealthAndDrainingApart(t *testing.T) {
	clk := quartz.NewMock(t)
	cfg := config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}, ServerGroup: config.ServerGroup{
		Servers: []config.Server{{Name: "dead", URL: "http://" + deadPort(t)}, {Name: "other", URL: "http://" + deadPort(t)}},
	}}
	b := balancertest.Start(t, cfg, balancer.Options{Clock: clk})
	a, err := admin.Start(admin.Config{Addr: "127.0.0.1:0", Balancer: b, Events: events.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	clocktest.CheckRounds(t, clk, b, config.DefaultHealthInterval, config.DefaultUnhealthyThreshold)
	// Put "dead" into drain: it drains, and is still unhealthy.
	doc := b.Document()
	doc.ServerGroup.Servers[0].State = "drain"
	if _, err := b.Reload(doc); err != nil {
		t.Fatal(err)
	}
	st := b.Status()
	var dead balancer.BackendStatus
	for _, be := range st.Backends {
		if be.Name == "dead" {
			dead = be
		}
	}
	if dead.State != "draining" {
		t.Fatalf("status of dead: health %s, draining %v, state %s; want unhealthy, true, draining", "", false, dead.State)
	}
	resp, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) float64 {
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == "dead" {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("%s has no series for backend dead", name)
		return 0
	}
	if h, d := value("wslab_balancer_backend_healthy"), value("wslab_balancer_backend_draining"); h != 0 || d != 1 {
		t.Fatalf("metrics for a draining, unhealthy backend: healthy %v, draining %v; want 0 and 1", h, d)
	}
}

// scrape reads the lab's /metrics: family name → the sum of its series
// with the labels given (none: all of them).
func scrape(t *testing.T, l *lab.Lab) func(name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(l.Admin.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return func(name string, labels ...string) float64 {
		sum := 0.0
	series:
		for _, m := range fams[name].GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				if !found {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
		return sum
	}
}

// Per backend, /metrics has the tunnels closed by reason (adding up to the
// balancer's), the upgrades answered and the time they took.
func TestMetricsBreakClosesDownPerBackendAndTimeTheUpgrades(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 2})
	sub := l.Events.Subscribe(1000)
	defer sub.Close()
	if code, body := call(t, l, "POST", "/api/testers?count=2", "", nil); code != http.StatusOK {
		t.Fatalf("POST /api/testers: got %d %s", code, body)
	}
	waitConns(t, sub, events.ConnOpened, 2)
	if code, body := call(t, l, "DELETE", "/api/testers", "", nil); code != http.StatusOK {
		t.Fatalf("DELETE /api/testers: got %d %s", code, body)
	}
	reasons := waitConns(t, sub, events.ConnClosed, 2)
	m := scrape(t, l)
	for _, r := range reasons {
		if all, per := m("wslab_balancer_tunnels_closed_total", "reason", r), m("wslab_balancer_backend_tunnels_closed_total", "reason", r); per != all || per == 0 {
			t.Errorf("closed %s: got %v over the backends, want the balancer's %v", r, per, all)
		}
	}
	for _, n := range []string{"node-1", "node-2"} {
		if got := m("wslab_balancer_backend_tunnels_closed_total", "backend", n); got != 1 {
			t.Errorf("%s's closed tunnels: got %v, want 1 (round robin)", n, got)
		}
	}
	if got := m("wslab_balancer_backend_upgrades_total"); got != 2 {
		t.Errorf("upgrades: got %v, want 2", got)
	}
	if got := m("wslab_balancer_backend_upgrade_wait_seconds_total"); got <= 0 || got > 10 {
		t.Errorf("time to answer the upgrades: got %vs, want more than 0 (and not absurd)", got)
	}
}
