package balancer_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/balancertest"
	"github.com/wslab/wslab/balancer/config"
)

// A backend's time to answer an upgrade is in its status: the 101s it
// gave and the time they took, summed, on the balancer's clock.
func TestStatusSumsTheTimeEachBackendTookToAnswerItsUpgrades(t *testing.T) {
	balancertest.FrontDoors(t, func(t *testing.T, door balancer.FrontDoor) {
		clk := quartz.NewMock(t)
		// A backend that takes 300ms of the lab's time to answer.
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			clk.Advance(300 * time.Millisecond).MustWait(r.Context())
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			c.CloseRead(r.Context())
		}))
		t.Cleanup(slow.Close)
		r := start(t, config.Config{ServerGroup: config.ServerGroup{
			Servers: []config.Server{{Name: "slow", URL: slow.URL}}, HealthCheck: noChecks(),
		}}, clk, door)
		for range 2 {
			dialWS(t, r.b.URL())
			r.waitEvent(t, kind(opened))
		}
		be := r.b.Status().Backends[0]
		if be.Upgrades != 2 || time.Duration(be.UpgradeWait) != 600*time.Millisecond {
			t.Fatalf("%s: got %d upgrades in %s, want 2 in 600ms", be.Name, be.Upgrades, be.UpgradeWait)
		}
	})
}
