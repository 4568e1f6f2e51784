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
