package proxies

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

// Kind names a proxy the lab can run in its balancer's place.
type Kind string

// The proxies.
const (
	Nginx   Kind = "nginx"
	HAProxy Kind = "haproxy"
	Caddy   Kind = "caddy"
)

// Kinds lists the proxies, in the order the lab's help names them.
func Kinds() []Kind { return []Kind{Nginx, HAProxy, Caddy} }

// ParseKind reads a proxy's name.
func ParseKind(name string) (Kind, error) {
	k := Kind(strings.ToLower(name))
	if slices.Contains(Kinds(), k) {
		return k, nil
	}
	return "", fmt.Errorf("proxies: %q is not nginx, haproxy or caddy", name)
}

// Site is where a proxy runs: its own folder and, for Caddy, its admin
// API. Nothing outside Dir is written.
type Site struct {
	// Dir holds the proxy's pid file, temp paths, sockets, log and data
	// folders. It must exist.
	Dir string
	// AdminAddr is Caddy's admin API (host:port), the way the lab reloads
	// it; default 127.0.0.1:2019, Caddy's own.
	AdminAddr string
}

func (s Site) admin() string {
	if s.AdminAddr == "" {
		return "127.0.0.1:2019"
	}
	return s.AdminAddr
}

// Warning is a setting the proxy cannot express exactly: the config does
// what the proxy can, and the warning says what differs.
type Warning struct {
	Kind  Kind
	Field string // the balancer config's field, dotted
	Msg   string
}

func (w Warning) String() string { return fmt.Sprintf("%s: %s: %s", w.Kind, w.Field, w.Msg) }

// Unsupported is a setting the proxy cannot express at all, refused
// because running without it would mislead.
type Unsupported struct {
	Kind  Kind
	Field string
	Msg   string
}

func (e *Unsupported) Error() string { return fmt.Sprintf("%s: %s: %s", e.Kind, e.Field, e.Msg) }

// Render writes kind's config for cfg, the lab's balancer config with its
// servers, to run at site. cfg is defaulted and validated first. The
// error joins every refusal (*Unsupported) at once.
func Render(kind Kind, cfg config.Config, site Site) (string, []Warning, error) {
	if err := cfg.Validate(); err != nil {
		return "", nil, err
	}
	cfg = cfg.WithDefaults()
	if len(cfg.ServerGroup.Servers) == 0 {
		return "", nil, fmt.Errorf("%s: server_group.servers: the config lists no servers; a proxy needs at least one", kind)
	}
	n := &notes{kind: kind}
	n.common(cfg)
	// Every file says first what wrote it, in the one comment syntax the
	// three share.
	c := &conf{}
	c.line("# %s written by wslab from the lab's balancer config.", map[Kind]string{Nginx: "nginx config", HAProxy: "HAProxy config", Caddy: "Caddyfile"}[kind])
	switch kind {
	case Nginx:
		renderNginx(c, cfg, site, n)
	case HAProxy:
		renderHAProxy(c, cfg, site, n)
	case Caddy:
		renderCaddy(c, cfg, site, n)
	default:
		return "", nil, fmt.Errorf("proxies: %q is not nginx, haproxy or caddy", kind)
	}
	if len(n.refused) > 0 {
		return "", n.warns, errors.Join(n.refused...)
	}
	return c.String(), n.warns, nil
}

// conf is a proxy's config file being written.
type conf struct{ strings.Builder }

// line writes format with args, then a newline.
func (c *conf) line(format string, args ...any) { fmt.Fprintf(c, format+"\n", args...) }

// notes gathers what a renderer could not express.
type notes struct {
	kind    Kind
	warns   []Warning
	refused []error
}

func (n *notes) warn(field, format string, args ...any) {
	n.warns = append(n.warns, Warning{Kind: n.kind, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (n *notes) refuse(field, format string, args ...any) {
	n.refused = append(n.refused, &Unsupported{Kind: n.kind, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// common notes what none of the three proxies can express.
func (n *notes) common(cfg config.Config) {
	l, g := cfg.Listener, cfg.ServerGroup
	if d := *l.MaxLifetime; d != 0 && n.kind != Caddy {
		n.refuse("listener.max_lifetime", "%s: %s has no cap on a tunnel's lifetime; remove max_lifetime or run the built-in balancer (--balancer wslab)", d, n.kind)
	}
	if d := *l.MaxLifetime; d != 0 && n.kind == Caddy {
		n.refuse("listener.max_lifetime", "%s: Caddy 2.6 predates stream_timeout (Caddy 2.7); remove max_lifetime or run the built-in balancer (--balancer wslab)", d)
	}
	if l.Cut != config.CutFIN {
		n.warn("listener.cut", "%q: %s ends an idle tunnel by closing its connections (fin), with no close frame or reset of its choosing", l.Cut, n.kind)
	}
	if !*l.ControlFramesReset {
		n.warn("listener.control_frames_reset", "false: %s does not read WebSocket frames; pings and pongs restart its timer like any byte", n.kind)
	}
	if t := l.TLS; t != nil && t.SelfSigned {
		n.refuse("listener.tls.self_signed", "the built-in balancer makes its own certificate, %s needs files; set cert_file and key_file", n.kind)
	}
	if g.Drain.CloseFrame || g.Drain.Jitter != 0 {
		n.warn("server_group.drain", "%s cannot send a 1001 close frame or spread the closes over a jitter window; a drained tunnel is cut", n.kind)
	}
	if g.LambdaUpgradeStatus != 0 {
		n.warn("server_group.lambda_upgrade_status", "%s has no lambda servers; every server is proxied as an instance", n.kind)
	}
	if g.HealthCheck.Type == "websocket" {
		n.warn("server_group.health_check.type", "websocket: %s checks over HTTP only; it sends %s %s", n.kind, g.HealthCheck.Method, g.HealthCheck.Path)
	}
	if g.HealthCheck.FailOpen {
		n.warn("server_group.health_check.fail_open", "%s answers 503 when every server is down; it does not fail open", n.kind)
	}
	if g.Stickiness.Type == config.StickyApp && n.kind != HAProxy {
		n.refuse("server_group.stickiness.type", "app_cookie: %s cannot follow an application's cookie; use source_ip, or --balancer haproxy", n.kind)
	}
}

// hostPort is a server URL's host:port.
func hostPort(s config.Server) string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return s.URL
	}
	return u.Host
}

// listenAddr splits the listener's address; an empty host is every
// interface.
func listenAddr(addr string) (host, port string) {
	host, port, _ = net.SplitHostPort(addr)
	return host, port
}

// dur writes d in whole milliseconds with a unit all three proxies read
// ("60s", "1500ms").
func dur(d config.Duration) string {
	t := time.Duration(d)
	if t%time.Second == 0 {
		return fmt.Sprintf("%ds", t/time.Second)
	}
	return fmt.Sprintf("%dms", t.Milliseconds())
}

// drainedOrZero is whether a server takes no new connections: weight 0
// or state drain.
func drainedOrZero(s config.Server) bool { return *s.Weight == 0 || s.State == "drain" }

// quote writes s as a double-quoted string for nginx and HAProxy.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// Status is what the lab shows of a proxy it runs: the config it wrote
// and, where the proxy exposes them, the proxy's own figures.
type Status struct {
	Kind        Kind          `json:"kind"`
	Version     string        `json:"version,omitempty"` // as the program says it (nginx -v); "" when it would not say
	URL         string        `json:"url"`
	PID         int           `json:"pid"`
	Config      string        `json:"config"` // the file the proxy reads
	Own         bool          `json:"own"`    // the user's own config (--balancer-config)
	Generation  uint64        `json:"generation"`
	Policy      string        `json:"policy,omitempty"`
	IdleTimeout time.Duration `json:"idle_timeout,omitempty"`
	Warnings    []string      `json:"warnings,omitempty"`
	// Servers is the proxy's own view of its servers (HAProxy's show
	// stat); nil where it exposes none, and Figures says why.
	Servers []ServerStat `json:"servers,omitempty"`
	Figures string       `json:"figures,omitempty"`
}

// Summary is the one-line description of a config, as the built-in
// balancer's config.applied events word it.
func Summary(cfg config.Config) string {
	cfg = cfg.WithDefaults()
	var names []string
	for _, s := range cfg.ServerGroup.Servers {
		names = append(names, s.Name)
	}
	idle := "idle timeout " + time.Duration(cfg.Listener.IdleTimeout).String()
	if cfg.Listener.IdleReset == config.IdleResetNone {
		idle = "no idle timeout"
	}
	return fmt.Sprintf("listener %s, policy %s, %s, servers [%s]", cfg.Listener.Addr, cfg.ServerGroup.Policy, idle, strings.Join(names, " "))
}
