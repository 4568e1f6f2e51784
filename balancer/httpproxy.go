package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
)

// httpProxy is what ordinary HTTP requests share: the transport's pool of
// backend connections, and the idle timers of the clients' keep-alive
// connections. Requests themselves are served by Balancer.serveHTTP.
type httpProxy struct {
	transport *http.Transport
	clock     quartz.Clock
	snap      func() *snapshot // the running one, for the idle timeout

	// mu guards idle: keep-alive connections waiting for a request, each
	// closed by its timer after the idle timeout. Nothing is taken inside.
	mu   sync.Mutex
	idle map[net.Conn]*quartz.Timer
}

func newHTTPProxy(clock quartz.Clock, snap func() *snapshot) *httpProxy {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &httpProxy{
		transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		},
		clock: clock, snap: snap, idle: map[net.Conn]*quartz.Timer{},
	}
}

// connState (http.Server.ConnState) closes keep-alive connections that
// stay idle for the idle timeout, on the balancer's clock.
func (p *httpProxy) connState(c net.Conn, st http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.idle[c]; ok {
		t.Stop()
		delete(p.idle, c)
	}
	if st == http.StateIdle {
		p.idle[c] = p.clock.AfterFunc(p.snap().idleTimeout(), func() { c.Close() }, "balancer", "http-idle")
	}
}

// close stops the idle timers and closes the idle backend connections.
func (p *httpProxy) close() {
	p.mu.Lock()
	for c, t := range p.idle {
		t.Stop()
		delete(p.idle, c)
	}
	p.mu.Unlock()
	p.transport.CloseIdleConnections()
}

// serveHTTP proxies an ordinary HTTP request (the chat page, /healthz...).
// A refused dial is retried on the next backend when the request has no
// body to replay. The idle timeout applies as to a tunnel: a request with
// no byte either way for that long ends (504 if the backend had not
// answered yet, else the connection is cut), as a cloud ALB does to a long
// poll, and is a request.timeout event. A client that hangs up ends its
// backend request at once (net/http cancels the request's context).
func (b *Balancer) serveHTTP(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	port := localPort(r)
	replayable := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	idle := b.watchIdle(r.Context(), snap.idleTimeout(), func(backend string, answering bool) {
		how := fmt.Sprintf("answered %d %s", http.StatusGatewayTimeout, http.StatusText(http.StatusGatewayTimeout))
		if answering {
			how = "its answer had started: the connection is cut"
		}
		b.publish(events.Event{Kind: events.RequestTimeout, Client: r.RemoteAddr, Backend: backend, Generation: snap.gen, Reason: ReasonIdleTimeout,
			Detail: fmt.Sprintf("%s %s: nothing either way for the idle timeout (%s); %s", r.Method, r.URL.RequestURI(), snap.idleTimeout(), how)})
	})
	defer idle.stop()
	r = r.WithContext(idle.ctx)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &idleBody{ReadCloser: r.Body, idle: idle}
	}
	w = &idleWriter{ResponseWriter: w, idle: idle}
	a := attempts{b: b, clientIP: hostOf(r.RemoteAddr), snap: snap, pol: snap.httpPolicy, replayable: replayable, tls: r.TLS != nil}
	if snap.sticky != nil {
		a.pin = snap.sticky.pinned(requestCookies(r), b.clock.Now())
	}
	code, reason := a.each(func(t *target) error {
		var proxyErr error
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(t.url)
				pr.Out.Host = pr.In.Host // keep the client's Host
				pr.SetXForwarded()
				pr.Out.Header.Set("X-Forwarded-Port", port)
			},
			Transport: b.proxy.transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				proxyErr = err // nothing was written yet
			},
		}
		if snap.sticky != nil {
			pin, tls := a.pin, a.tls // not a itself: it stays on the stack
			rp.ModifyResponse = func(resp *http.Response) error {
				setsApp := func(name string) bool { return responseSetsCookie(resp, name) }
				for _, c := range snap.sticky.answerCookies(pin, t, tls, b.clock.Now(), setsApp) {
					resp.Header.Add("Set-Cookie", c)
				}
				return nil
			}
		}
		t.b.total.Add(1)
		idle.backend.Store(&t.name)
		rp.ServeHTTP(w, r)
		if proxyErr == nil {
			return nil
		}
		var op *net.OpError
		switch {
		case errors.Is(context.Cause(idle.ctx), errHTTPIdle):
			fail(w, http.StatusGatewayTimeout, fmt.Sprintf("backend %s sent nothing for the idle timeout (%s)", t.name, idle.d))
		case errors.As(proxyErr, &op) && op.Op == "dial":
			return proxyErr
		default:
			fail(w, http.StatusBadGateway, fmt.Sprintf("backend %s: %v", t.name, proxyErr))
		}
		return nil
	})
	if code != 0 {
		fail(w, code, reason)
	}
}

// errHTTPIdle ends a proxied request that was quiet for the idle timeout.
var errHTTPIdle = errors.New("balancer: idle timeout")

// httpIdle is a proxied request's idle timer, on the balancer's clock. As
// for a tunnel, activity only stamps the time; the timer reads the stamp
// when it fires and re-arms for the rest. The timer that ends the request
// also calls cut, there and then: a mock-clock driver knows of the cut
// once the timer has fired, before its 504 reaches anyone.
type httpIdle struct {
	ctx       context.Context
	cancel    context.CancelCauseFunc
	clock     quartz.Clock
	d         time.Duration
	last      atomic.Int64           // unix ns of the last byte either way
	backend   atomic.Pointer[string] // the one tried now
	answering atomic.Bool            // the answer has begun (its status written)
	cut       func(backend string, answering bool)

	// mu guards the fields below.
	mu      sync.Mutex
	timer   *quartz.Timer
	stopped bool
}

func (b *Balancer) watchIdle(parent context.Context, d time.Duration, cut func(backend string, answering bool)) *httpIdle {
	i := &httpIdle{clock: b.clock, d: d, cut: cut}
	i.ctx, i.cancel = context.WithCancelCause(parent)
	i.touch()
	i.mu.Lock()
	i.timer = b.clock.AfterFunc(d, i.fire, "balancer", "http-proxy-idle")
	i.mu.Unlock()
	return i
}

func (i *httpIdle) touch() { i.last.Store(i.clock.Now().UnixNano()) }

func (i *httpIdle) fire() {
	rest := i.d - i.clock.Since(time.Unix(0, i.last.Load()))
	i.mu.Lock()
	switch {
	case i.stopped:
		i.mu.Unlock()
		return
	case rest > 0:
		i.timer.Reset(rest, "balancer", "http-proxy-idle")
		i.mu.Unlock()
		return
	}
	i.mu.Unlock()
	i.cancel(errHTTPIdle)
	backend := ""
	if p := i.backend.Load(); p != nil {
		backend = *p
	}
	i.cut(backend, i.answering.Load())
}

func (i *httpIdle) stop() {
	i.mu.Lock()
	i.stopped = true
	i.timer.Stop()
	i.mu.Unlock()
	i.cancel(nil)
}

// idleWriter stamps the idle timer on every byte to the client.
type idleWriter struct {
	http.ResponseWriter
	idle *httpIdle
}

func (w *idleWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	w.idle.answering.Store(true)
	w.idle.touch()
}

func (w *idleWriter) Write(p []byte) (int, error) {
	w.idle.answering.Store(true)
	n, err := w.ResponseWriter.Write(p)
	w.idle.touch()
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and the deadlines.
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// idleBody stamps the idle timer on every byte from the client.
type idleBody struct {
	io.ReadCloser
	idle *httpIdle
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.idle.touch()
	}
	return n, err
}

// responseSetsCookie reports whether a backend's answer sets the cookie
// name.
func responseSetsCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return true
		}
	}
	return false
}
