package balancer

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/wslab/wslab/events"
)

// checkUpgrade returns why r is not a valid WebSocket upgrade, or "".
func checkUpgrade(r *http.Request) string {
	switch {
	case r.Method != http.MethodGet:
		return fmt.Sprintf("a websocket upgrade must be a GET, not %s", r.Method)
	case !r.ProtoAtLeast(1, 1):
		return fmt.Sprintf("a websocket upgrade needs HTTP/1.1, not %s", r.Proto)
	case !strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		return fmt.Sprintf("Upgrade %q is not supported: only websocket", r.Header.Get("Upgrade"))
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return `the Connection header lacks "upgrade"`
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		return "missing Sec-WebSocket-Key"
	}
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return fmt.Sprintf("Sec-WebSocket-Key %q is not 16 base64-encoded bytes", trim(key))
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return fmt.Sprintf("Sec-WebSocket-Version %q is not supported: want 13", trim(v))
	}
	return ""
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// fail answers with a one-line plain-text reason.
func fail(w http.ResponseWriter, code int, reason string) {
	if code == http.StatusBadRequest && strings.HasPrefix(reason, "Sec-WebSocket-Version") {
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s: %s\n", code, http.StatusText(code), reason)
}

// serveUpgrade picks a backend, dials it (trying the next one after a
// refused dial), forwards the handshake and, on 101, joins the two
// connections into a tunnel.
func (b *Balancer) serveUpgrade(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	if reason := checkUpgrade(r); reason != "" {
		fail(w, http.StatusBadRequest, reason)
		return
	}
	b.pickAndTry(w, r, snap, snap.policy, true, func(t *target) error {
		d := net.Dialer{KeepAlive: -1} // the idle timeout watches the tunnel
		conn, err := d.DialContext(r.Context(), "tcp", t.addr)
		if err != nil {
			return err
		}
		b.handshake(w, r, snap, t, conn)
		return nil
	})
}

// pickAndTry picks backends with pol and hands each to try until one takes
// the request. try returns an error only when the backend refused the
// connection: that is a passive failure, and the next backend is tried
// (bounded by retries, and only if the request can be sent again). With no
// backend to pick the answer is 503; when all refused, 502.
func (b *Balancer) pickAndTry(w http.ResponseWriter, r *http.Request, snap *snapshot, pol policy, replayable bool, try func(*target) error) {
	clientIP := hostOf(r.RemoteAddr)
	var tried []*target
	var last error
	for attempt := 0; attempt <= *snap.cfg.ServerGroup.Retries; attempt++ {
		cands := snap.candidates(tried)
		if len(cands) == 0 {
			break
		}
		t := pol.pick(cands, clientIP)
		err := try(t)
		if err == nil {
			return
		}
		t.b.failures.Add(1)
		b.publish(events.Event{Kind: events.BackendFailure, Backend: t.name, Detail: err.Error()})
		last = fmt.Errorf("backend %s: %w", t.name, err)
		tried = append(tried, t)
		if !replayable {
			break // the body is spent; it cannot be sent again
		}
	}
	if last == nil {
		fail(w, http.StatusServiceUnavailable, "no healthy backend in the server group")
		return
	}
	fail(w, http.StatusBadGateway, fmt.Sprintf("no backend could be reached (tried %d): %v", len(tried), last))
}

// handshake forwards the upgrade request to the backend and relays its
// answer. The backend has the idle timeout, on the balancer's clock, to
// answer.
func (b *Balancer) handshake(w http.ResponseWriter, r *http.Request, snap *snapshot, t *target, bc net.Conn) {
	timer := b.clock.AfterFunc(snap.idleTimeout(), func() { bc.Close() }, "balancer", "handshake")
	defer timer.Stop()
	if err := writeRequestHead(bc, r); err != nil {
		bc.Close()
		fail(w, http.StatusBadGateway, fmt.Sprintf("backend %s: send handshake: %v", t.name, err))
		return
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(bc)
	defer func() {
		br.Reset(nil)
		readerPool.Put(br)
	}()
	resp, err := http.ReadResponse(br, r)
	if err != nil {
		bc.Close()
		fail(w, http.StatusBadGateway, fmt.Sprintf("backend %s: no valid handshake response: %v", t.name, err))
		return
	}
	timer.Stop()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		relay(w, resp)
		bc.Close()
		return
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		bc.Close()
		fail(w, http.StatusBadGateway, fmt.Sprintf("backend %s switched to %q, not websocket", t.name, resp.Header.Get("Upgrade")))
		return
	}
	cc, crw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		bc.Close()
		return
	}
	// The tunnel is registered (status, counters, event) before the client
	// hears 101, so nothing a client can see is ahead of introspection.
	tn := b.newTunnel(snap, t, cc, bc, r.RemoteAddr)
	if !b.registerTunnel(tn) {
		return
	}
	crw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(crw)
	crw.WriteString("\r\n")
	if err := crw.Flush(); err != nil {
		tn.close(ReasonClientClosed)
	} else if err := tn.forwardBuffered(crw.Reader, br); err != nil {
		// Bytes already read past the handshake, on either side, go first.
		tn.close(ReasonBackendClosed)
	}
	b.startPumps(tn) // on a closed tunnel they end at once
}

// Handshake buffers are pooled: thousands of handshakes a second must not
// leave thousands of buffers for the collector (and in the resident set).
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 2048) }}
)

// writeRequestHead sends the request line and headers to the backend, with
// the client's Host and Origin kept and X-Forwarded-* added.
func writeRequestHead(w io.Writer, r *http.Request) error {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	defer func() {
		bw.Reset(nil)
		writerPool.Put(bw)
	}()
	fmt.Fprintf(bw, "GET %s HTTP/1.1\r\nHost: %s\r\n", r.RequestURI, r.Host)
	for k, vs := range r.Header {
		switch k {
		case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port":
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	xff := hostOf(r.RemoteAddr)
	if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		xff = strings.Join(prior, ", ") + ", " + xff
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	fmt.Fprintf(bw, "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\nX-Forwarded-Port: %s\r\n\r\n", xff, proto, localPort(r))
	return bw.Flush()
}

// relay sends a non-101 handshake answer (a 403 for a foreign Origin, say)
// back to the client as it is.
func relay(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		_, port, _ := net.SplitHostPort(a.String())
		return port
	}
	return ""
}
