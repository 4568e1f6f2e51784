package balancer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The goroutine path of the upgrade: a connection that net/http served
// (TLS, a keep-alive connection's later request, a head only net/http
// parses) or that front.go's goroutine read, from the backend's dial to the
// tunnel. The rules it applies are the handshake core's (handshake.go).

// fail answers through net/http with a one-line plain-text reason.
func fail(w http.ResponseWriter, code int, reason string) { refusal{code, reason}.write(w) }

// serveUpgrade handles an upgrade that reached net/http: a refused one gets
// its code and reason; a valid one is taken off net/http and continues as
// the front door's would.
func (b *Balancer) serveUpgrade(w http.ResponseWriter, r *http.Request, snap *snapshot) {
	req, code, reason := checkUpgrade(r)
	if code != 0 {
		fail(w, code, reason)
		return
	}
	cc, crw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fail(w, http.StatusInternalServerError, fmt.Sprintf("cannot take over the connection: %v", err))
		return
	}
	req.clientAddr, req.tls, req.port = r.RemoteAddr, r.TLS != nil, localPort(r)
	if n := crw.Reader.Buffered(); n > 0 {
		req.pending, _ = crw.Reader.Peek(n)
	}
	b.tunnelUpgrade(cc, &req, snap)
}

// tunnelUpgrade picks a backend, dials it (trying the next one after a
// refused dial), forwards the handshake and, on 101, joins the two
// connections into a tunnel. It owns client from here on.
func (b *Balancer) tunnelUpgrade(client net.Conn, req *upgradeReq, snap *snapshot) {
	a := b.upgradeAttempts(req, snap)
	code, reason := a.each(func(t *target) error {
		bc, err := b.dial(t)
		if err != nil && b.ctx.Err() != nil { // closing: not the backend's fault
			b.refuse(client, 0, "")
			return nil
		}
		if err != nil {
			return err
		}
		b.handshake(client, req, snap, t, bc, &a)
		return nil
	})
	if code != 0 {
		b.refuse(client, code, reason)
	}
}

// refuse answers a client that gets no tunnel and hangs up.
func (b *Balancer) refuse(client net.Conn, code int, reason string) {
	client.Write(b.refusal(code, reason))
	client.Close()
}

// refusal is the answer for a client that gets no tunnel: code with
// reason, or 503 whatever they say once the balancer is closing.
func (b *Balancer) refusal(code int, reason string) []byte {
	if b.ctx.Err() != nil {
		code, reason = http.StatusServiceUnavailable, "the balancer is shutting down"
	}
	return refusal{code, reason}.bytes()
}

// dial connects to a backend. There is no TCP keep-alive: the idle timeout
// watches the tunnel. (Dialer.DialTCP would skip parsing the address, but
// it binds the socket to a local port before connecting — a system call
// that searched the port range for seconds once thousands of connections
// had closed, and then failed.)
func (b *Balancer) dial(t *target) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1, Timeout: dialTimeout}
	return d.DialContext(b.ctx, "tcp", t.addr)
}

// dialTimeout bounds connecting to a backend. It guards against a network
// that drops packets; scenarios refuse or accept, they never hold a dial.
const dialTimeout = 5 * time.Second

// handshake forwards the upgrade request to the backend and relays its
// answer; on 101 the two connections become a tunnel. The backend has the
// idle timeout, on the balancer's clock, to answer. It owns client and bc.
func (b *Balancer) handshake(client net.Conn, req *upgradeReq, snap *snapshot, t *target, bc net.Conn, a *attempts) {
	timer := b.clock.AfterFunc(snap.idleTimeout(), func() { bc.Close() }, "balancer", "handshake")
	defer timer.Stop()
	// Close does not wait for a backend that is slow to answer.
	stop := context.AfterFunc(b.ctx, func() { bc.Close() })
	defer stop()
	bp := headPool.Get().(*[]byte)
	defer headPool.Put(bp)
	out := appendRequestHead((*bp)[:0], req)
	headLen := len(out)
	out = append(out, req.pending...) // what the client sent early goes right behind
	*bp = out[:0]                     // keep a buffer that grew
	sent := b.clock.Now()
	if _, err := bc.Write(out); err != nil {
		b.failHandshake(client, bc, fmt.Sprintf("backend %s: send handshake: %v", t.name, err))
		return
	}
	t.b.bytesUp.Add(uint64(len(out) - headLen))
	rp := headPool.Get().(*[]byte)
	defer headPool.Put(rp)
	in := (*rp)[:cap(*rp)]
	w := watchHangUp(client, bc)
	n, end, err := readHead(bc, in)
	if w.stop() { // the client is gone: nobody to answer
		bc.Close()
		client.Close()
		return
	}
	if err != nil {
		b.failHandshake(client, bc, fmt.Sprintf("backend %s: no valid handshake response: %v", t.name, err))
		return
	}
	timer.Stop()
	switch kind, reason := classifyAnswer(t.name, in[:end]); kind {
	case answerRelay:
		relay(client, bc, in[:n])
		return
	case answerRefuse:
		b.failHandshake(client, bc, reason)
		return
	}
	// The tunnel is registered (status, counters, event) before the client
	// hears 101, so nothing a client can see is ahead of introspection.
	pair := &netPair{client: client, backend: bc}
	tn := b.newTunnel(snap, t, pair, req.clientAddr)
	t.b.answered(tn.opened.Sub(sent))
	if !b.registerTunnel(tn) {
		return
	}
	head := in[:n]
	if cookies := a.cookies(t, func(name string) bool { return setsCookie(in[:end], name) }); cookies != nil {
		head, end = withSetCookies(head, end, cookies)
	}
	// The 101 and whatever the backend sent behind it, in one write.
	if err := pair.writeClientHead(tn, head, end); err != nil {
		tn.close(ReasonClientClosed)
	}
	b.startPumps(tn) // on a closed tunnel they end at once
}

// failHandshake answers 502 with reason and closes both connections.
func (b *Balancer) failHandshake(client, bc net.Conn, reason string) {
	bc.Close()
	b.refuse(client, http.StatusBadGateway, reason)
}

// Handshake buffers are pooled: thousands of handshakes a second must not
// leave thousands of buffers for the collector (and in the resident set).
var headPool = sync.Pool{New: func() any { b := make([]byte, 0, headSize); return &b }}

// headSize is the largest request or response head the fast path reads; a
// longer request goes to net/http, which applies listener.max_header_bytes.
const headSize = 8 << 10

// readHead reads from c into buf until the blank line that ends an HTTP
// head. It returns how much it read and where the head ends.
func readHead(c net.Conn, buf []byte) (n, end int, err error) {
	for {
		m, err := c.Read(buf[n:])
		from := max(0, n-3)
		n += m
		if end, bareLF := headEnd(buf[:n], from); end > 0 {
			return n, end, nil
		} else if bareLF {
			return n, 0, errBareLF
		}
		if err != nil {
			return n, 0, err
		}
		if n == len(buf) {
			return n, 0, errHeadTooLarge
		}
	}
}

var (
	errHeadTooLarge = fmt.Errorf("head larger than %d bytes", headSize)
	errBareLF       = errors.New("a line of the head ends in a bare LF")
)

// relay sends a non-101 handshake answer (a 403 for a foreign Origin, say)
// back to the client as it is, body included up to 1 MiB, and closes both
// connections. head holds what was read of the answer so far.
func relay(client, bc net.Conn, head []byte) {
	defer client.Close()
	defer bc.Close()
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader(head), bc)), nil)
	if err != nil {
		client.Write(refusal{http.StatusBadGateway, fmt.Sprintf("no valid handshake response: %v", err)}.bytes())
		return
	}
	defer resp.Body.Close()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, 1<<20), resp.Body}
	resp.Close = true // the client asked for a tunnel; the connection ends here
	resp.Write(client)
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
