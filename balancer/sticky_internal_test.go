package balancer

import (
	"net/url"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
)

// FuzzStickyCookie: whatever a client sends as Cookie, reading the sticky
// cookie never panics, and follows a backend only with a cookie the
// balancer signed; every cookie it signs is followed back to its backend.
func FuzzStickyCookie(f *testing.F) {
	u, _ := url.Parse("http://127.0.0.1:9001")
	targets := []*target{{name: "node-1", url: u, b: newBackend("node-1")}, {name: "node-2", url: u, b: newBackend("node-2")}}
	s := newSticky(config.Stickiness{Type: config.StickyLBCookie, Duration: config.Duration(time.Hour)}, []byte("0123456789abcdef0123456789abcdef"), targets)
	now := time.Unix(1_800_000_000, 0)
	good := s.value(targets[1], now)
	f.Add([]byte("WSLABLB=" + good))
	f.Add([]byte("a=1; WSLABLB=" + good + "; b=2"))
	f.Add([]byte("WSLABLBCORS=\"" + good + "\""))
	f.Add([]byte("WSLABLB=" + good[:len(good)-1] + "A"))
	f.Add([]byte("WSLABLB=;;=; WSLABLB"))
	f.Fuzz(func(t *testing.T, h []byte) {
		// Only node-2's cookie was signed: anything else followed is forged.
		if p := s.pinned([][]byte{h}, now); p.t != nil && p.t != targets[1] {
			t.Fatalf("followed %q to %s, want node-2 or nothing", h, p.t.name)
		}
	})
}

func TestStickyCookieRoundTripsAndExpires(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:9001")
	targets := []*target{{name: "a", url: u, b: newBackend("a")}, {name: "b", url: u, b: newBackend("b")}}
	s := newSticky(config.Stickiness{Type: config.StickyLBCookie, Duration: config.Duration(time.Minute)}, []byte("key"), targets)
	now := time.Unix(1_800_000_000, 0)
	for _, tg := range targets {
		h := []byte("x=1; " + config.StickyCookie + "=" + s.value(tg, now))
		if p := s.pinned([][]byte{h}, now.Add(time.Minute)); p.t != tg {
			t.Errorf("cookie for %s: got %+v, want it followed", tg.name, p)
		}
		if p := s.pinned([][]byte{h}, now.Add(time.Minute+time.Second)); p.t != nil || p.why != "expired" {
			t.Errorf("cookie for %s a second after its expiry: got %+v, want expired", tg.name, p)
		}
	}
	other := newSticky(config.Stickiness{Type: config.StickyLBCookie, Duration: config.Duration(time.Minute)}, []byte("another key"), targets)
	h := []byte(config.StickyCookie + "=" + other.value(targets[0], now))
	if p := s.pinned([][]byte{h}, now); p.t != nil || p.why != "invalid" {
		t.Errorf("a cookie signed by another balancer: got %+v, want invalid", p)
	}
}
