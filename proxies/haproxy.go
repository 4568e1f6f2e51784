package proxies

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/wslab/wslab/balancer/config"
)

// renderHAProxy writes a haproxy.cfg for HAProxy 2.6 in master-worker
// mode, with its stats socket in site.Dir (show stat; the listeners are
// handed over on a reload).
func renderHAProxy(c *conf, cfg config.Config, site Site, n *notes) {
	l, g := cfg.Listener, cfg.ServerGroup
	p := c.line
	p("global")
	p("    master-worker")
	p("    pidfile %s", filepath.Join(site.Dir, "haproxy.pid"))
	p("    stats socket %s mode 600 level admin expose-fd listeners", StatsSocket(site))
	p("    maxconn 8192")
	if !g.Drain.KeepOpen && *g.DeregistrationDelay > 0 {
		p("    # server_group.deregistration_delay: on a reload, the old worker keeps its tunnels this long.")
		p("    hard-stop-after %s", dur(*g.DeregistrationDelay))
	}
	if l.MaxHeaderBytes != config.DefaultMaxHeaderBytes {
		n.warn("listener.max_header_bytes", "%d: HAProxy's limit is its buffer size (tune.bufsize, 16384 by default), left as is", l.MaxHeaderBytes)
	}
	idle := dur(l.IdleTimeout)
	switch l.IdleReset {
	case config.IdleResetNone:
		idle = "24d"
		n.warn("listener.idle_reset", "none: HAProxy's tunnel timeout is set to 24 days")
	case config.IdleResetClientToBackend, config.IdleResetBackendToClient:
		n.warn("listener.idle_reset", "%s: HAProxy's timeout tunnel restarts on traffic either way", l.IdleReset)
	}
	p("defaults")
	p("    mode http")
	p("    timeout connect 5s")
	p("    timeout http-request %s", dur(l.HeaderTimeout))
	p("    timeout client %s", idle)
	p("    timeout server %s", idle)
	p("    # listener.idle_timeout: an upgraded connection with no traffic either way this long is closed.")
	p("    timeout tunnel %s", idle)
	p("    timeout client-fin 1s")
	p("    retries %d", *g.Retries)
	p("    option redispatch")
	p("frontend wslab")
	p("    bind %s", l.Addr)
	if t := l.TLS; t != nil && !t.SelfSigned {
		p("    # HAProxy reads the key from the certificate file, or from the same name with .key added.")
		p("    bind %s ssl crt %s", t.Addr, t.CertFile)
		if t.KeyFile != t.CertFile+".key" && t.KeyFile != t.CertFile {
			n.warn("listener.tls.key_file", "%q: HAProxy reads the key from cert_file itself or from %q", t.KeyFile, t.CertFile+".key")
		}
	}
	p("    default_backend wslab_nodes")
	haproxyBackend(c, cfg)
}

func haproxyBackend(c *conf, cfg config.Config) {
	g := cfg.ServerGroup
	h := g.HealthCheck
	p := c.line
	p("backend wslab_nodes")
	p("    balance %s", map[string]string{config.RoundRobin: "roundrobin", config.LeastConn: "leastconn", config.SourceHash: "source"}[g.Policy])
	check := ""
	if !h.Disabled {
		p("    option httpchk")
		p("    http-check send meth %s uri %s", h.Method, h.Path)
		p("    http-check expect rstatus %s", statusRegexp(h.SuccessCodes))
		p("    timeout check %s", dur(h.Timeout))
		p("    default-server inter %s rise %d fall %d", dur(h.Interval), h.HealthyThreshold, h.UnhealthyThreshold)
		check = " check"
	}
	st := g.Stickiness
	switch st.Type {
	case config.StickyLBCookie:
		p("    cookie %s insert indirect nocache maxlife %s", config.StickyCookie, dur(st.Duration))
	case config.StickyApp:
		p("    stick-table type string len 128 size 100k expire %s", dur(st.Duration))
		p("    stick store-response res.cook(%s)", st.CookieName)
		p("    stick match req.cook(%s)", st.CookieName)
	}
	for _, s := range g.Servers {
		w := *s.Weight
		if s.State == "drain" {
			w = 0 // in HAProxy, weight 0 takes no new connections: a drain
		}
		cookie := ""
		if st.Type == config.StickyLBCookie {
			cookie = " cookie " + s.Name
		}
		p("    server %s %s weight %d%s%s", s.Name, hostPort(s), w, check, cookie)
	}
}

// StatsSocket is where the HAProxy the lab runs at site answers `show
// stat`.
func StatsSocket(site Site) string { return filepath.Join(site.Dir, "haproxy.sock") }

// statusRegexp turns success codes ("200-399", "200,204") into a regular
// expression HAProxy's rstatus matches.
func statusRegexp(codes string) string {
	cs, err := config.ParseCodes(codes)
	if err != nil {
		return "^[23]"
	}
	var alts []string
	for c := 100; c <= 599; c++ {
		if !cs.Match(c) {
			continue
		}
		if c%100 == 0 && allMatch(cs, c, c+99) {
			alts = append(alts, fmt.Sprintf("%d..", c/100))
			c += 99
			continue
		}
		alts = append(alts, fmt.Sprint(c))
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}

func allMatch(cs config.Codes, lo, hi int) bool {
	for c := lo; c <= hi; c++ {
		if !cs.Match(c) {
			return false
		}
	}
	return true
}
