package node

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// originProblem is the node's one rule for the Origin header of a browser
// request, on every transport: the request's own host is fine, and so is a
// host (or scheme://host) matching one of Config.AllowedOrigins. A request
// without an Origin header is not from a page and passes. It returns why an
// origin is refused, or nil.
func (n *Node) originProblem(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not a URL with a host", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, pattern := range n.cfg.AllowedOrigins {
		target := u.Host
		if strings.Contains(pattern, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(target)); ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q is not allowed on node %q: pages of other origins need their host in allowed_origins (lab up --allow-origin %s)", origin, n.cfg.Name, u.Host)
}

// allowCrossOrigin applies the origin rule to a Socket.IO request and, for
// an allowed origin, sends the CORS headers a page on another origin needs
// to poll with credentials (socket.io-client's withCredentials): its origin
// echoed, never "*", and Allow-Credentials. A preflight is answered here. It
// reports whether the request goes on; a refused one got 403 Forbidden, as a
// refused WebSocket handshake does.
func (n *Node) allowCrossOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := n.originProblem(r); err != nil {
		engineError(w, eioForbidden, err.Error())
		return false
	}
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if r.Method != http.MethodOptions {
		return true
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return false
}

// setSessionCookie sets Config.SessionCookie, if any, to the Engine.IO
// session id on a handshake response, as Socket.IO's cookie option does, so
// that a balancer can follow it (app_cookie stickiness).
func (n *Node) setSessionCookie(w http.ResponseWriter, eioSID string) {
	if n.cfg.SessionCookie == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: n.cfg.SessionCookie, Value: eioSID, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}
