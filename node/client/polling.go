package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// ErrServerClosed is the reader's error after the server sent an Engine.IO
// close packet on a polling session (a WebSocket gets a close frame).
var ErrServerClosed = errors.New("client: the server closed the session (close packet)")

// pollWire is Engine.IO's HTTP long-polling transport: a GET waits for the
// server's packets, each write is a POST. It never upgrades.
type pollWire struct {
	url string // ...&sid=<id>
	hc  *http.Client
	hdr http.Header

	// ctx ends every request in flight when the client goes away.
	ctx    context.Context
	cancel context.CancelFunc

	// postMu serializes POSTs: a node refuses overlapping ones, as
	// engine.io does.
	postMu sync.Mutex

	pending [][]byte // packets of the last poll not read yet; reader only

	// addrsMu guards addrs: the client's end of every connection its
	// requests used, in the order they were dialed.
	addrsMu sync.Mutex
	addrs   []string
}

func (w *pollWire) dialed(a net.Addr) {
	w.addrsMu.Lock()
	defer w.addrsMu.Unlock()
	w.addrs = append(w.addrs, a.String())
}

func (w *pollWire) localAddrs() []string {
	w.addrsMu.Lock()
	defer w.addrsMu.Unlock()
	return slices.Clone(w.addrs)
}

func dialPolling(ctx context.Context, opts Options) (*Client, error) {
	base := strings.TrimSuffix(opts.URL, "/") + opts.engineIO("polling")
	wctx, cancel := context.WithCancel(context.Background())
	w := &pollWire{url: base, hdr: opts.Header, ctx: wctx, cancel: cancel}
	var d net.Dialer
	// One connection for the pending GET and one for POSTs; a cookie jar,
	// as a browser has, so a sticky balancer's cookie keeps every request
	// of the session on one node.
	jar, _ := cookiejar.New(nil) // New never fails without options
	w.hc = &http.Client{Jar: jar, Transport: &http.Transport{
		MaxIdleConnsPerHost: 2,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				w.dialed(nc.LocalAddr())
			}
			return nc, err
		},
	}}
	resp, body, err := w.do(ctx, http.MethodGet, nil)
	if err != nil {
		w.closeNow()
		return nil, fmt.Errorf("dial %s: %w", base, err)
	}
	w.pending = bytes.Split(body, []byte{0x1e})
	var open struct{ SID string }
	if p := w.pending[0]; len(p) == 0 || p[0] != '0' || json.Unmarshal(p[1:], &open) != nil || open.SID == "" {
		w.closeNow()
		return nil, fmt.Errorf("client: want engine.io open packet, got %q", body)
	}
	w.url = base + "&sid=" + url.QueryEscape(open.SID)
	c := newClient(opts, w, resp)
	c.EngineSID = open.SID
	if a := w.localAddrs(); len(a) > 0 {
		c.LocalAddr = a[0]
	}
	return c.start(ctx)
}

// do sends one request and returns a 200 response's body; any other status
// is an error quoting the server's answer.
func (w *pollWire) do(ctx context.Context, method string, body []byte) (*http.Response, []byte, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(w.ctx, stop)()
	req, err := http.NewRequestWithContext(ctx, method, w.url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range w.hdr {
		req.Header[k] = v
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := w.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp, b, &StatusError{Method: method, URL: w.url, Code: resp.StatusCode, Status: resp.Status, Body: string(bytes.TrimSpace(b))}
	}
	return resp, b, nil
}

// StatusError is a polling request the server (or a balancer) answered
// with a status other than 200: "Session ID unknown" from a node that does
// not own the session, a 504 from a balancer's idle timeout.
type StatusError struct {
	Method string // GET or POST
	URL    string
	Code   int    // 400
	Status string // "400 Bad Request"
	Body   string // the answer, trimmed
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("client: %s %s: %s %s", e.Method, e.URL, e.Status, e.Body)
}

// Message is what the server said: an Engine.IO error's message
// ({"code":1,"message":"Session ID unknown"}), else the answer's text.
func (e *StatusError) Message() string {
	var v struct {
		Message *string `json:"message"`
	}
	if json.Unmarshal([]byte(e.Body), &v) == nil && v.Message != nil {
		return *v.Message
	}
	return e.Body
}

func (w *pollWire) read(ctx context.Context) ([]byte, error) {
	for len(w.pending) == 0 {
		_, body, err := w.do(ctx, http.MethodGet, nil)
		if err != nil {
			return nil, err
		}
		for _, p := range bytes.Split(body, []byte{0x1e}) {
			if string(p) != "6" { // noop
				w.pending = append(w.pending, p)
			}
		}
	}
	p := w.pending[0]
	w.pending = w.pending[1:]
	if string(p) == "1" {
		return nil, ErrServerClosed
	}
	return p, nil
}

func (w *pollWire) write(ctx context.Context, p []byte) error {
	w.postMu.Lock()
	defer w.postMu.Unlock()
	_, _, err := w.do(ctx, http.MethodPost, p)
	return err
}

// close says goodbye with an Engine.IO close packet, then ends the poll.
// Its answer is not waited for: a server that ended the session on the
// Socket.IO disconnect sent just before (as the lab's nodes do) no longer
// knows the sid, and a real Socket.IO server answers "ok".
func (w *pollWire) close() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.write(ctx, []byte("1"))
	return w.closeNow()
}

// closeNow ends every request in flight, as a client that vanished would.
func (w *pollWire) closeNow() error {
	w.cancel()
	w.hc.CloseIdleConnections()
	return nil
}

// upgrade moves a polling session to a WebSocket, as socket.io-client does
// by default: 2probe, 3probe, then 5. No poll is pending (the reader has not
// started), so none needs to be paused; what the last poll brought is read
// before anything the WebSocket carries.
func (c *Client) upgrade(ctx context.Context) error {
	pw := c.wire.(*pollWire)
	u := strings.Replace(strings.Replace(pw.url, "http", "ws", 1), "transport=polling", "transport=websocket", 1)
	// The session's cookie jar goes along, as a browser's would: a sticky
	// balancer's cookie takes the upgrade to the node that owns the session.
	var local net.Addr
	var d net.Dialer
	hc := &http.Client{Jar: pw.hc.Jar, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				local = nc.LocalAddr()
			}
			return nc, err
		},
	}}
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: pw.hdr, HTTPClient: hc})
	if err != nil {
		return fmt.Errorf("client: upgrade to %s: %w", u, err)
	}
	if local != nil { // the WebSocket is the session's connection from now on
		c.LocalAddr = local.String()
	}
	conn.SetReadLimit(1 << 20)
	ws := wsWire{conn}
	if err := ws.write(ctx, []byte("2probe")); err != nil {
		conn.CloseNow()
		return fmt.Errorf("client: upgrade probe: %w", err)
	}
	if p, err := ws.read(ctx); err != nil || string(p) != "3probe" {
		conn.CloseNow()
		return fmt.Errorf("client: upgrade probe: got %q, %v, want 3probe", p, err)
	}
	if err := ws.write(ctx, []byte("5")); err != nil {
		conn.CloseNow()
		return fmt.Errorf("client: upgrade: %w", err)
	}
	pw.closeNow() // no request in flight: this releases its connections
	c.wire = &upgradedWire{pending: pw.pending, wsWire: ws}
	c.conn = conn
	return nil
}

// upgradedWire is the WebSocket of an upgraded session, after the packets
// its last poll brought.
type upgradedWire struct {
	pending [][]byte // reader only
	wsWire
}

func (w *upgradedWire) read(ctx context.Context) ([]byte, error) {
	if len(w.pending) > 0 {
		p := w.pending[0]
		w.pending = w.pending[1:]
		return p, nil
	}
	return w.wsWire.read(ctx)
}
