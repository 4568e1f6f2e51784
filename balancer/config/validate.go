package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxServers bounds a server group: past it status and health checks cost
// more than a lab is for (10,000 servers took 284 MB and a 3 MB status).
const MaxServers = 1000

// Problem is one thing wrong with a config: the field, where it stands in
// the document, and what is wrong with its value.
type Problem struct {
	Line  int    // 1-based line in the document; 0 when not known (a default, a flag)
	Field string // dotted path, e.g. server_group.servers[1].weight
	Msg   string // what is wrong, quoting the value
}

func (p *Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Field, p.Msg)
	}
	return p.Field + ": " + p.Msg
}

// Problems lists the problems inside err (a joined error), in order.
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(e error) {
		if p, ok := e.(*Problem); ok {
			out = append(out, p)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		} else if u := errors.Unwrap(e); u != nil {
			walk(u)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// problems collects Problems.
type problems []error

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, &Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Validate reports every problem at once, each a *Problem naming the field
// and quoting the bad value.
func (c Config) Validate() error {
	var ps problems
	profiled := c.validateProfile(&ps)
	if c.Listener.IdleReset == IdleResetNone && c.Listener.IdleTimeout != 0 {
		why := ""
		if profiled {
			why = " (the " + c.Profile + " profile has no idle timer)"
		}
		ps.add("listener.idle_timeout", "%s has no effect: idle_reset is none%s; set idle_reset: both as well, or remove idle_timeout", fmtDuration(time.Duration(c.Listener.IdleTimeout)), why)
	}
	c = c.WithDefaults()
	l := c.Listener
	if err := checkAddr(l.Addr); err != nil {
		ps.add("listener.addr", "%q %v", l.Addr, err)
	}
	if !profiled {
		ps.durationIn("listener.idle_timeout", l.IdleTimeout, time.Second, 4000*time.Second)
		if d := time.Duration(*l.MaxLifetime); d != 0 {
			ps.durationIn("listener.max_lifetime", *l.MaxLifetime, time.Second, 720*time.Hour)
		}
	} else if l.IdleTimeout <= 0 {
		ps.add("listener.idle_timeout", "%s must be positive", fmtDuration(time.Duration(l.IdleTimeout)))
	}
	if *l.MaxLifetime < 0 {
		ps.add("listener.max_lifetime", "%s must not be negative; 0s means no cap", fmtDuration(time.Duration(*l.MaxLifetime)))
	}
	switch l.IdleReset {
	case IdleResetBoth, IdleResetClientToBackend, IdleResetBackendToClient, IdleResetNone:
	default:
		ps.add("listener.idle_reset", "%q is not both, client_to_backend, backend_to_client or none", l.IdleReset)
	}
	switch l.Cut {
	case CutFIN, CutReset, CutCloseFrame:
	default:
		ps.add("listener.cut", "%q is not fin, reset or close_frame", l.Cut)
	}
	ps.durationIn("listener.header_timeout", l.HeaderTimeout, time.Millisecond, 5*time.Minute)
	if l.MaxHeaderBytes < 1024 || l.MaxHeaderBytes > 1<<20 {
		ps.add("listener.max_header_bytes", "%d is out of range 1024-1048576", l.MaxHeaderBytes)
	}
	if t := l.TLS; t != nil {
		if err := checkAddr(t.Addr); err != nil {
			ps.add("listener.tls.addr", "%q %v", t.Addr, err)
		}
		if !t.SelfSigned && (t.CertFile == "" || t.KeyFile == "") {
			ps.add("listener.tls", "set cert_file and key_file, or self_signed: true")
		}
	}
	g := c.ServerGroup
	switch g.Policy {
	case RoundRobin, LeastConn, SourceHash:
	default:
		ps.add("server_group.policy", "%q is not round_robin, least_conn or source_hash", g.Policy)
	}
	ps.durationIn("server_group.deregistration_delay", *g.DeregistrationDelay, 0, 3600*time.Second)
	ps.durationIn("server_group.drain.jitter", g.Drain.Jitter, 0, 3600*time.Second)
	ps.durationIn("server_group.deregistration_lag", g.DeregistrationLag, 0, maxDeregistrationLag)
	if s := g.LambdaUpgradeStatus; s != 0 && (s < 400 || s > 599) {
		ps.add("server_group.lambda_upgrade_status", "%d is not 0 (pass the upgrade on) or an HTTP error status 400-599", s)
	}
	if r := *g.Retries; r < 0 || r > 10 {
		ps.add("server_group.retries", "%d is out of range 0-10", r)
	}
	g.HealthCheck.validate(&ps)
	g.validateStickiness(&ps)
	ps.servers(g.Servers)
	return errors.Join(ps...)
}

func (ps *problems) servers(servers []Server) {
	switch {
	case servers != nil && len(servers) == 0:
		ps.add("server_group.servers", "[] would leave the group empty: a server group needs at least one server; take one out with weight: 0 or state: drain")
		return
	case len(servers) > MaxServers:
		ps.add("server_group.servers", "%d servers is over the limit of %d", len(servers), MaxServers)
		return
	}
	seen := map[string]int{}
	for i, s := range servers {
		f := fmt.Sprintf("server_group.servers[%d]", i)
		if !nameRE.MatchString(s.Name) {
			ps.add(f+".name", "%q must be 1-63 letters, digits, '.', '_' or '-'", s.Name)
		} else if j, dup := seen[s.Name]; dup {
			ps.add(f+".name", "%q is already the name of servers[%d]", s.Name, j)
		} else {
			seen[s.Name] = i
		}
		if _, err := ParseServerURL(s.URL); err != nil {
			ps.add(f+".url", "%q %v", s.URL, err)
		}
		if w := *s.Weight; w < 0 || w > 1000 {
			ps.add(f+".weight", "%d is out of range 0-1000", w)
		}
		if s.State != "" && s.State != "active" && s.State != "drain" {
			ps.add(f+".state", "%q is not active or drain", s.State)
		}
		if s.Type != "" && s.Type != "instance" && s.Type != "lambda" {
			ps.add(f+".type", "%q is not instance or lambda", s.Type)
		}
	}
}

var cookieNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")

func (g ServerGroup) validateStickiness(ps *problems) {
	const f = "server_group.stickiness."
	st := g.Stickiness
	switch st.Type {
	case StickyNone, StickyLBCookie, StickyApp:
	case StickySourceIP:
		if g.Policy != SourceHash {
			ps.add(f+"type", "%q pins by client IP, which is the policy source_hash; it cannot go with policy %s: drop the policy, or set it to source_hash", st.Type, g.Policy)
		}
	default:
		ps.add(f+"type", "%q is not none, lb_cookie, app_cookie or source_ip", st.Type)
	}
	switch {
	case st.Type == StickyApp && st.CookieName == "":
		ps.add(f+"cookie_name", "is required for app_cookie: name the cookie the application sets, e.g. io")
	case st.Type == StickyApp && !cookieNameRE.MatchString(st.CookieName):
		ps.add(f+"cookie_name", "%q is not a cookie name (1-64 letters, digits and !#$%%&'*+-.^_`|~)", st.CookieName)
	case st.Type == StickyApp && strings.HasPrefix(st.CookieName, "WSLAB"):
		ps.add(f+"cookie_name", "%q is reserved: the balancer's own cookies start with WSLAB", st.CookieName)
	case st.Type != StickyApp && st.CookieName != "":
		ps.add(f+"cookie_name", "%q is only for type app_cookie (type is %s)", st.CookieName, st.Type)
	}
	if st.On() {
		ps.durationIn(f+"duration", st.Duration, time.Second, 7*24*time.Hour)
	} else if st.Duration != 0 {
		ps.add(f+"duration", "%s is only for lb_cookie and app_cookie (type is %s)", fmtDuration(time.Duration(st.Duration)), st.Type)
	}
}

func (h HealthCheck) validate(ps *problems) {
	const f = "server_group.health_check."
	if h.Type != "http" && h.Type != "websocket" {
		ps.add(f+"type", "%q is not http or websocket", h.Type)
	}
	if !strings.HasPrefix(h.Path, "/") {
		ps.add(f+"path", "%q must start with /", h.Path)
	}
	if h.Method != "GET" && h.Method != "HEAD" {
		ps.add(f+"method", "%q is not GET or HEAD", h.Method)
	}
	if _, err := ParseCodes(h.SuccessCodes); err != nil {
		ps.add(f+"success_codes", "%q %v", h.SuccessCodes, err)
	}
	ps.durationIn(f+"interval", h.Interval, 100*time.Millisecond, 300*time.Second)
	ps.durationIn(f+"timeout", h.Timeout, time.Millisecond, 120*time.Second)
	for _, t := range []struct {
		name string
		v    int
	}{{"healthy_threshold", h.HealthyThreshold}, {"unhealthy_threshold", h.UnhealthyThreshold}} {
		if t.v < 1 || t.v > 10 {
			ps.add(f+t.name, "%d is out of range 1-10", t.v)
		}
	}
}

func (ps *problems) durationIn(field string, d Duration, lo, hi time.Duration) {
	if time.Duration(d) < lo || time.Duration(d) > hi {
		ps.add(field, "%s is out of range %s-%s", fmtDuration(time.Duration(d)), fmtDuration(lo), fmtDuration(hi))
	}
}

// fmtDuration writes a duration as the README does: 4000s, 500ms, 0s —
// not 1h6m40s.
func fmtDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	return d.String()
}

// Codes are HTTP status codes as success_codes lists them.
type Codes []codeRange

// codeRange is an inclusive range of HTTP status codes.
type codeRange struct{ lo, hi int }

// ParseCodes reads success codes as the cloud ALBs write them: "200",
// "200,204", "200-399".
func ParseCodes(s string) (Codes, error) {
	var out Codes
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			return nil, errors.New("is not a list of codes or ranges from 100 to 599, like 200-399 or 200,204")
		}
		out = append(out, codeRange{a, b})
	}
	return out, nil
}

// Match reports whether status is one of cs.
func (cs Codes) Match(status int) bool {
	for _, c := range cs {
		if status >= c.lo && status <= c.hi {
			return true
		}
	}
	return false
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

// ParseServerURL accepts http://host:port[/] URLs.
func ParseServerURL(raw string) (*url.URL, error) {
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

// OneLine joins a multi-problem error into one line, problems separated by
// "; ".
func OneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, strings.TrimSuffix(l, ":"))
		}
	}
	return strings.Join(parts, "; ")
}
