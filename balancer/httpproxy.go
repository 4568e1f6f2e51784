package balancer

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
)

// serveHTTP proxies an ordinary HTTP request (the chat page, /healthz...).
// A refused dial is retried on the next backend when the request has no
// body to replay.
func (b *Balancer) serveHTTP(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	clientIP := hostOf(r.RemoteAddr)
	port := localPort(r)
	var tried []*target
	var lastErr error
	for attempt := 0; attempt <= *snap.cfg.ServerGroup.Retries; attempt++ {
		cands := snap.candidates(tried)
		if len(cands) == 0 {
			break
		}
		t := snap.httpPolicy.pick(cands, clientIP)
		var dialErr error
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(t.url)
				pr.Out.Host = pr.In.Host // keep the client's Host
				pr.SetXForwarded()
				pr.Out.Header.Set("X-Forwarded-Port", port)
			},
			Transport: b.transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				dialErr = err
			},
		}
		t.b.total.Add(1)
		rp.ServeHTTP(w, r)
		if dialErr == nil {
			return
		}
		var op *net.OpError
		if !errors.As(dialErr, &op) || op.Op != "dial" {
			fail(w, http.StatusBadGateway, fmt.Sprintf("backend %s: %v", t.name, dialErr))
			return
		}
		t.b.failures.Add(1)
		lastErr = fmt.Errorf("backend %s: %w", t.name, dialErr)
		tried = append(tried, t)
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			break // the body is spent; it cannot be sent again
		}
	}
	if lastErr == nil {
		fail(w, http.StatusServiceUnavailable, "no healthy backend in the server group")
		return
	}
	fail(w, http.StatusBadGateway, fmt.Sprintf("no backend could be reached (tried %d): %v", len(tried), lastErr))
}
