package profiles

import "time"

func aliALB() Profile {
	tutorial := documented(urlAliTutorial, "\"The default timeout period of HTTP listeners is 60 seconds. If ALB does not exchange data with a backend server for 60 seconds, the connection is closed.\" Change it with the listener's Connection Request Timeout.")
	hc := documented(urlAliServerGrp, "CreateServerGroup HealthCheckConfig: HealthCheckInterval default 2 (1-50), HealthCheckTimeout default 5 (1-300), HealthyThreshold default 3 (2-10), UnhealthyThreshold default 3 (2-10), HealthCheckMethod HEAD by default for HTTP and HTTPS.")
	drain := documented(urlAliServerGrp, "ConnectionDrainConfig: ConnectionDrainEnabled false by default; ConnectionDrainTimeout 0-900 s, default 300. Basic ALB instances do not support it.")
	return Profile{
		Name:   "ali-alb",
		Title:  "Alibaba Cloud Application Load Balancer (the seed article's)",
		Vendor: "Alibaba Cloud",

		IdleTimeout: v(60*time.Second, tutorial),
		IdleRange: v(Range{Min: time.Second, Max: 180 * time.Second},
			documented(urlAliListener, "UpdateListenerAttribute RequestTimeout: \"Valid values: 1 to 180\" seconds. The tutorial names this setting as the one that governs WebSocket idleness.")),
		IdleResetBy: v(ResetRule{Direction: BothWays, ControlFrames: true},
			assumed(urlAliTutorial, "The tutorial says ALB closes the connection when it does \"not exchange data\" for 60 s and asks for a keepalive every 60 s; it does not say whether one direction is enough. Assumed: data either way, pings included.")),
		MaxLifetime:   v(time.Duration(0), assumed(urlAliTutorial, "No lifetime cap is documented; the tutorial says configuration changes do not affect existing persistent connections. Assumed none.")),
		LifetimeRange: v(Range{}, assumed(urlAliTutorial, "No lifetime cap, so nothing to configure.")),
		Cut: v(Cut{Kind: FIN},
			assumed(urlAliTutorial, "The tutorial says \"the connection is closed\" without saying how. Assumed: TCP close with no Close frame (browser 1006).")),

		Health: HealthCheck{
			Enabled: v(true, documented(urlAliServerGrp, "\"If the ServerGroupType parameter is set to Instance or Ip, the health check feature is enabled by default.\"")),
			Path:    v("/", assumed(urlAliServerGrp, "HealthCheckPath has no documented default; assumed /.")),
			Method:  v("HEAD", hc),
			SuccessCodes: v("2xx,3xx",
				assumed(urlAliServerGrp, "HealthCheckCodes has no default stated in the API text read; assumed http_2xx and http_3xx, the console's usual preset.")),
			Interval:  v(2*time.Second, hc),
			Timeout:   v(5*time.Second, hc),
			Healthy:   v(3, hc),
			Unhealthy: v(3, hc),
		},

		DeregistrationDelay: v(300*time.Second, drain),
		DrainByDefault:      v(false, drain),
		DrainCut: v(Cut{Kind: FIN},
			documented(urlAliDrainGuide, "\"After the timeout expires, ALB closes the connections to ensure a graceful shutdown.\" How it closes them is not said; assumed TCP close, no Close frame.")),

		FailOpen: v(false, assumed(urlAliDrainGuide, "Not documented what ALB does when every backend fails its health check; assumed it stops forwarding (no fail-open).")),
		StickyCookie: v("SERVERID",
			documented(urlAliServerGrp, "StickySessionType Insert (default when stickiness is on): \"ALB inserts the SERVERID cookie\". Stickiness itself is off by default.")),
		MaxHeaderBytes: v(0, assumed(urlAliTutorial, "Not documented in the pages read.")),
		FunctionUpgrade: v(FunctionTarget{Kind: "fc"},
			assumed(urlAliServerGrp, "Function Compute (Fc) server groups exist; whether they accept a WebSocket upgrade is not documented. Assumed it is passed on.")),
	}
}

func gcpLB() Profile {
	lifetime := documented(urlGCPIngressWS, "\"the websocket connection will be destroyed by the HTTP(S) Load Balancer after 30 seconds, which is the default timeout. Note: this timeout is not an idle timeout - it's a timeout on the connection lifetime.\" (the GCE ingress controller's example; Google's own backend-service page was not in the search store)")
	hc := documented(urlGCPHealth, "gcloud compute http-health-checks create: --check-interval default 5s, --timeout default 5s, --healthy-threshold 2, --unhealthy-threshold 2, --request-path /.")
	return Profile{
		Name:   "gcp-lb",
		Title:  "Google Cloud external Application Load Balancer",
		Vendor: "Google Cloud",

		IdleTimeout: v(time.Duration(0),
			assumed(urlGCPReqDist, "For WebSockets the backend service timeout is a lifetime, \"whether idle or not\"; the 600 s backend keepalive timeout does not apply to WebSockets. Assumed: no separate idle timeout.")),
		IdleRange:   v(Range{}, assumed(urlGCPReqDist, "No separate idle timeout to configure.")),
		IdleResetBy: v(ResetRule{Direction: NoTimer}, assumed(urlGCPIngressWS, "Traffic does not extend the connection: the timeout counts from the upgrade.")),
		MaxLifetime: v(30*time.Second, lifetime),
		LifetimeRange: v(Range{Min: time.Second, Max: 86400 * time.Second},
			documented(urlGCPTimeoutSec, "timeoutSec: \"The default is 30 seconds. The full range of timeout values allowed goes from 1 through 2,147,483,647 seconds.\" Google advises against values above 24 h (86400 s) because GFEs restart for maintenance ("+urlGCPDiag+"); the lab caps the range there.")),
		Cut: v(Cut{Kind: FIN},
			assumed(urlGCPIngressWS, "The page says the connection is \"destroyed\"; how is not documented. Assumed: TCP close with no Close frame (browser 1006).")),

		Health: HealthCheck{
			Enabled:      v(true, documented(urlGCPHealth, "Backend services of an Application Load Balancer require a health check.")),
			Path:         v("/", hc),
			Method:       v("GET", assumed(urlGCPHealth, "The command reference does not name the method; assumed GET.")),
			SuccessCodes: v("200", assumed(urlGCPHealth, "Not on the page read; Google's HTTP health checks expect 200. Assumed 200.")),
			Interval:     v(5*time.Second, hc),
			Timeout:      v(5*time.Second, hc),
			Healthy:      v(2, hc),
			Unhealthy:    v(2, hc),
		},

		DeregistrationDelay: v(time.Duration(0),
			assumed(urlGCPReqDist, "Connection draining timeout is a backend-service setting whose default is not on the pages read; assumed 0 (off).")),
		DrainByDefault: v(false, assumed(urlGCPReqDist, "Assumed off: the draining timeout defaults to 0.")),
		DrainCut:       v(Cut{Kind: FIN}, assumed(urlGCPReqDist, "Not documented; assumed TCP close with no Close frame.")),

		FailOpen:       v(false, assumed(urlGCPReqDist, "Not documented on the pages read for this load balancer; assumed it does not route to unhealthy backends.")),
		StickyCookie:   v("", assumed(urlGCPReqDist, "Session affinity is off by default (NONE); generated-cookie affinity is opt-in.")),
		MaxHeaderBytes: v(0, assumed(urlGCPReqDist, "Not documented in the pages read.")),
		FunctionUpgrade: v(FunctionTarget{Kind: "serverless-neg"},
			assumed(urlGCPReqDist, "Serverless NEGs (Cloud Run) are backends of this load balancer; their WebSocket handling is not documented on the pages read. Assumed the upgrade is passed on, under the same 30 s cap.")),
	}
}

func cloudflare() Profile {
	limits := documented(urlCFLimits, "Between Cloudflare and the origin: \"Proxy Read Timeout | 100 | 524 | Yes\" (configurable for Enterprise customers only).")
	na := func(what string) Source {
		return assumed(urlCFLimits, "Cloudflare's proxy in front of one origin, without the Load Balancing add-on: "+what)
	}
	return Profile{
		Name:   "cloudflare",
		Title:  "Cloudflare proxy (orange cloud) in front of a WebSocket origin",
		Vendor: "Cloudflare",

		IdleTimeout: v(100*time.Second, documented(urlCFLimits, "\"Proxy Read Timeout | 100 | 524 | Yes\". The community thread ("+urlCFCommunity+") confirms WebSockets die \"after exactly 1 minute and 40 seconds\": \"100 seconds is the standard timeout setting. Only ENT users have the option to adjust duration.\"")),
		IdleRange:   v(Range{}, limits),
		IdleResetBy: v(ResetRule{Direction: BothWays, ControlFrames: true},
			assumed(urlCFCommunity, "Not documented which direction counts. The thread's fix was a keepalive the client sends and the server answers. Assumed: data either way, pings included.")),
		MaxLifetime: v(time.Duration(0),
			documented(urlCFRestarts, "No cap, but: \"When Cloudflare releases new code to its global network, we may restart servers, which terminates WebSockets connections.\"")),
		LifetimeRange: v(Range{}, na("no lifetime cap to configure.")),
		Cut: v(Cut{Kind: FIN},
			assumed(urlCFRestarts, "A user reports \"The user gets a standard 1006 error code\" when Cloudflare closes the socket. Assumed: no Close frame.")),

		Health: HealthCheck{
			Enabled:      v(false, na("no active health checks.")),
			Path:         v("", na("no health checks.")),
			Method:       v("", na("no health checks.")),
			SuccessCodes: v("", na("no health checks.")),
			Interval:     v(time.Duration(0), na("no health checks.")),
			Timeout:      v(time.Duration(0), na("no health checks.")),
			Healthy:      v(0, na("no health checks.")),
			Unhealthy:    v(0, na("no health checks.")),
		},

		DeregistrationDelay: v(time.Duration(0), na("one origin, nothing to deregister.")),
		DrainByDefault:      v(false, na("one origin, no draining.")),
		DrainCut:            v(Cut{Kind: NeverCut}, na("one origin, no draining.")),
		FailOpen:            v(false, na("one origin: when it is down the client gets a 52x error page.")),
		StickyCookie:        v("", na("no stickiness without the Load Balancing add-on.")),
		MaxHeaderBytes:      v(0, assumed(urlCFLimits, "Not on the connection-limits page. Not documented in the pages read.")),
		FunctionUpgrade: v(FunctionTarget{Kind: "worker"},
			assumed(urlCFLimits, "Workers accept WebSockets (their runtime docs); not a refused target.")),
	}
}

func azureAppGateway() Profile {
	faq := documented(urlAzureFAQ, "FAQ (zh-cn copy): the frontend VIP \"TCP idle timeout\" defaults to 4 minutes on v1 and v2 SKUs; the sentence on changing it is cut off in the stored copy.")
	probe := documented(urlAzureProbe, "Default probe: HTTP GET to the backend every 30 seconds \"with a 30-second-timeout for each request. A healthy HTTP response has a status code between 200 and 399.\"")
	return Profile{
		Name:   "azure-app-gateway",
		Title:  "Azure Application Gateway (v2)",
		Vendor: "Microsoft Azure",

		IdleTimeout: v(4*time.Minute, faq),
		IdleRange: v(Range{Min: 4 * time.Minute, Max: 30 * time.Minute},
			assumed(urlAzureFAQ, "The stored FAQ is cut off right after \"you can change the v1 and v2 ...\"; assumed the Azure public-IP idle-timeout range of 4-30 minutes.")),
		IdleResetBy: v(ResetRule{Direction: BothWays, ControlFrames: true},
			assumed(urlAzureWS, "After the upgrade the gateway \"sends the data received from the frontend to the backend and vice-versa, without any inspection\"; it is a TCP idle timeout, so assumed any byte either way resets it.")),
		MaxLifetime:   v(time.Duration(0), assumed(urlAzureWS, "No lifetime cap documented; assumed none.")),
		LifetimeRange: v(Range{}, assumed(urlAzureWS, "No lifetime cap, so nothing to configure.")),
		Cut: v(Cut{Kind: Reset},
			assumed(urlAzureGotcha, "Not documented by Microsoft. A third-party report describes \"RST packets originating from the gateway's internal IP\" for idle connections. Assumed TCP reset (browser 1006).")),

		Health: HealthCheck{
			Enabled:      v(true, documented(urlAzureWS, "\"Each backend server must respond to HTTP probes for application gateway to route WebSocket traffic to the server.\"")),
			Path:         v("/", documented(urlAzureProbe, "The default probe requests http://127.0.0.1/ (path /).")),
			Method:       v("GET", probe),
			SuccessCodes: v("200-399", probe),
			Interval:     v(30*time.Second, probe),
			Timeout:      v(30*time.Second, probe),
			Healthy:      v(1, assumed(urlAzureProbe, "An older copy of the page says one successful probe puts a server back; the current defaults table was not in the stored copy. Assumed 1.")),
			Unhealthy:    v(3, assumed(urlAzureProbe, "The default unhealthy threshold is not in the stored copy; assumed 3.")),
		},

		DeregistrationDelay: v(time.Duration(0),
			documented(urlAzureDrain, "Connection draining is set per backend setting: DrainTimeoutInSec \"Acceptable values are from 1 second to 3600 seconds\", with no default; it is off unless enabled.")),
		DrainByDefault: v(false, documented(urlAzureDrain, "Draining must be enabled (-Enabled) on the backend HTTP settings.")),
		DrainCut:       v(Cut{Kind: Reset}, assumed(urlAzureDrain, "Not documented what an open WebSocket sees when the drain time ends; assumed the same reset as the idle timeout.")),

		FailOpen: v(false, assumed(urlAzureProbe, "Not documented on the pages read; assumed requests fail (502) when every backend is unhealthy.")),
		StickyCookie: v("ApplicationGatewayAffinity",
			assumed(urlAzureWS, "Cookie-based affinity is off by default. The name ApplicationGatewayAffinity is the default seen in public Terraform and client code; it is not on the pages read.")),
		MaxHeaderBytes:  v(0, assumed(urlAzureFAQ, "Not documented in the pages read.")),
		FunctionUpgrade: v(FunctionTarget{}, assumed(urlAzureWS, "No function target type; backends are VMs, scale sets, IPs, FQDNs or App Service.")),
	}
}

func heroku() Profile {
	routing := documented(urlHerokuRouting, "\"After the initial response, each byte sent (either from the client or from your app process) resets a rolling 55 second window. If no data is sent during this 55 second window then the connection is terminated.\"")
	na := func(what string) Source {
		return assumed(urlHerokuRouting, "Not documented for the router: "+what)
	}
	return Profile{
		Name:   "heroku",
		Title:  "Heroku router (Common Runtime)",
		Vendor: "Heroku (Salesforce)",

		IdleTimeout: v(55*time.Second, routing),
		IdleRange:   v(Range{}, routing),
		IdleResetBy: v(ResetRule{Direction: BothWays, ControlFrames: true},
			documented(urlHerokuWS, "\"The normal Heroku HTTP routing timeout rules apply to WebSocket connections. Either client or server can prevent the connection from idling by sending an occasional ping packet\"; the routing page counts each byte either way.")),
		MaxLifetime:   v(time.Duration(0), na("no lifetime cap on the routing page; dynos restart at least daily, which ends their connections. Assumed none at the router.")),
		LifetimeRange: v(Range{}, na("no lifetime cap to configure.")),
		Cut:           v(Cut{Kind: FIN}, na("what the client sees when the 55 s window ends. Assumed TCP close with no Close frame (browser 1006).")),

		Health: HealthCheck{
			Enabled:      v(false, na("the router has no active health checks; assumed none.")),
			Path:         v("", na("no health checks.")),
			Method:       v("", na("no health checks.")),
			SuccessCodes: v("", na("no health checks.")),
			Interval:     v(time.Duration(0), na("no health checks.")),
			Timeout:      v(time.Duration(0), na("no health checks.")),
			Healthy:      v(0, na("no health checks.")),
			Unhealthy:    v(0, na("no health checks.")),
		},

		DeregistrationDelay: v(30*time.Second, na("a dyno being stopped gets SIGTERM and 30 s before SIGKILL (seen in public code comments, not on the routing page). Assumed a 30 s drain.")),
		DrainByDefault:      v(true, na("assumed the 30 s SIGTERM grace always applies.")),
		DrainCut:            v(Cut{Kind: FIN}, na("assumed the dyno's connections end with a TCP close when it is killed.")),
		FailOpen:            v(false, na("requests to crashed dynos fail with router errors; assumed no fail-open.")),
		StickyCookie: v("heroku-session-affinity",
			assumed(urlHerokuAffinity, "Session affinity is off by default; when on, \"the Heroku Router will add a cookie to all incoming requests from new clients\". The blog does not print the name; heroku-session-affinity is the name seen in public code.")),
		MaxHeaderBytes:  v(0, na("header limits. Not documented in the pages read.")),
		FunctionUpgrade: v(FunctionTarget{}, na("no function targets; web dynos only.")),
	}
}
