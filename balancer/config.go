package balancer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the balancer's configuration (SPEC §7). The zero value is valid:
// a listener on 127.0.0.1:8080 with an empty server group. Zero fields take
// the defaults documented on them.
type Config struct {
	Listener    ListenerConfig    `yaml:"listener" json:"listener"`
	ServerGroup ServerGroupConfig `yaml:"server_group" json:"server_group"`
}

// ListenerConfig is the front of the balancer.
type ListenerConfig struct {
	Addr           string     `yaml:"addr,omitempty" json:"addr,omitempty"`                         // default 127.0.0.1:8080
	IdleTimeout    Duration   `yaml:"idle_timeout,omitempty" json:"idle_timeout,omitempty"`         // default 60s, 1s-4000s
	HeaderTimeout  Duration   `yaml:"header_timeout,omitempty" json:"header_timeout,omitempty"`     // time to send request headers; default 10s
	MaxHeaderBytes int        `yaml:"max_header_bytes,omitempty" json:"max_header_bytes,omitempty"` // default 32768
	TLS            *TLSConfig `yaml:"tls,omitempty" json:"tls,omitempty"`                           // optional HTTPS/WSS listener
}

// TLSConfig is an HTTPS listener carrying WSS.
type TLSConfig struct {
	Addr       string `yaml:"addr" json:"addr"`
	CertFile   string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile    string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	SelfSigned bool   `yaml:"self_signed,omitempty" json:"self_signed,omitempty"` // generate a certificate for localhost at start
}

// ServerGroupConfig is the set of backends and how they are chosen.
type ServerGroupConfig struct {
	Policy              string            `yaml:"policy,omitempty" json:"policy,omitempty"`                             // round_robin (default), least_conn, source_hash
	DeregistrationDelay *Duration         `yaml:"deregistration_delay,omitempty" json:"deregistration_delay,omitempty"` // default 300s, 0s-3600s
	Drain               DrainConfig       `yaml:"drain,omitempty" json:"drain,omitempty"`
	Retries             *int              `yaml:"retries,omitempty" json:"retries,omitempty"` // other backends tried after a refused dial; default 2
	HealthCheck         HealthCheckConfig `yaml:"health_check,omitempty" json:"health_check,omitempty"`
	Servers             []ServerConfig    `yaml:"servers" json:"servers"`
}

// DrainConfig makes draining WebSocket-aware.
type DrainConfig struct {
	CloseFrame bool     `yaml:"close_frame,omitempty" json:"close_frame,omitempty"` // send 1001 Going Away to the client before closing
	Jitter     Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`           // spread the closes over this window after the delay
}

// HealthCheckConfig is the active health check of every backend.
type HealthCheckConfig struct {
	Disabled           bool     `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	Type               string   `yaml:"type,omitempty" json:"type,omitempty"` // http (default) or websocket (upgrade + ping)
	Path               string   `yaml:"path,omitempty" json:"path,omitempty"` // default /healthz
	Interval           Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Timeout            Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	HealthyThreshold   int      `yaml:"healthy_threshold,omitempty" json:"healthy_threshold,omitempty"`
	UnhealthyThreshold int      `yaml:"unhealthy_threshold,omitempty" json:"unhealthy_threshold,omitempty"`
}

// ServerConfig is one backend.
type ServerConfig struct {
	Name   string `yaml:"name" json:"name"`
	URL    string `yaml:"url" json:"url"`
	Weight *int   `yaml:"weight,omitempty" json:"weight,omitempty"` // default 1; 0 takes no new connections
	State  string `yaml:"state,omitempty" json:"state,omitempty"`   // "" or active; drain
}

// Policies.
const (
	RoundRobin = "round_robin"
	LeastConn  = "least_conn"
	SourceHash = "source_hash"
)

// Defaults.
const (
	DefaultAddr                = "127.0.0.1:8080"
	DefaultIdleTimeout         = 60 * time.Second
	DefaultHeaderTimeout       = 10 * time.Second
	DefaultMaxHeaderBytes      = 32 << 10
	DefaultDeregistrationDelay = 300 * time.Second
	DefaultRetries             = 2
	DefaultHealthPath          = "/healthz"
	DefaultHealthInterval      = 2 * time.Second
	DefaultHealthTimeout       = 5 * time.Second
	DefaultHealthyThreshold    = 3
	DefaultUnhealthyThreshold  = 3
)

// withDefaults returns a copy of c with every zero field defaulted. The
// caller's config, slices included, is never written.
func (c Config) withDefaults() Config {
	l := &c.Listener
	l.Addr = or(l.Addr, DefaultAddr)
	l.IdleTimeout = or(l.IdleTimeout, Duration(DefaultIdleTimeout))
	l.HeaderTimeout = or(l.HeaderTimeout, Duration(DefaultHeaderTimeout))
	l.MaxHeaderBytes = or(l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	g := &c.ServerGroup
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
	h.Interval = or(h.Interval, Duration(DefaultHealthInterval))
	h.Timeout = or(h.Timeout, Duration(DefaultHealthTimeout))
	h.HealthyThreshold = or(h.HealthyThreshold, DefaultHealthyThreshold)
	h.UnhealthyThreshold = or(h.UnhealthyThreshold, DefaultUnhealthyThreshold)
	servers := make([]ServerConfig, len(g.Servers))
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

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Validate reports every problem at once, each naming the field and quoting
// the bad value.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	l := c.Listener
	if err := checkAddr(l.Addr); err != nil {
		bad("listener.addr", "%q %v", l.Addr, err)
	}
	durationIn(bad, "listener.idle_timeout", l.IdleTimeout, time.Second, 4000*time.Second)
	durationIn(bad, "listener.header_timeout", l.HeaderTimeout, time.Millisecond, 5*time.Minute)
	if l.MaxHeaderBytes < 1024 || l.MaxHeaderBytes > 1<<20 {
		bad("listener.max_header_bytes", "%d is out of range 1024-1048576", l.MaxHeaderBytes)
	}
	if t := l.TLS; t != nil {
		if err := checkAddr(t.Addr); err != nil {
			bad("listener.tls.addr", "%q %v", t.Addr, err)
		}
		if !t.SelfSigned && (t.CertFile == "" || t.KeyFile == "") {
			bad("listener.tls", "set cert_file and key_file, or self_signed: true")
		}
	}
	g := c.ServerGroup
	switch g.Policy {
	case RoundRobin, LeastConn, SourceHash:
	default:
		bad("server_group.policy", "%q is not round_robin, least_conn or source_hash", g.Policy)
	}
	durationIn(bad, "server_group.deregistration_delay", *g.DeregistrationDelay, 0, 3600*time.Second)
	durationIn(bad, "server_group.drain.jitter", g.Drain.Jitter, 0, 3600*time.Second)
	if r := *g.Retries; r < 0 || r > 10 {
		bad("server_group.retries", "%d is out of range 0-10", r)
	}
	errs = append(errs, g.HealthCheck.validate()...)
	seen := map[string]int{}
	for i, s := range g.Servers {
		f := fmt.Sprintf("server_group.servers[%d]", i)
		if !nameRE.MatchString(s.Name) {
			bad(f+".name", "%q must be 1-63 letters, digits, '.', '_' or '-'", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			bad(f+".name", "%q is already the name of servers[%d]", s.Name, j)
		} else {
			seen[s.Name] = i
		}
		if _, err := parseServerURL(s.URL); err != nil {
			bad(f+".url", "%q %v", s.URL, err)
		}
		if w := *s.Weight; w < 0 || w > 1000 {
			bad(f+".weight", "%d is out of range 0-1000", w)
		}
		if s.State != "" && s.State != "active" && s.State != "drain" {
			bad(f+".state", "%q is not active or drain", s.State)
		}
	}
	return errors.Join(errs...)
}

func (h HealthCheckConfig) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("server_group.health_check.%s: "+format, append([]any{field}, args...)...))
	}
	if h.Type != "http" && h.Type != "websocket" {
		bad("type", "%q is not http or websocket", h.Type)
	}
	if !strings.HasPrefix(h.Path, "/") {
		bad("path", "%q must start with /", h.Path)
	}
	durationIn(bad, "interval", h.Interval, 100*time.Millisecond, 300*time.Second)
	durationIn(bad, "timeout", h.Timeout, time.Millisecond, 120*time.Second)
	for _, t := range []struct {
		name string
		v    int
	}{{"healthy_threshold", h.HealthyThreshold}, {"unhealthy_threshold", h.UnhealthyThreshold}} {
		if t.v < 1 || t.v > 10 {
			bad(t.name, "%d is out of range 1-10", t.v)
		}
	}
	return errs
}

func durationIn(bad func(string, string, ...any), field string, d Duration, lo, hi time.Duration) {
	if time.Duration(d) < lo || time.Duration(d) > hi {
		bad(field, "%s is out of range %s-%s", time.Duration(d), lo, hi)
	}
}

func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return errors.New("has no valid port")
	}
	return nil
}

// parseServerURL accepts http://host:port[/] URLs.
func parseServerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, errors.New("is not a URL like http://127.0.0.1:9001")
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("has scheme %q; backends are reached over http://", u.Scheme)
	}
	if u.Port() == "" {
		return nil, errors.New("has no port")
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, errors.New("must not have a path or query")
	}
	return u, nil
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

var unknownFieldRE = regexp.MustCompile(`field (\S+) not found in type \S+`)

// ParseConfig reads a YAML (or JSON) config. Unknown fields and values of
// the wrong type are errors, each with its line, so that a typo is never
// silently ignored. After such field errors the rest of the file is still
// decoded and returned with the error, so that Validate can report its
// problems too (LoadConfig does both). After a syntax error nothing is.
// The result is not validated: call Validate.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	if err == nil || errors.Is(err, io.EOF) {
		return c, nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Config{}, &SyntaxError{msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	errs := make([]error, len(te.Errors))
	for i, e := range te.Errors {
		errs[i] = errors.New(unknownFieldRE.ReplaceAllString(e, "unknown field $1"))
	}
	return c, errors.Join(errs...)
}

// SyntaxError is a config that is not YAML at all.
type SyntaxError struct{ msg string }

func (e *SyntaxError) Error() string { return "not valid YAML: " + e.msg }

// LoadConfig parses and validates a config, reporting every problem of both
// kinds together.
func LoadConfig(data []byte) (Config, error) {
	cfg, err := ParseConfig(data)
	var se *SyntaxError
	if errors.As(err, &se) {
		return Config{}, err
	}
	if err := errors.Join(err, cfg.Validate()); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Marshal writes the config as YAML.
func (c Config) Marshal() []byte {
	b, _ := yaml.Marshal(c)
	return b
}
