package profiles

import "time"

func awsALB() Profile {
	attrs := documented(urlALBAttributes, "\"The connection idle timeout is the period of time an existing client or target connection can remain inactive, with no data being sent or received\"; \"By default, ELB sets the idle timeout value for your load balancer to 60 seconds.\"")
	health := documented(urlALBHealth, "Health check settings table: HealthCheckPath default /, HealthCheckIntervalSeconds 30 (5-300) for instance and ip targets, HealthyThresholdCount 5 (2-10), UnhealthyThresholdCount 2 (2-10), Matcher 200. \"Health checks do not support WebSockets.\"")
	tg := documented(urlALBTargetGroup, "\"By default, Elastic Load Balancing waits 300 seconds before completing the deregistration process\"; the range 0-3600 s is in the ELBv2 API text quoted by the AWS SDKs ("+urlALBTGAttrSDK+").")
	return Profile{
		Name:   "aws-alb",
		Title:  "AWS Application Load Balancer",
		Vendor: "Amazon Web Services",

		IdleTimeout: v(60*time.Second, attrs),
		IdleRange: v(Range{Min: time.Second, Max: 4000 * time.Second},
			documented(urlALBAttributes, "The attribute idle_timeout.timeout_seconds takes 1-4000 seconds (the API text quoted by the AWS SDKs: \"The valid range is 1-4000 seconds. The default is 60 seconds.\")")),
		IdleResetBy: v(ResetRule{Direction: BothWays, ControlFrames: true},
			documented(urlALBAttributes, "Idle means \"no data being sent or received\" on the client or the target connection, so a byte either way resets it; a WebSocket ping is data to the ALB. Only HTTP/2 PING frames are named as not resetting it.")),
		MaxLifetime: v(time.Duration(0),
			assumed(urlALBAttributes, "Not documented for WebSockets: the page's \"HTTP client keepalive duration\" (default 3600 s) is described for HTTP keep-alive connections, not upgraded ones. Assumed: no lifetime cap.")),
		LifetimeRange: v(Range{}, assumed(urlALBAttributes, "No lifetime cap, so nothing to configure.")),
		Cut: v(Cut{Kind: FIN},
			assumed(urlMattermost8929, "AWS does not say what the client sees when the idle timeout fires. Users report the connection simply disappears (the next write times out); assumed: TCP close with no Close frame, so a browser reports 1006.")),

		Health: HealthCheck{
			Enabled:      v(true, documented(urlALBHealth, "Every target group is health-checked; targets must pass one check after registration.")),
			Path:         v("/", health),
			Method:       v("GET", assumed(urlALBHealth, "The page does not name the HTTP method; assumed GET (the lab balancer's default).")),
			SuccessCodes: v("200", health),
			Interval:     v(30*time.Second, health),
			Timeout: v(6*time.Second,
				documented(urlALBHealthSDK, "\"For target groups with a protocol of HTTP, the default is 6 seconds.\" The archived user guide said 5 s for instance and ip targets; the current API text is used.")),
			Healthy:   v(5, health),
			Unhealthy: v(2, health),
		},

		DeregistrationDelay: v(300*time.Second, tg),
		DrainByDefault:      v(true, tg),
		DrainCut: v(Cut{Kind: FIN},
			assumed(urlALBTargetGroup, "The page says the target goes from draining to unused when the delay elapses; it does not say what an open WebSocket sees. Assumed: the connection is closed with no Close frame (browser 1006).")),

		FailOpen: v(true, documented(urlALBHealth, "\"If a target group contains only unhealthy registered targets, the load balancer routes requests to all those targets, regardless of their health status ... the load balancer fails open.\"")),
		StickyCookie: v("AWSALB",
			assumed(urlALBTargetGroup, "Stickiness (lb_cookie) is off by default. The cookie name AWSALB is the one seen in public code and notes; the sticky-sessions section of this page was not read in this session.")),
		MaxHeaderBytes: v(64<<10,
			documented(urlELBHowItWorks, "\"HTTP header limits: The following size limits for Application Load Balancers are hard limits that cannot be changed. HTTP/1.x headers: Request line: 16 K, Single header: 16 K, Whole header: 64 K\" (read in the page's source in the awsdocs repository).")),
		FunctionUpgrade: v(FunctionTarget{Kind: "lambda", UpgradeStatus: 400},
			documented(urlALBLambda, "\"WebSockets are not supported. Upgrade requests are rejected with an HTTP 400 code.\"")),
	}
}

func awsNLB() Profile {
	idle := documented(urlNLBIdle, "\"If no data is sent through the connection by either the client or target for longer than the idle timeout, the connection is closed.\" \"The default idle timeout value for TCP flows is 350 seconds.\" Configurable since 2024; TLS listeners stay at 350 s.")
	health := assumed(urlNLBHealth, "The NLB health-check page read does not show its defaults table; assumed the current ELBv2 API defaults for TCP target groups: interval 30 s, timeout 10 s, 5 healthy and 2 unhealthy checks (the CDK docs say 3 healthy for NLBs).")
	return Profile{
		Name:   "aws-nlb",
		Title:  "AWS Network Load Balancer (TCP listener)",
		Vendor: "Amazon Web Services",

		IdleTimeout: v(350*time.Second, idle),
		IdleRange: v(Range{Min: 60 * time.Second, Max: 6000 * time.Second},
			documented(urlNLBListenerAt, "\"tcp.idle_timeout.seconds - The tcp idle timeout value, in seconds. The valid range is 60-6000 seconds. The default is 350 seconds.\"")),
		IdleResetBy: v(ResetRule{Direction: BothWays, ControlFrames: true},
			documented(urlNLBIdle, "Data from either the client or the target resets it; the NLB does not parse WebSocket frames, so pings count as data.")),
		MaxLifetime:   v(time.Duration(0), assumed(urlNLBIdle, "No connection lifetime is documented for TCP flows; assumed none.")),
		LifetimeRange: v(Range{}, assumed(urlNLBIdle, "No lifetime cap, so nothing to configure.")),
		Cut: v(Cut{Kind: Reset},
			assumed(urlNLBHealth, "The idle page says only that the connection is closed. The health-check page documents that the NLB \"sends a TCP RST for packets received on the client connections\" of an unhealthy target; assumed the same RST for a flow whose state expired (browser 1006).")),

		Health: HealthCheck{
			Enabled:      v(true, documented(urlNLBHealth, "NLBs use active and passive health checks; passive checks cannot be disabled.")),
			Path:         v("", assumed(urlNLBHealth, "TCP health checks by default: no path.")),
			Method:       v("", assumed(urlNLBHealth, "TCP health checks by default: no method.")),
			SuccessCodes: v("", assumed(urlNLBHealth, "TCP health checks by default: a completed TCP handshake passes.")),
			Interval:     v(30*time.Second, health),
			Timeout:      v(10*time.Second, health),
			Healthy:      v(5, health),
			Unhealthy:    v(2, health),
		},

		DeregistrationDelay: v(300*time.Second, documented(urlNLBDrainPost, "\"The Deregistration Delay can be modified from the default value of 300 seconds\" (AWS re:Post answer; the NLB target-group page was not read).")),
		DrainByDefault:      v(true, documented(urlNLBDrainPost, "Deregistering targets drain for the deregistration delay.")),
		DrainCut: v(Cut{Kind: NeverCut},
			documented(urlNLBDrainPost, "\"Connection termination on deregistration\" has to be set to true for the NLB to \"terminate any remaining active connections\" when the delay ends; by default it does not.")),

		FailOpen:       v(true, documented(urlNLBFailOpen, "\"if the load balancer doesn't have enough healthy targets, it automatically sends traffic to all registered targets (fail open).\"")),
		StickyCookie:   v("", documented(urlNLBHealth, "A layer-4 balancer: stickiness is by source IP, there is no cookie.")),
		MaxHeaderBytes: v(0, documented(urlNLBIdle, "Not applicable: the NLB does not read HTTP headers.")),
		FunctionUpgrade: v(FunctionTarget{},
			assumed(urlNLBHealth, "Lambda targets are an ALB feature; an NLB forwards bytes to instances, IPs or an ALB.")),
	}
}

func awsAPIGateway() Profile {
	quotas := documented(urlAPIGWQuotas, "Quota table: \"Connection duration for WebSocket API | 2 hours | No\"; \"Idle Connection Timeout | 10 minutes | No\" (cannot be increased).")
	na := func(what string) Source {
		return documented(urlAPIGWQuotas, "Not applicable: API Gateway owns the WebSocket and invokes integrations per message; "+what)
	}
	return Profile{
		Name:   "aws-api-gateway",
		Title:  "Amazon API Gateway WebSocket API",
		Vendor: "Amazon Web Services",

		IdleTimeout:   v(10*time.Minute, quotas),
		IdleRange:     v(Range{}, quotas),
		IdleResetBy:   v(ResetRule{Direction: BothWays, ControlFrames: false}, assumed(urlAPIGWHotsock, "AWS does not define \"idle\". Hotsock's notes: \"If no messages are sent between the server and client for a 10-minute period, API Gateway closes the connection.\" Assumed: messages either way count, ping/pong control frames do not.")),
		MaxLifetime:   v(2*time.Hour, quotas),
		LifetimeRange: v(Range{}, quotas),
		Cut: v(Cut{Kind: CloseFrame, Code: 1001},
			assumed(urlAPIGWQuotas, "Not documented which close code the client gets at the idle timeout or the 2-hour limit; assumed a Close frame 1001 (going away). The page documents code 1009 only for oversized frames.")),

		Health: HealthCheck{
			Enabled:      v(false, na("there are no targets to health-check.")),
			Path:         v("", na("no health checks.")),
			Method:       v("", na("no health checks.")),
			SuccessCodes: v("", na("no health checks.")),
			Interval:     v(time.Duration(0), na("no health checks.")),
			Timeout:      v(time.Duration(0), na("no health checks.")),
			Healthy:      v(0, na("no health checks.")),
			Unhealthy:    v(0, na("no health checks.")),
		},

		DeregistrationDelay: v(time.Duration(0), na("there are no targets to deregister.")),
		DrainByDefault:      v(false, na("no targets, no draining.")),
		DrainCut:            v(Cut{Kind: NeverCut}, na("no targets, no draining.")),
		FailOpen:            v(false, na("no target health.")),
		StickyCookie:        v("", na("the connection is held by API Gateway, no stickiness.")),
		MaxHeaderBytes: v(0,
			assumed(urlAPIGWQuotas, "No header limit is in the WebSocket quota table (frame size 32 KB and message payload 128 KB are). Not documented.")),
		FunctionUpgrade: v(FunctionTarget{Kind: "lambda"},
			documented(urlAPIGWQuotas, "Lambda and Lambda proxy integrations are supported (integration timeout 50 ms - 29 s); the upgrade is accepted by API Gateway itself.")),
	}
}
