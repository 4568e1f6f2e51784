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
	port := localPort(r)
	replayable := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	code, reason := b.pickAndTry(hostOf(r.RemoteAddr), snap, snap.httpPolicy, replayable, func(t *target) error {
		var proxyErr error
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(t.url)
				pr.Out.Host = pr.In.Host // keep the client's Host
				pr.SetXForwarded()
				pr.Out.Header.Set("X-Forwarded-Port", port)
			},
			Transport: b.transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				proxyErr = err // nothing was written yet
			},
		}
		t.b.total.Add(1)
		rp.ServeHTTP(w, r)
		if proxyErr == nil {
			return nil
		}
		var op *net.OpError
		if errors.As(proxyErr, &op) && op.Op == "dial" {
			return proxyErr
		}
		fail(w, http.StatusBadGateway, fmt.Sprintf("backend %s: %v", t.name, proxyErr))
		return nil
	})
	if code != 0 {
		fail(w, code, reason)
	}
}
