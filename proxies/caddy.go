package proxies

import (
	"strings"

	"github.com/wslab/wslab/balancer/config"
)

// renderCaddy writes a Caddyfile for Caddy 2.6: no automatic HTTPS, the
// admin API at site's address (the lab reloads through it), data and
// config folders under site.Dir (set by the environment, see Env).
func renderCaddy(c *conf, cfg config.Config, site Site, n *notes) {
	l, g := cfg.Listener, cfg.ServerGroup
	p := c.line
	p("{")
	p("\tadmin %s", site.admin())
	p("\tauto_https off")
	if !g.Drain.KeepOpen {
		p("\t# server_group.deregistration_delay: how long a stop waits for open connections.")
		p("\tgrace_period %s", dur(*g.DeregistrationDelay))
	}
	p("\tservers {")
	p("\t\ttimeouts {\n\t\t\tread_header %s\n\t\t}", dur(l.HeaderTimeout))
	p("\t\tmax_header_size %d", l.MaxHeaderBytes)
	p("\t}")
	p("}")
	p("(wslab_nodes) {")
	caddyProxy(c, cfg, n)
	p("}")
	host, port := listenAddr(l.Addr)
	p("http://:%s {", port)
	if host != "" {
		p("\tbind %s", host)
	}
	p("\timport wslab_nodes")
	p("}")
	if t := l.TLS; t != nil && !t.SelfSigned {
		host, port := listenAddr(t.Addr)
		p("https://:%s {", port)
		if host != "" {
			p("\tbind %s", host)
		}
		p("\ttls %s %s", t.CertFile, t.KeyFile)
		p("\timport wslab_nodes")
		p("}")
	}
	n.warn("reload", "Caddy 2.6 closes every WebSocket on a config reload (stream_close_delay came in Caddy 2.7)")
}

func caddyProxy(c *conf, cfg config.Config, n *notes) {
	l, g := cfg.Listener, cfg.ServerGroup
	h := g.HealthCheck
	p := c.line
	var dials []string
	for _, s := range g.Servers {
		switch {
		case drainedOrZero(s):
			n.warn("server_group.servers", "%s: Caddy 2.6 has no weights; a server with weight 0 or state drain is left out", s.Name)
		case *s.Weight != 1:
			n.refuse("server_group.servers", "%s: weight %d: Caddy 2.6 has no weighted_round_robin (Caddy 2.7); use weight 1, or --balancer nginx or haproxy", s.Name, *s.Weight)
		default:
			dials = append(dials, hostPort(s))
		}
	}
	if len(dials) == 0 {
		n.refuse("server_group.servers", "every server has weight 0 or state drain; Caddy needs one to proxy to")
	}
	p("\treverse_proxy %s {", strings.Join(dials, " "))
	switch {
	case g.Stickiness.Type == config.StickyLBCookie:
		p("\t\tlb_policy cookie %s", config.StickyCookie)
		n.warn("server_group.stickiness.duration", "Caddy's lb cookie lasts for the browser session, not %s", g.Stickiness.Duration)
	case g.Policy == config.LeastConn:
		p("\t\tlb_policy least_conn")
	case g.Policy == config.SourceHash:
		p("\t\tlb_policy ip_hash")
	default:
		p("\t\tlb_policy round_robin")
	}
	p("\t\tlb_retries %d", *g.Retries)
	if !h.Disabled {
		if h.Method != "GET" {
			n.warn("server_group.health_check.method", "%s: Caddy 2.6 checks with GET", h.Method)
		}
		p("\t\thealth_uri %s", h.Path)
		p("\t\thealth_interval %s", dur(h.Interval))
		p("\t\thealth_timeout %s", dur(h.Timeout))
		p("\t\thealth_status %s", caddyStatus(h.SuccessCodes, n))
		if h.HealthyThreshold != 1 || h.UnhealthyThreshold != 1 {
			n.warn("server_group.health_check", "Caddy 2.6 has no health_passes or health_fails: one check decides, not %d (healthy) and %d (unhealthy)", h.HealthyThreshold, h.UnhealthyThreshold)
		}
	}
	switch l.IdleReset {
	case config.IdleResetNone:
		// Caddy has no idle timer unless one is asked for.
	default:
		if l.IdleReset != config.IdleResetBackendToClient {
			n.warn("listener.idle_reset", "%s: Caddy has no idle timer of its own; the lab sets its transport read_timeout, the longest wait for the next read from the server", l.IdleReset)
		}
		p("\t\t# listener.idle_timeout: a tunnel whose server sends nothing this long is closed.")
		p("\t\ttransport http {\n\t\t\tread_timeout %s\n\t\t}", dur(l.IdleTimeout))
	}
	p("\t}")
}

// caddyStatus is the one status or class ("2xx") Caddy 2.6 expects of a
// health check.
func caddyStatus(codes string, n *notes) string {
	cs, err := config.ParseCodes(codes)
	if err == nil && len(cs) == 1 && strings.Count(codes, "-") == 0 {
		return strings.TrimSpace(codes)
	}
	if err == nil && !cs.Match(200) {
		n.warn("server_group.health_check.success_codes", "%q: Caddy 2.6 expects one code or class; it expects 2xx", codes)
		return "2xx"
	}
	if codes != "200-299" {
		n.warn("server_group.health_check.success_codes", "%q: Caddy 2.6 expects one code or class; it expects 2xx", codes)
	}
	return "2xx"
}
