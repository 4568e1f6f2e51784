package profiles

// Pages the values come from. Every address here was returned by the
// search tool on ReadDate; none is reconstructed from memory.
const (
	// AWS Application Load Balancer.
	urlALBAttributes  = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html"
	urlALBHealth      = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks"
	urlALBHealthSDK   = "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/elasticloadbalancingv2/aws.sdk.kotlin.services.elasticloadbalancingv2.model/-create-target-group-request/-builder/health-check-timeout-seconds.html"
	urlALBTargetGroup = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.md"
	urlALBLambda      = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application//lambda-functions.html"
	urlELBHowItWorks  = "http://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/how-elastic-load-balancing-works.html"
	urlMattermost8929 = "https://github.com/mattermost/docs/issues/8929"
	urlALBTGAttrSDK   = "https://github.com/aws/aws-sdk-js-v3/blob/HEAD/clients/browser/client-elastic-load-balancing-v2-browser/types/_TargetGroupAttribute.ts"

	// AWS Network Load Balancer.
	urlNLBIdle       = "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/update-idle-timeout.html"
	urlNLBListenerAt = "https://docs.aws.amazon.com/ko_kr/elasticloadbalancing/latest/APIReference/API_ListenerAttribute.html"
	urlNLBHealth     = "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html"
	urlNLBFailOpen   = "https://docs.aws.amazon.com/elasticloadbalancing/latest/network/modify-target-group-health-settings.html"
	urlNLBDrainPost  = "https://repost.aws/questions/QURrGtTtajQaK2Zqg2IH5C6w/enabling-disabling-aws-load-balancer-target-nodes-for-maintenance"

	// AWS API Gateway (WebSocket APIs).
	urlAPIGWQuotas  = "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html"
	urlAPIGWHotsock = "https://hotsock.io/docs/connections/keep-alive"

	// Alibaba Cloud ALB.
	urlAliTutorial   = "https://alibabacloud.com/help/en/slb/application-load-balancer/use-cases/alb-uses-websocket-protocol-to-push-information-in-real-time"
	urlAliListener   = "https://github.com/aliyun/alibabacloud-go-sdk/blob/HEAD/alb-20200616/client/update_listener_attribute_request_model.go"
	urlAliServerGrp  = "https://github.com/aliyun/alibabacloud-go-sdk/blob/HEAD/alb-20200616/client/create_server_group_request_model.go"
	urlAliDrainGuide = "https://www.alibabacloud.com/help/en/document_detail/2703421.html"

	// Google Cloud external Application Load Balancer.
	urlGCPIngressWS  = "https://pkg.go.dev/github.com/agau4779/ingress-gce/examples/websocket"
	urlGCPDiag       = "https://gcpdiag.dev/rules/lb/BP/2025_002/index.html"
	urlGCPTimeoutSec = "https://pub.dev/documentation/pulumi_gcp/latest/compute/BackendService/timeoutSec.html"
	urlGCPHealth     = "https://cloud.google.com/sdk/gcloud/reference/compute/http-health-checks/create"
	urlGCPReqDist    = "https://docs.cloud.google.com/load-balancing/docs/https/request-distribution?hl=zh-cn"

	// Cloudflare.
	urlCFLimits    = "https://developers.cloudflare.com/fundamentals/reference/connection-limits"
	urlCFCommunity = "https://community.cloudflare.com/t/cloudflare-websocket-timeout/5865"
	urlCFRestarts  = "https://community.cloudflare.com/t/wss-closing-only-when-proxied-via-cloudflare/302359"

	// Azure Application Gateway.
	urlAzureWS     = "https://learn.microsoft.com/en-us/Azure/application-gateway/application-gateway-websocket"
	urlAzureFAQ    = "https://docs.azure.cn/application-gateway/application-gateway-faq"
	urlAzureProbe  = "https://learn.microsoft.com/en-us/azure/application-gateway/application-gateway-probe-overview"
	urlAzureDrain  = "https://learn.microsoft.com/en-us/powershell/module/az.network/new-azapplicationgatewayconnectiondraining?view=azps-13.3.0"
	urlAzureGotcha = "https://agentbeck.bot/report/74265"

	// Heroku.
	urlHerokuWS       = "https://devcenter.heroku.com/articles/websockets"
	urlHerokuRouting  = "http://devcenter.heroku.com/articles/http-routing"
	urlHerokuAffinity = "https://blog.heroku.com/session-affinity-ga"

	// Local proxies (their documentation sources, read in the repositories).
	urlNginxWS      = "https://github.com/nginx/nginx.org/blob/HEAD/xml/en/docs/http/websocket.xml"
	urlNginxProxy   = "https://github.com/nginx/nginx.org/blob/HEAD/xml/en/docs/http/ngx_http_proxy_module.xml"
	urlNginxUp      = "https://github.com/nginx/nginx.org/blob/HEAD/xml/en/docs/http/ngx_http_upstream_module.xml"
	urlNginxControl = "https://github.com/nginx/nginx.org/blob/HEAD/xml/en/docs/control.xml"
	urlNginxCore    = "https://github.com/nginx/nginx.org/blob/HEAD/xml/en/docs/http/ngx_http_core_module.xml"
	urlHAProxyConf  = "https://github.com/haproxy/haproxy/blob/HEAD/doc/configuration.txt"
	urlHAProxyMgmt  = "https://github.com/haproxy/haproxy/blob/HEAD/doc/management.txt"
	urlCaddyRP      = "https://github.com/caddyserver/website/blob/HEAD/src/docs/markdown/caddyfile/directives/reverse_proxy.md"
	urlCaddy1001    = "https://github.com/lukeed/sockette/issues/70"
)

func documented(url, note string) Source {
	return Source{URL: url, Read: ReadDate, Status: Documented, Note: note}
}

func observed(url, note string) Source {
	return Source{URL: url, Read: ReadDate, Status: Observed, Note: note}
}

func assumed(url, note string) Source {
	return Source{URL: url, Read: ReadDate, Status: Assumed, Note: note}
}

func v[T any](x T, s Source) Value[T] { return Value[T]{V: x, Source: s} }
