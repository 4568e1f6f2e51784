package config

import (
	"encoding/json"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the balancer's configuration (SPEC §7). The zero value is valid:
// a listener on 127.0.0.1:8080 with no servers yet. Zero fields take the
// defaults documented on them. Servers left nil means "not given": a reload
// keeps the running servers; an empty, non-nil list is refused.
type Config struct {
	// Profile names a load balancer to behave like (lab profile list): its
	// values fill in what the document leaves out, and its ranges bound
	// what the document may set. "" is the balancer's own defaults.
	Profile     string      `yaml:"profile,omitempty" json:"profile,omitempty"`
	Listener    Listener    `yaml:"listener" json:"listener"`
	ServerGroup ServerGroup `yaml:"server_group" json:"server_group"`
}

// Listener is the front of the balancer.
type Listener struct {
	Addr           string   `yaml:"addr,omitempty" json:"addr,omitempty"`                         // default 127.0.0.1:8080
	IdleTimeout    Duration `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`         // default 60s, 1s-4000s
	HeaderTimeout  Duration `yaml:"header_timeout,omitempty" json:"header_timeout,omitempty"`     // time to send request headers; default 10s
	MaxHeaderBytes int      `yaml:"max_header_bytes,omitempty" json:"max_header_bytes,omitempty"` // default 32768
	// IdleReset is the traffic that restarts the idle timer: both (default),
	// client_to_backend, backend_to_client, or none (no idle timer at all).
	IdleReset string `yaml:"idle_reset,omitempty" json:"idle_reset,omitempty"`
	// ControlFramesReset says whether WebSocket ping/pong frames count as
	// traffic for IdleReset; default true, as for a proxy that does not
	// parse frames.
	ControlFramesReset *bool `yaml:"control_frames_reset,omitempty" json:"control_frames_reset,omitempty"`
	// MaxLifetime ends every tunnel this long after it opened, busy or
	// not (close reason max_lifetime); nil or 0s: no cap.
	MaxLifetime *Duration `yaml:"max_lifetime,omitempty" json:"max_lifetime,omitempty"`
	// Cut is how the idle timeout and max_lifetime end a tunnel, as the
	// client sees it: fin (default: the connection closes, a browser
	// reports 1006), reset (TCP RST, also 1006) or close_frame (a 1001
	// close frame between two frames, then the close).
	Cut string `yaml:"cut,omitempty" json:"cut,omitempty"`
	TLS *TLS   `yaml:"tls,omitempty" json:"tls,omitempty"` // optional HTTPS/WSS listener
}

// TLS is an HTTPS listener carrying WSS.
type TLS struct {
	Addr       string `yaml:"addr" json:"addr"`
	CertFile   string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile    string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	SelfSigned bool   `yaml:"self_signed,omitempty" json:"self_signed,omitempty"` // generate a certificate for localhost at start
}

// ServerGroup is the set of backends and how they are chosen.
type ServerGroup struct {
	Policy              string    `yaml:"policy,omitempty" json:"policy,omitempty"`                             // round_robin (default), least_conn, source_hash
	DeregistrationDelay *Duration `yaml:"deregistration_delay,omitempty" json:"deregistration_delay,omitempty"` // default 300s, 0s-3600s
	// DeregistrationLag is how long a backend that left the rotation (its
	// health checks failed, or it was removed or set to state: drain) still
	// gets new connections: a cloud balancer's nodes learn of the change
	// seconds later and route to it meanwhile. Default 0s (at once),
	// 0s-600s.
	DeregistrationLag Duration `yaml:"deregistration_lag,omitempty" json:"deregistration_lag,omitempty"`
	Drain             Drain    `yaml:"drain,omitempty" json:"drain,omitempty"`
	Retries           *int     `yaml:"retries,omitempty" json:"retries,omitempty"` // other backends tried after a refused dial; default 2
	// LambdaUpgradeStatus is the HTTP status a WebSocket upgrade gets when
	// the backend picked is a server of type lambda (AWS ALB: 400); 0
	// passes it on.
	LambdaUpgradeStatus int         `yaml:"lambda_upgrade_status,omitempty" json:"lambda_upgrade_status,omitempty"`
	HealthCheck         HealthCheck `yaml:"health_check,omitempty" json:"health_check,omitempty"`
	Stickiness          Stickiness  `yaml:"stickiness,omitempty" json:"stickiness,omitempty"`
	Servers             []Server    `yaml:"servers,omitempty" json:"servers,omitempty"` // nil: keep the running ones
}

// Stickiness pins a client's requests and upgrades to one backend, as the
// cloud ALBs' target-group stickiness does. lb_cookie: the balancer sets
// its own cookie (StickyCookie) naming the backend, opaque and signed with
// a key each balancer draws at start. app_cookie: once the application
// sets CookieName, the balancer sets its companion cookie (AppStickyCookie)
// naming the backend that set it, and follows it while the request carries
// both. source_ip: the policy source_hash (client IP), under the name the
// ALBs give it. A cookie that is forged, expired, or names a backend that
// is gone, unhealthy or draining is ignored: the policy picks again and the
// cookie is rewritten.
type Stickiness struct {
	Type       string   `yaml:"type,omitempty" json:"type,omitempty"`               // none (default), lb_cookie, app_cookie, source_ip
	CookieName string   `yaml:"cookie_name,omitempty" json:"cookie_name,omitempty"` // app_cookie: the application's cookie, e.g. io
	Duration   Duration `yaml:"duration,omitempty" json:"duration,omitempty"`       // cookie lifetime; default 24h, 1s-168h (7 days)
}

// Stickiness types (server_group.stickiness.type).
const (
	StickyNone     = "none"
	StickyLBCookie = "lb_cookie"
	StickyApp      = "app_cookie"
	StickySourceIP = "source_ip"
)

// The balancer's own cookies. The *CORS twins carry the same value with
// SameSite=None; Secure, set on the TLS listener only, for pages of
// another origin (as the ALBs' AWSALBCORS).
const (
	StickyCookie        = "WSLABLB"
	StickyCookieCORS    = "WSLABLBCORS"
	AppStickyCookie     = "WSLABAPP"
	AppStickyCookieCORS = "WSLABAPPCORS"
)

// On reports whether the cookie stickiness (lb_cookie or app_cookie) is on.
func (s Stickiness) On() bool { return s.Type == StickyLBCookie || s.Type == StickyApp }

// Drain makes draining WebSocket-aware.
type Drain struct {
	CloseFrame bool     `yaml:"close_frame,omitempty" json:"close_frame,omitempty"` // send 1001 Going Away to the client before closing
	Jitter     Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`           // spread the closes over this window after the delay
	// KeepOpen leaves a drained backend's tunnels open when the delay
	// ends: they close when their ends close them (AWS NLB without
	// "connection termination on deregistration", nginx's old workers).
	KeepOpen bool `yaml:"keep_open,omitempty" json:"keep_open,omitempty"`
}

// HealthCheck is the active health check of every backend. The
// defaults are the cloud ALBs': GET / answered with 200-399.
type HealthCheck struct {
	Disabled           bool     `yaml:"disabled,omitempty" json:"disabled,omitempty"`           // every backend counts as healthy
	Type               string   `yaml:"type,omitempty" json:"type,omitempty"`                   // http (default) or websocket (upgrade + ping)
	Path               string   `yaml:"path,omitempty" json:"path,omitempty"`                   // default /
	Method             string   `yaml:"method,omitempty" json:"method,omitempty"`               // GET (default, as AWS ALB) or HEAD (Alibaba ALB's default)
	SuccessCodes       string   `yaml:"success_codes,omitempty" json:"success_codes,omitempty"` // default 200-399; e.g. "200,204" or "200-299"
	FailOpen           bool     `yaml:"fail_open,omitempty" json:"fail_open,omitempty"`         // every backend unhealthy: route to all of them (AWS ALB) instead of 503
	Interval           Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Timeout            Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	HealthyThreshold   int      `yaml:"healthy_threshold,omitempty" json:"healthy_threshold,omitempty"`
	UnhealthyThreshold int      `yaml:"unhealthy_threshold,omitempty" json:"unhealthy_threshold,omitempty"`
}

// Server is one backend.
type Server struct {
	Name   string `yaml:"name" json:"name"`
	URL    string `yaml:"url" json:"url"`
	Weight *int   `yaml:"weight,omitempty" json:"weight,omitempty"` // default 1; 0 takes no new connections
	State  string `yaml:"state,omitempty" json:"state,omitempty"`   // "" or active; drain
	Type   string `yaml:"type,omitempty" json:"type,omitempty"`     // "" or instance; lambda (see lambda_upgrade_status)
}

// Policies.
const (
	RoundRobin = "round_robin"
	LeastConn  = "least_conn"
	SourceHash = "source_hash"
)

// Idle reset rules (listener.idle_reset).
const (
	IdleResetBoth            = "both"
	IdleResetClientToBackend = "client_to_backend"
	IdleResetBackendToClient = "backend_to_client"
	IdleResetNone            = "none"
)

// Cuts (listener.cut).
const (
	CutFIN        = "fin"
	CutReset      = "reset"
	CutCloseFrame = "close_frame"
)

// Defaults.
const (
	DefaultAddr                = "127.0.0.1:8080"
	DefaultIdleTimeout         = 60 * time.Second
	DefaultHeaderTimeout       = 10 * time.Second
	DefaultMaxHeaderBytes      = 32 << 10
	DefaultDeregistrationDelay = 300 * time.Second
	DefaultRetries             = 2
	DefaultHealthPath          = "/"
	DefaultHealthMethod        = "GET"
	DefaultSuccessCodes        = "200-399"
	DefaultHealthInterval      = 2 * time.Second
	DefaultHealthTimeout       = 5 * time.Second
	DefaultHealthyThreshold    = 3
	DefaultUnhealthyThreshold  = 3
	DefaultStickyDuration      = 24 * time.Hour // the cloud ALBs' default: one day
)

// WithDefaults returns a copy of c with every zero field defaulted. The
// caller's config, slices included, is never written.
func (c Config) WithDefaults() Config {
	l := &c.Listener
	l.Addr = or(l.Addr, DefaultAddr)
	l.IdleTimeout = or(l.IdleTimeout, Duration(DefaultIdleTimeout))
	l.HeaderTimeout = or(l.HeaderTimeout, Duration(DefaultHeaderTimeout))
	l.MaxHeaderBytes = or(l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	l.IdleReset = or(l.IdleReset, IdleResetBoth)
	if l.ControlFramesReset == nil {
		yes := true
		l.ControlFramesReset = &yes
	}
	if l.MaxLifetime == nil {
		var none Duration
		l.MaxLifetime = &none
	}
	l.Cut = or(l.Cut, CutFIN)
	g := &c.ServerGroup
	st := &g.Stickiness
	st.Type = or(st.Type, StickyNone)
	if st.Type == StickySourceIP {
		g.Policy = or(g.Policy, SourceHash) // the same rule under its ALB name
	}
	if st.On() {
		st.Duration = or(st.Duration, Duration(DefaultStickyDuration))
	}
	g.Policy = or(g.Policy, RoundRobin)
	if g.DeregistrationDelay == nil {
		d := Duration(DefaultDeregistrationDelay)
		g.DeregistrationDelay = &d
	}
	if g.Retries == nil {
		r := DefaultRetries
		g.Retries = &r
	}
	h := &g.HealthCheck
	h.Type = or(h.Type, "http")
	h.Path = or(h.Path, DefaultHealthPath)
	h.Method = or(h.Method, DefaultHealthMethod)
	h.SuccessCodes = or(h.SuccessCodes, DefaultSuccessCodes)
	h.Interval = or(h.Interval, Duration(DefaultHealthInterval))
	h.Timeout = or(h.Timeout, Duration(DefaultHealthTimeout))
	h.HealthyThreshold = or(h.HealthyThreshold, DefaultHealthyThreshold)
	h.UnhealthyThreshold = or(h.UnhealthyThreshold, DefaultUnhealthyThreshold)
	if g.Servers == nil {
		return c // not given: nil stays nil
	}
	servers := make([]Server, len(g.Servers))
	for i, s := range g.Servers {
		if s.Weight == nil {
			w := 1
			s.Weight = &w
		}
		servers[i] = s
	}
	g.Servers = servers
	return c
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Duration is a time.Duration written as a Go duration string ("60s").
type Duration time.Duration

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML parses "60s", "1m30s", ...
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		// A TypeError lets the decoder go on and report the other problems.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (write it like 60s, 1m30s or 500ms)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON parses a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration string like \"60s\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (write it like 60s, 1m30s or 500ms)", s)
	}
	*d = Duration(v)
	return nil
}

// Marshal writes the config as YAML.
func (c Config) Marshal() []byte {
	b, _ := yaml.Marshal(c)
	return b
}
