package proxies

import (
	"fmt"
	"path/filepath"

	"github.com/wslab/wslab/balancer/config"
)

// renderNginx writes an nginx.conf for nginx 1.22 OSS: one worker, every
// path inside site.Dir, errors to stderr (the lab prefixes them).
func renderNginx(c *conf, cfg config.Config, site Site, n *notes) {
	l, g := cfg.Listener, cfg.ServerGroup
	p := c.line
	path := func(name string) string { return filepath.Join(site.Dir, name) }
	p("daemon off;")
	p("worker_processes 1;")
	p("pid %s;", path("nginx.pid"))
	p("error_log stderr warn;")
	if !g.Drain.KeepOpen {
		p("# server_group.deregistration_delay: on a reload, old workers keep their tunnels this long.")
		p("worker_shutdown_timeout %s;", dur(*g.DeregistrationDelay))
	}
	p("events {\n    worker_connections 4096;\n}")
	p("http {")
	p("    access_log off;")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		p("    %s_temp_path %s;", t, path(t+"_temp"))
	}
	p("    client_header_timeout %s;", dur(l.HeaderTimeout))
	if l.MaxHeaderBytes != config.DefaultMaxHeaderBytes {
		p("    large_client_header_buffers 4 %dk;", (l.MaxHeaderBytes+1023)/1024)
		n.warn("listener.max_header_bytes", "%d: nginx limits each header line to %dk (4 buffers), not the head's total", l.MaxHeaderBytes, (l.MaxHeaderBytes+1023)/1024)
	}
	p("    map $http_upgrade $connection_upgrade {\n        default upgrade;\n        ''      close;\n    }")
	nginxUpstream(c, cfg, n)
	nginxServer(c, l.Addr, "", cfg, n)
	if t := l.TLS; t != nil && !t.SelfSigned {
		nginxServer(c, t.Addr, fmt.Sprintf("        ssl_certificate %s;\n        ssl_certificate_key %s;\n", t.CertFile, t.KeyFile), cfg, n)
	}
	p("}")
}

func nginxUpstream(c *conf, cfg config.Config, n *notes) {
	g := cfg.ServerGroup
	h := g.HealthCheck
	c.line("    upstream wslab_nodes {")
	switch g.Policy {
	case config.LeastConn:
		c.line("        least_conn;")
	case config.SourceHash:
		c.line("        hash $remote_addr consistent;")
	}
	switch g.Stickiness.Type {
	case config.StickyLBCookie:
		n.refuse("server_group.stickiness.type", "lb_cookie: nginx 1.22 OSS has no sticky cookie (nginx Plus); use source_ip, or --balancer haproxy or caddy")
	}
	failures := fmt.Sprintf(" max_fails=%d fail_timeout=%s", h.UnhealthyThreshold, dur(config.Duration(h.Interval)*config.Duration(h.HealthyThreshold)))
	if h.Disabled {
		failures = " max_fails=0"
	} else {
		n.warn("server_group.health_check", "nginx OSS has no active health checks; a server is out for %s after %d failed connections (passive: max_fails, fail_timeout)", dur(h.Interval*config.Duration(h.HealthyThreshold)), h.UnhealthyThreshold)
	}
	for _, s := range g.Servers {
		extra := ""
		if drainedOrZero(s) {
			extra = " down"
			n.warn("server_group.servers", "%s: nginx has no weight 0 or drain; the server is marked down (open tunnels stay until a reload's worker_shutdown_timeout)", s.Name)
		} else if *s.Weight != 1 {
			extra = fmt.Sprintf(" weight=%d", *s.Weight)
		}
		c.line("        server %s%s%s; # %s", hostPort(s), extra, failures, s.Name)
	}
	c.line("    }")
}

// nginxServer writes one server block listening on addr; tls is its
// certificate lines, "" for plain HTTP.
func nginxServer(c *conf, addr, tls string, cfg config.Config, n *notes) {
	l, g := cfg.Listener, cfg.ServerGroup
	ssl := ""
	if tls != "" {
		ssl = " ssl"
	}
	fmt.Fprintf(c, "    server {\n        listen %s%s;\n%s", addr, ssl, tls)
	idle := dur(l.IdleTimeout)
	switch l.IdleReset {
	case config.IdleResetNone:
		idle = "24d"
		n.warn("listener.idle_reset", "none: nginx always has a timer; it is set to 24 days")
	case config.IdleResetClientToBackend, config.IdleResetBackendToClient:
		n.warn("listener.idle_reset", "%s: nginx restarts proxy_read_timeout on traffic either way", l.IdleReset)
	}
	fmt.Fprintf(c, `        location / {
            proxy_pass http://wslab_nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            # listener.idle_timeout: a tunnel with no traffic this long is closed.
            proxy_read_timeout %s;
            proxy_send_timeout %s;
            proxy_connect_timeout 5s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries %d;
        }
    }
`, idle, idle, *g.Retries+1)
}
