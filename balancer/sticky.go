package balancer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

// Cookie stickiness (server_group.stickiness), as the cloud ALBs do it. The
// balancer's cookie names a backend by a token, HMAC(key, name), so it is
// opaque; it carries its expiry, and a MAC over both, so it is
// tamper-evident. The key is drawn once per balancer: a cookie survives a
// reload, not a restart. A cookie that fails any check is ignored and the
// policy picks again, as for a client with no cookie.
//
// Nothing here runs unless stickiness is on: the snapshot's sticky is nil
// otherwise, and the request path never looks at a Cookie header.

const (
	tokenLen  = 12
	macLen    = 16
	cookieLen = tokenLen + 8 + macLen // token, expiry (unix seconds), MAC
)

type token [tokenLen]byte

// sticky is one generation's cookie stickiness.
type sticky struct {
	kind       string // config.StickyLBCookie or config.StickyApp
	appName    string // app_cookie: the application's cookie
	name, cors string // the balancer's cookie, and its SameSite=None twin
	maxAge     string // duration in seconds, for Max-Age
	duration   time.Duration
	key        []byte
	byToken    map[token]*target
	tokens     map[*target]token
}

// newSticky builds the stickiness of a generation; nil when it is off.
func newSticky(st config.Stickiness, key []byte, targets []*target) *sticky {
	if !st.On() {
		return nil
	}
	s := &sticky{
		kind: st.Type, appName: st.CookieName, name: config.StickyCookie, cors: config.StickyCookieCORS,
		duration: time.Duration(st.Duration), key: key,
		byToken: make(map[token]*target, len(targets)), tokens: make(map[*target]token, len(targets)),
	}
	s.maxAge = strconv.FormatInt(int64(s.duration/time.Second), 10)
	if st.Type == config.StickyApp {
		s.name, s.cors = config.AppStickyCookie, config.AppStickyCookieCORS
	}
	for _, t := range targets {
		m := hmac.New(sha256.New, key)
		m.Write([]byte("backend\x00"))
		m.Write([]byte(t.name))
		var tok token
		copy(tok[:], m.Sum(nil))
		s.byToken[tok], s.tokens[t] = t, tok
	}
	return s
}

// pin is what a request's cookies say: the backend they name (nil if none
// is valid), whether the request carried a cookie of ours at all, and why
// it was not followed.
type pin struct {
	t       *target
	carried bool
	app     bool   // app_cookie: the request carries the application's cookie
	why     string // invalid, expired, removed
}

// pinned reads the balancer's cookie from the request's Cookie header
// values. For app_cookie the application's cookie must be there too: its
// session is what the companion follows.
func (s *sticky) pinned(cookieHeaders [][]byte, now time.Time) pin {
	p := pin{app: s.kind == config.StickyApp}
	if p.app && cookieValue(cookieHeaders, s.appName) == nil {
		return pin{}
	}
	v := cookieValue(cookieHeaders, s.name)
	if v == nil {
		v = cookieValue(cookieHeaders, s.cors)
	}
	if v == nil {
		return p
	}
	p.carried, p.why = true, "invalid"
	var raw [cookieLen + 2]byte
	if base64.RawURLEncoding.DecodedLen(len(v)) != cookieLen {
		return p
	}
	if n, err := base64.RawURLEncoding.Decode(raw[:], v); err != nil || n != cookieLen {
		return p
	}
	body, mac := raw[:tokenLen+8], raw[tokenLen+8:cookieLen]
	if !hmac.Equal(mac, s.mac(body)) {
		return p
	}
	if int64(binary.BigEndian.Uint64(body[tokenLen:])) < now.Unix() {
		p.why = "expired"
		return p
	}
	if p.t = s.byToken[token(body[:tokenLen])]; p.t == nil {
		p.why = "removed"
		return p
	}
	p.why = ""
	return p
}

func (s *sticky) mac(body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(body)
	return m.Sum(nil)[:macLen]
}

// value is the cookie value that pins a client to t until now+duration.
func (s *sticky) value(t *target, now time.Time) string {
	var raw [cookieLen]byte
	tok := s.tokens[t]
	copy(raw[:], tok[:])
	binary.BigEndian.PutUint64(raw[tokenLen:], uint64(now.Add(s.duration).Unix()))
	copy(raw[tokenLen+8:], s.mac(raw[:tokenLen+8]))
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// setCookies returns the Set-Cookie values that pin the client to t. Max-Age,
// not Expires: a scenario's clock is not the browser's. Over TLS the CORS
// twin goes with it (SameSite=None; Secure), so that a page of another
// origin that connects withCredentials keeps it; browsers refuse
// SameSite=None without Secure, so it is not sent over plain HTTP. The twin
// is Partitioned (CHIPS): a browser that blocks third-party cookies — by
// default headless Chromium and incognito windows do — keeps a partitioned
// one, for the site of the page, and drops any other.
func (s *sticky) setCookies(t *target, tls bool, now time.Time) []string {
	v := s.value(t, now)
	out := []string{s.name + "=" + v + "; Path=/; Max-Age=" + s.maxAge}
	if tls {
		out = append(out, s.cors+"="+v+"; Path=/; Max-Age="+s.maxAge+"; SameSite=None; Secure; Partitioned")
	}
	return out
}

// answerCookies returns the Set-Cookie values for an answer from t:
// lb_cookie on every answer (the expiry slides); app_cookie when the
// application sets its cookie in this answer (setsApp reports whether it
// does) or the request carried it, so that the companion follows the
// application's session.
func (s *sticky) answerCookies(p pin, t *target, tls bool, now time.Time, setsApp func(name string) bool) []string {
	if s.kind == config.StickyApp && !p.app && !setsApp(s.appName) {
		return nil
	}
	return s.setCookies(t, tls, now)
}

// reason is the sticky.repick event's Reason: invalid, expired, removed,
// unavailable (unhealthy, draining, weight 0) or refused (the dial failed).
func (p pin) reason(refused bool) string {
	switch {
	case refused:
		return "refused"
	case p.t != nil:
		return "unavailable"
	}
	return p.why
}

// unavailable says why t takes no new connection, in a word or two.
func (t *target) unavailable() string {
	switch {
	case t.drain || t.b.draining.Load():
		return "draining"
	case !t.b.healthy.Load():
		return "unhealthy"
	case t.weight == 0:
		return "at weight 0"
	}
	return "not available"
}

// stickyCounters count what stickiness did, since start.
type stickyCounters struct {
	hits    atomic.Uint64 // the cookie's backend took the request
	repicks atomic.Uint64 // a cookie was not followed: the policy picked again
	fresh   atomic.Uint64 // no cookie: the policy picked, and the answer set one
}
