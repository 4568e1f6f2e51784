package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
)

// TokenRequiredError is returned by Start when the admin API would listen
// on an address other machines can reach and no token was given.
type TokenRequiredError struct{ Addr string }

func (e *TokenRequiredError) Error() string {
	return fmt.Sprintf("admin: other machines can reach %s, so the admin API needs a token (anyone who reaches it could kill nodes and change the balancer)", e.Addr)
}

// access decides who the admin API answers, before any route runs:
//
//  1. Host. Only the listen address, loopback names and addresses, and the
//     names in Config.Hosts are served; any other Host gets 421. A page on
//     evil.example whose name is later re-pointed at 127.0.0.1 (DNS
//     rebinding) is same-origin with itself, so the Origin rules below
//     never see it: its Host is what gives it away. An IP literal cannot
//     be re-pointed, so when the API listens on every address (0.0.0.0)
//     any IP literal is served.
//  2. Sec-Fetch-Site: cross-site is refused (403), except a person
//     following a link to the dashboard page (a top-level GET navigation
//     outside /api/ and /metrics), which lets the other site read nothing.
//  3. Changes (any method but GET, HEAD, OPTIONS) from another origin —
//     Sec-Fetch-Site same-site, or an Origin naming another host — are
//     refused (403): net/http's CrossOriginProtection.
//  4. Token. When one is set, /api/ and /metrics need it: the header
//     "Authorization: Bearer TOKEN", or ?access_token=TOKEN on the event
//     stream (a browser's EventSource cannot send headers). It is compared
//     in constant time. The dashboard's own files need no token: the page
//     takes it from its URL's fragment (…/#token=TOKEN), which the browser
//     never sends to any server, and sends it on each API call.
type access struct {
	listenHost string   // host of the listen address, lower case
	anyIP      bool     // listening on 0.0.0.0 or ::
	hosts      []string // Config.Hosts, lower case; path.Match patterns
	tokenSum   *[sha256.Size]byte
	origins    *http.CrossOriginProtection
}

func newAccess(listen string, cfg Config) *access {
	host, _, _ := net.SplitHostPort(listen)
	a := &access{listenHost: strings.ToLower(host), origins: http.NewCrossOriginProtection()}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		a.anyIP = true
	}
	for _, h := range cfg.Hosts {
		a.hosts = append(a.hosts, strings.ToLower(h))
	}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		a.tokenSum = &sum
	}
	a.origins.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("changes requested by a page of another origin (%s) are refused; use the dashboard or lab ctl", originOf(r)))
	}))
	return a
}

// needsToken reports whether a token is required to listen on addr.
func needsToken(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	return !isLoopback(host)
}

func isLoopback(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wrap puts the four rules in front of next.
func (a *access) wrap(next http.Handler) http.Handler {
	guarded := a.origins.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.tokenSum != nil && needsAuth(r.URL.Path) && !a.tokenOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wslab admin"`)
			writeError(w, http.StatusUnauthorized, "this admin API needs its token: send Authorization: Bearer TOKEN (lab ctl sends $LAB_ADMIN_TOKEN; open the dashboard as http://ADDR/#token=TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostOK(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here: the admin API answers to its listen address, to loopback names and addresses, and to names given with --admin-host (a guard against DNS rebinding)", r.Host))
			return
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" && !isLinkToPage(r) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("requests from pages of other sites (%s) are refused; use the dashboard or lab ctl", originOf(r)))
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// hostOK applies rule 1 to a Host header.
func (a *access) hostOK(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	switch {
	case host == "":
		return false
	case isLoopback(host), host == a.listenHost:
		return true
	case net.ParseIP(host) != nil:
		return a.anyIP
	}
	for _, p := range a.hosts {
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}

func (a *access) tokenOK(r *http.Request) bool {
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok && r.URL.Path == "/api/events" {
		given, ok = r.URL.Query().Get("access_token"), true
	}
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

// needsAuth: the API and the metrics; not the dashboard's files.
func needsAuth(p string) bool {
	return strings.HasPrefix(p, "/api/") || p == "/metrics"
}

// isLinkToPage is a person following a link from another site to the
// dashboard: the other site can read nothing of the answer.
func isLinkToPage(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		r.Header.Get("Sec-Fetch-Mode") == "navigate" && !needsAuth(r.URL.Path)
}

func originOf(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return "origin " + o
	}
	return "Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site")
}
