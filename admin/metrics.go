package admin

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wslab/wslab/balancer"
)

// collector reads the same snapshot as /api/status at each scrape, so the
// two always agree.
type collector struct{ s *Server }

var (
	descGeneration = prometheus.NewDesc("wslab_balancer_config_generation", "Config generation in force.", nil, nil)
	descActive     = prometheus.NewDesc("wslab_balancer_active_tunnels", "Open WebSocket tunnels per backend.", []string{"backend"}, nil)
	descConns      = prometheus.NewDesc("wslab_balancer_connections_total", "Tunnels and HTTP requests proxied per backend.", []string{"backend"}, nil)
	descBytes      = prometheus.NewDesc("wslab_balancer_bytes_total", "Bytes proxied per backend; direction up is client to backend.", []string{"backend", "direction"}, nil)
	descFailures   = prometheus.NewDesc("wslab_balancer_backend_failures_total", "Refused dials and failed health checks per backend.", []string{"backend"}, nil)
	descHealthy    = prometheus.NewDesc("wslab_balancer_backend_healthy", "1 if the backend passes its health checks.", []string{"backend"}, nil)
	descDraining   = prometheus.NewDesc("wslab_balancer_backend_draining", "1 if the backend is draining.", []string{"backend"}, nil)
	descClosed     = prometheus.NewDesc("wslab_balancer_tunnels_closed_total", "Closed tunnels by reason (idle_timeout, drained, ...).", []string{"reason"}, nil)
	descBeClosed   = prometheus.NewDesc("wslab_balancer_backend_tunnels_closed_total", "Closed tunnels per backend, by reason.", []string{"backend", "reason"}, nil)
	descUpgrades   = prometheus.NewDesc("wslab_balancer_backend_upgrades_total", "WebSocket upgrades a backend answered with 101.", []string{"backend"}, nil)
	descWait       = prometheus.NewDesc("wslab_balancer_backend_upgrade_wait_seconds_total", "Time backends took to answer upgrades with 101, from the request sent, summed; over wslab_balancer_backend_upgrades_total, the mean.", []string{"backend"}, nil)
	descReloads    = prometheus.NewDesc("wslab_balancer_reloads_total", "Config reloads by result.", []string{"result"}, nil)
	descBlocked    = prometheus.NewDesc("wslab_balancer_blocked_writes_total", "Writes that found a peer's socket full (the peer did not keep up), by peer: client or backend.", []string{"peer"}, nil)
	descSticky     = prometheus.NewDesc("wslab_balancer_sticky_total", "Sticky-cookie outcomes: hit (the cookie's backend took it), repick (the cookie was not followed and was rewritten), new (no cookie; one was set).", []string{"outcome"}, nil)
	descSessions   = prometheus.NewDesc("wslab_node_sessions", "Clients in a node's chat room.", []string{"node"}, nil)
	descListening  = prometheus.NewDesc("wslab_node_listening", "1 if the node accepts connections (not killed or stopped).", []string{"node"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGeneration, descActive, descConns, descBytes, descFailures, descHealthy, descDraining, descClosed, descBeClosed, descUpgrades, descWait, descReloads, descBlocked, descSticky, descSessions, descListening} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.snapshot()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	if b := st.Balancer; b != nil {
		ch <- prometheus.MustNewConstMetric(descGeneration, gauge, float64(b.Generation))
		for _, be := range b.Backends {
			ch <- prometheus.MustNewConstMetric(descActive, gauge, float64(be.Active), be.Name)
			ch <- prometheus.MustNewConstMetric(descConns, counter, float64(be.Total), be.Name)
			ch <- prometheus.MustNewConstMetric(descBytes, counter, float64(be.BytesUp), be.Name, "up")
			ch <- prometheus.MustNewConstMetric(descBytes, counter, float64(be.BytesDown), be.Name, "down")
			ch <- prometheus.MustNewConstMetric(descFailures, counter, float64(be.Failures), be.Name)
			ch <- prometheus.MustNewConstMetric(descHealthy, gauge, bool01(be.Health == balancer.Healthy), be.Name)
			ch <- prometheus.MustNewConstMetric(descDraining, gauge, bool01(be.Draining), be.Name)
			for reason, n := range be.Closed {
				ch <- prometheus.MustNewConstMetric(descBeClosed, counter, float64(n), be.Name, reason)
			}
			ch <- prometheus.MustNewConstMetric(descUpgrades, counter, float64(be.Upgrades), be.Name)
			ch <- prometheus.MustNewConstMetric(descWait, counter, time.Duration(be.UpgradeWait).Seconds(), be.Name)
		}
		for reason, n := range b.Closed {
			ch <- prometheus.MustNewConstMetric(descClosed, counter, float64(n), reason)
		}
		for result, n := range b.Reloads {
			ch <- prometheus.MustNewConstMetric(descReloads, counter, float64(n), result)
		}
		ch <- prometheus.MustNewConstMetric(descBlocked, counter, float64(b.BlockedWrites.Client), "client")
		ch <- prometheus.MustNewConstMetric(descBlocked, counter, float64(b.BlockedWrites.Backend), "backend")
		ch <- prometheus.MustNewConstMetric(descSticky, counter, float64(b.Stickiness.Hits), "hit")
		ch <- prometheus.MustNewConstMetric(descSticky, counter, float64(b.Stickiness.Repicks), "repick")
		ch <- prometheus.MustNewConstMetric(descSticky, counter, float64(b.Stickiness.New), "new")
	}
	for _, n := range st.Nodes {
		ch <- prometheus.MustNewConstMetric(descSessions, gauge, float64(n.Sessions), n.Name)
		ch <- prometheus.MustNewConstMetric(descListening, gauge, bool01(n.Listening), n.Name)
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (s *Server) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}
