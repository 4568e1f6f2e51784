package main_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// pollingUser is a person's HTTP client with a cookie jar speaking Engine.IO
// long-polling by hand: what a browser does for socket.io-client.
type pollingUser struct {
	t    *testing.T
	c    *http.Client
	base string
	sid  string
}

func newPollingUser(t *testing.T, base string) *pollingUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &pollingUser{t: t, c: &http.Client{Jar: jar, Transport: tr}, base: base}
}

// do sends one polling request of the session (a handshake without one)
// and returns the node that answered, the status and the body.
func (p *pollingUser) do(method, body string) (node string, code int, text string) {
	p.t.Helper()
	u := p.base + "/socket.io/?EIO=4&transport=polling"
	if p.sid != "" {
		u += "&sid=" + url.QueryEscape(p.sid)
	}
	req, err := http.NewRequestWithContext(ctxT(p.t), method, u, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Header.Get("X-Lab-Node"), resp.StatusCode, string(b)
}

// open opens a session and joins the chat; it returns the node that holds
// it.
func (p *pollingUser) open() string {
	p.t.Helper()
	p.sid = ""
	node, code, body := p.do(http.MethodGet, "")
	sid, ok := strings.CutPrefix(body, `0{"sid":"`)
	if code != http.StatusOK || !ok {
		p.t.Fatalf("handshake: got %d %q, want 200 and an open packet", code, body)
	}
	p.sid, _, _ = strings.Cut(sid, `"`)
	if n, code, body := p.do(http.MethodPost, "40"); code != http.StatusOK || n != node {
		p.t.Fatalf("connect: got %d %q from %s, want 200 from %s, which opened the session", code, body, n, node)
	}
	return node
}

// stays checks that n polls and posts of the session all reach want.
func (p *pollingUser) stays(n int, want string) {
	p.t.Helper()
	for i := range n {
		if got, code, body := p.do(http.MethodGet, ""); code != http.StatusOK || got != want {
			p.t.Fatalf("poll %d: got %d %q from %s, want 200 from %s (the cookie's)", i+1, code, body, got, want)
		}
		if got, code, body := p.do(http.MethodPost, `42["message","hi"]`); code != http.StatusOK || got != want {
			p.t.Fatalf("post %d: got %d %q from %s, want 200 from %s (the cookie's)", i+1, code, body, got, want)
		}
	}
}

func (p *pollingUser) cookie(name string) string {
	p.t.Helper()
	u, _ := url.Parse(p.base)
	for _, c := range p.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// TestLBCookiePinsAPollingSessionThroughLabUp: a Go HTTP client with a
// cookie jar polls a chat session through lab up --stickiness lb_cookie.
// The balancer's cookie keeps every request of the session on the node that
// holds it; a forged cookie is ignored and replaced; once the pinned node
// is killed the next request is re-picked to the other node, which does not
// know the session (400 Session ID unknown, as a Socket.IO server answers),
// and the new session sticks to the node the rewritten cookie names.
func TestLBCookiePinsAPollingSessionThroughLabUp(t *testing.T) {
	u := startUp(t, "--stickiness", "lb_cookie", "--ping-interval", "200ms")
	ann := newPollingUser(t, u.balancer)
	pinned := ann.open()
	if ann.cookie("WSLABLB") == "" {
		t.Fatal("after the handshake: no WSLABLB cookie in the jar")
	}
	ann.stays(5, pinned) // round robin alone would alternate

	// A forged cookie: one bit of the token flipped.
	bo := newPollingUser(t, u.balancer)
	raw, err := base64.RawURLEncoding.DecodeString(ann.cookie("WSLABLB"))
	if err != nil {
		t.Fatalf("WSLABLB is not base64url: %v", err)
	}
	raw[0] ^= 1
	forged := base64.RawURLEncoding.EncodeToString(raw)
	bl, _ := url.Parse(u.balancer)
	bo.c.Jar.SetCookies(bl, []*http.Cookie{{Name: "WSLABLB", Value: forged, Path: "/"}})
	before := u.status(t).Balancer.Stickiness.Repicks
	boNode := bo.open()
	if c := bo.cookie("WSLABLB"); c == forged || c == "" {
		t.Fatalf("the forged cookie was not replaced: got %q", c)
	}
	if after := u.status(t).Balancer.Stickiness.Repicks; after != before+1 {
		t.Fatalf("status re-picks after the forged cookie: got %d, want %d", after, before+1)
	}
	bo.stays(3, boNode)

	if out, code := u.ctl(t, "node", pinned, "kill"); code != 0 {
		t.Fatalf("lab ctl node %s kill: exit %d: %s", pinned, code, out)
	}
	got, code, body := ann.do(http.MethodGet, "")
	if got == pinned || code != http.StatusBadRequest || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("the session's next poll after the kill: got %d %q from %q, want 400 Session ID unknown from the other node", code, body, got)
	}
	if after := u.status(t).Balancer.Stickiness.Repicks; after != before+2 {
		t.Fatalf("status re-picks after the kill: got %d, want %d", after, before+2)
	}
	again := ann.open()
	if again != got {
		t.Fatalf("the new session: got node %q, want %q, which the rewritten cookie names", again, got)
	}
	ann.stays(3, again)
	u.stop()
}
