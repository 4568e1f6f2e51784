package profiles

import "time"

// measured describes the lab run behind every "observed" value.
const measured = "Measured here on " + ReadDate + " with go run ./profiles/observe: a raw upgrade through the proxy to a backend that answers 101, then counting seconds until the client's read ends (EOF = FIN, ECONNRESET = reset) and recording any bytes received. "

func nginxDefault() Profile {
	none := func(what string) Source { return documented(urlNginxUp, what) }
	return Profile{
		Name:   "nginx-default",
		Title:  "nginx out of the box (proxy_read_timeout and friends left at their defaults)",
		Vendor: "nginx",

		IdleTimeout: v(60*time.Second, observed(urlNginxWS, measured+"nginx 1.22.1, no traffic: the client read EOF at 60.0 s, no Close frame. The doc: \"By default, the connection will be closed if the proxied server does not transmit any data within 60 seconds.\"")),
		IdleRange: v(Range{Min: time.Millisecond},
			documented(urlNginxProxy, "proxy_read_timeout takes any time value (default 60s); there is no upper bound.")),
		IdleResetBy: v(ResetRule{Direction: BothWays, ControlFrames: true},
			observed(urlNginxWS, measured+"One byte from the client every 20 s, backend silent: still open at 100 s. One byte from the backend every 20 s, client silent: still open at 100 s. The doc names backend pings (\"periodically send WebSocket ping frames to reset the timeout\"); nginx does not parse frames, so any byte counts.")),
		MaxLifetime:   v(time.Duration(0), documented(urlNginxProxy, "No directive caps a proxied connection's lifetime.")),
		LifetimeRange: v(Range{}, documented(urlNginxProxy, "No lifetime cap to configure.")),
		Cut:           v(Cut{Kind: FIN}, observed(urlNginxWS, measured+"nginx 1.22.1: the client read EOF with no bytes before it, so no Close frame; a browser reports 1006.")),

		Health: HealthCheck{
			Enabled:      v(false, none("Open-source nginx has passive checks only (max_fails=1, fail_timeout=10s); active health checks are NGINX Plus (ngx_http_upstream_hc_module).")),
			Path:         v("", none("No active checks in open-source nginx.")),
			Method:       v("", none("No active checks in open-source nginx.")),
			SuccessCodes: v("", none("No active checks in open-source nginx.")),
			Interval:     v(time.Duration(0), none("No active checks in open-source nginx.")),
			Timeout:      v(time.Duration(0), none("No active checks in open-source nginx.")),
			Healthy:      v(0, none("No active checks in open-source nginx.")),
			Unhealthy:    v(1, none("Passive: max_fails defaults to 1 failure within fail_timeout (10 s); the server is then skipped for 10 s. A single-server group is never marked down.")),
		},

		DeregistrationDelay: v(Forever,
			observed(urlNginxControl, measured+"nginx 1.22.1, reloaded 8 s into a tunnel carrying a byte every 5 s: the old worker showed \"worker process is shutting down\" and kept the tunnel until the client left 37 s later, then exited. The doc: \"Old worker processes close listen sockets and continue to service old clients\"; worker_shutdown_timeout has no default.")),
		DrainByDefault: v(true, documented(urlNginxControl, "Every reload drains the old workers gracefully.")),
		DrainCut:       v(Cut{Kind: NeverCut}, documented(urlNginxControl, "With worker_shutdown_timeout unset nothing cuts the old workers' connections.")),

		FailOpen:        v(false, observed(urlNginxUp, "Measured here: nginx 1.22.1, an upstream of two servers that refuse connections; every request got 502 and the error log says \"no live upstreams\". It does not route to failed servers.")),
		StickyCookie:    v("", documented(urlNginxUp, "No stickiness unless configured (ip_hash, hash, or sticky in recent versions).")),
		MaxHeaderBytes:  v(8<<10, observed(urlNginxCore, "Measured here: nginx 1.22.1 answered a request with an 8107-byte header line with 200 and one with an 8207-byte line with 400. large_client_header_buffers defaults to 4 buffers of 8k: 8 KiB per line, 32 KiB in all.")),
		FunctionUpgrade: v(FunctionTarget{}, documented(urlNginxUp, "No function targets; upstream servers only.")),
	}
}

func haproxyDefault() Profile {
	conf := func(what string) Source { return documented(urlHAProxyConf, what) }
	hc := conf("Checks run only on servers with the \"check\" keyword; then inter defaults to 2000 ms, rise to 2, fall to 3; option httpchk sends OPTIONS / and accepts 2xx and 3xx.")
	return Profile{
		Name:   "haproxy-default",
		Title:  "HAProxy with no timeouts configured",
		Vendor: "HAProxy",

		IdleTimeout: v(time.Duration(0),
			observed(urlHAProxyConf, measured+"HAProxy 2.6.12, mode http, no timeouts set: no traffic for 100 s, still open. The doc: \"timeout tunnel\" has no default and unset timeouts are infinite (HAProxy warns at start). With the Debian package's \"timeout client 50000\" and \"timeout server 50000\" the idle tunnel ended at 50.0 s with a FIN.")),
		IdleRange:   v(Range{Min: time.Millisecond}, conf("timeout tunnel (or client/server) takes any time value; no upper bound.")),
		IdleResetBy: v(ResetRule{Direction: NoTimer}, observed(urlHAProxyConf, measured+"No timer without timeouts. With client/server timeouts of 50 s, one byte from the client every 20 s kept the tunnel open past 100 s: traffic either way resets them once the connection is a tunnel.")),
		MaxLifetime: v(time.Duration(0), conf("No lifetime cap unless configured.")),
		LifetimeRange: v(Range{},
			conf("No lifetime setting for a single connection.")),
		Cut: v(Cut{Kind: NeverCut}, observed(urlHAProxyConf, measured+"With no timeouts nothing ends the tunnel; with timeouts the client saw a FIN and no Close frame (browser 1006).")),

		Health: HealthCheck{
			Enabled:      v(false, hc),
			Path:         v("/", hc),
			Method:       v("OPTIONS", hc),
			SuccessCodes: v("2xx,3xx", hc),
			Interval:     v(2*time.Second, hc),
			Timeout:      v(2*time.Second, conf("Without \"timeout check\" the check timeout is inter (2 s) once connected.")),
			Healthy:      v(2, hc),
			Unhealthy:    v(3, hc),
		},

		DeregistrationDelay: v(Forever,
			observed(urlHAProxyMgmt, measured+"HAProxy 2.6.12 reloaded with -sf 8 s into a tunnel carrying a byte every 5 s: the old process kept the tunnel until the client left 37 s later, then exited. The doc: the old process serves its connections until they close unless hard-stop-after is set (no default); active connections are not handed over.")),
		DrainByDefault: v(true, documented(urlHAProxyMgmt, "\"set server ... state drain\" and reloads both keep existing connections.")),
		DrainCut:       v(Cut{Kind: NeverCut}, documented(urlHAProxyMgmt, "Nothing cuts them unless hard-stop-after or \"shutdown sessions\" is used.")),

		FailOpen:        v(false, observed(urlHAProxyConf, "Measured here: HAProxy 2.6.12, two servers with \"check\" and nothing listening; every request got 503.")),
		StickyCookie:    v("", conf("No cookie unless the \"cookie\" directive names one.")),
		MaxHeaderBytes:  v(15<<10, observed(urlHAProxyConf, "Measured here: HAProxy 2.6.12 answered a 15000-byte header with 200 and a 15300-byte one with 400: the request must fit in tune.bufsize (16384) minus tune.maxrewrite (1024), 15360 bytes.")),
		FunctionUpgrade: v(FunctionTarget{}, conf("No function targets; servers only.")),
	}
}

func caddyDefault() Profile {
	rp := func(what string) Source { return documented(urlCaddyRP, what) }
	reload := documented(urlCaddyRP, "\"By default, WebSocket connections are forcibly closed (with a Close control message sent to both the client and upstream) when the config is reloaded.\" The code is not on the page; users report 1001 ("+urlCaddy1001+": \"Caddy close the ws with 1001 if you stop/start them\").")
	none := rp("Active health checks run only when health_uri (or health_port) is set; passive checks only when fail_duration is set.")
	return Profile{
		Name:   "caddy-default",
		Title:  "Caddy reverse_proxy out of the box",
		Vendor: "Caddy",

		IdleTimeout:   v(time.Duration(0), rp("Transport read_timeout and write_timeout default to no timeout; a WebSocket tunnel has no idle timer. Caddy is not installed on this machine, so this is not observed.")),
		IdleRange:     v(Range{}, rp("No idle setting applies to the tunnel.")),
		IdleResetBy:   v(ResetRule{Direction: NoTimer}, rp("No idle timer.")),
		MaxLifetime:   v(time.Duration(0), rp("stream_timeout has no default; the docs suggest 24h.")),
		LifetimeRange: v(Range{Min: time.Nanosecond}, rp("stream_timeout takes any duration.")),
		Cut:           v(Cut{Kind: CloseFrame, Code: 1001}, reload),

		Health: HealthCheck{
			Enabled:      v(false, none),
			Path:         v("", none),
			Method:       v("GET", rp("health_method defaults to GET once checks are on.")),
			SuccessCodes: v("200", rp("health_status: \"200 (which is the default), or 2xx\".")),
			Interval:     v(30*time.Second, rp("health_interval defaults to 30s once checks are on.")),
			Timeout:      v(5*time.Second, rp("health_timeout defaults to 5s once checks are on.")),
			Healthy:      v(1, rp("health_passes defaults to 1.")),
			Unhealthy:    v(1, rp("health_fails defaults to 1.")),
		},

		DeregistrationDelay: v(time.Duration(0), rp("Removing an upstream is a config reload; stream_close_delay has no default, so open WebSockets are closed at once.")),
		DrainByDefault:      v(false, rp("No drain: a reload closes the streams immediately unless stream_close_delay is set (the docs suggest 5m).")),
		DrainCut:            v(Cut{Kind: CloseFrame, Code: 1001}, reload),

		FailOpen:        v(false, assumed(urlCaddyRP, "With no available upstream the proxy returns an error (502/503); assumed no fail-open.")),
		StickyCookie:    v("", rp("lb_policy defaults to random; the cookie policy, when chosen, names its cookie \"lb\".")),
		MaxHeaderBytes:  v(1<<20, assumed(urlCaddyRP, "Not on this page; Caddy's server max_header_size follows Go's net/http default of 1 MiB. Assumed.")),
		FunctionUpgrade: v(FunctionTarget{}, rp("No function targets; upstream addresses only.")),
	}
}
