package main_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wslab/wslab/internal/browsertest"
	"github.com/wslab/wslab/internal/sioclienttest"
)

// onHost is u with its host name replaced (the port kept).
func onHost(t *testing.T, u, host string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.Host = host + ":" + p.Port()
	return p.String()
}

// TestRealSocketIOClientInBrowsersThroughLabUpWithLBCookie: pages of
// another origin run the real socket.io-client (4.8 and 4.0.1, polling
// only and the default polling-then-upgrade) in headless Chromium with
// withCredentials, through lab up --stickiness lb_cookie: each user keeps
// the balancer's cookie, stays on its node, and they chat across the two
// nodes. A page on another port of the same site gets the plain cookie
// over HTTP; a page of another site gets only the SameSite=None twin the
// balancer sets on its TLS listener. Without stickiness the same page
// fails to connect.
//
// Every host name below is 127.0.0.1 to the browser: alice and bob reach
// the balancer by names of their own, so that each has a cookie of its own
// (two people, two browsers).
func TestRealSocketIOClientInBrowsersThroughLabUpWithLBCookie(t *testing.T) {
	b := browsertest.New(t,
		chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true), // the lab's self-signed certificate
	)
	pages := sioclienttest.Pages(t)
	pagePort := strings.TrimPrefix(pages.URL, "http://127.0.0.1:")
	page := func(host string, lab, name, transports, pkg string) string {
		q := url.Values{"node": {lab}, "transports": {transports}, "name": {name}, "pkg": {pkg}}
		return "http://" + host + ":" + pagePort + "/?" + q.Encode()
	}
	chat := func(t *testing.T, alice, bob *browsertest.Page, bobTransport string) {
		t.Helper()
		alice.WaitText("log", "Your username is set to alice")
		bob.WaitText("log", "Your username is set to bob")
		alice.WaitText("log", "node: node-1")
		bob.WaitText("log", "node: node-2")
		browsertest.Eval[bool](alice, `(say("hello from another origin"), true)`)
		bob.WaitText("log", "alice: hello from another origin")
		alice.WaitText("log", "alice: hello from another origin")
		browsertest.Eval[bool](bob, `(say("hello back"), true)`)
		alice.WaitText("log", "bob: hello back")
		if got := browsertest.Eval[string](alice, `transport()`); got != "polling" {
			t.Fatalf("alice's transport: got %q, want polling", got)
		}
		if bobTransport == "websocket" {
			bob.WaitFor(`transport() === "websocket"`) // upgraded
		}
	}

	// leave closes the pages' connections before their lab stops: the
	// browser would report the stop as errors.
	leave := func(pages ...*browsertest.Page) {
		for _, p := range pages {
			p.Do(chromedp.Navigate("about:blank"))
		}
	}

	t.Run("a page of the same site on another port, over HTTP", func(t *testing.T) {
		u := startUp(t, "--stickiness", "lb_cookie", "--allow-origin", "*.lab.test:"+pagePort)
		alice := b.Open("alice", page("a.lab.test", onHost(t, u.balancer, "a.lab.test"), "alice", "polling", "socket.io-client"))
		bob := b.Open("bob", page("b.lab.test", onHost(t, u.balancer, "b.lab.test"), "bob", "default", "socket.io-client-401"))
		chat(t, alice, bob, "websocket")
		if st := u.status(t).Balancer.Stickiness; st.Hits == 0 || st.Repicks != 0 || st.New != 2 {
			t.Fatalf("status: got %+v, want hits, no re-picks, 2 new", st)
		}
		leave(alice, bob)
		u.stop()
	})

	t.Run("a page of another site, over TLS", func(t *testing.T) {
		u := startUp(t, "--stickiness", "lb_cookie", "--tls=127.0.0.1:0", "--allow-origin", "pages.test:"+pagePort)
		m := regexp.MustCompile(`(?m)^  wss\s+(https://\S+)`).FindStringSubmatch(u.output())
		if m == nil {
			t.Fatalf("no wss line in the summary:\n%s", u.output())
		}
		alice := b.Open("alice", page("pages.test", onHost(t, m[1], "alice.test"), "alice", "polling", "socket.io-client-401"))
		bob := b.Open("bob", page("pages.test", onHost(t, m[1], "bob.test"), "bob", "default", "socket.io-client"))
		chat(t, alice, bob, "websocket")
		if st := u.status(t).Balancer.Stickiness; st.Hits == 0 || st.Repicks != 0 || st.New != 2 {
			t.Fatalf("status: got %+v, want hits, no re-picks, 2 new", st)
		}
		leave(alice, bob)
		u.stop()
	})

	t.Run("without stickiness", func(t *testing.T) {
		u := startUp(t, "--allow-origin", "*.lab.test:"+pagePort)
		for _, pkg := range []string{"socket.io-client", "socket.io-client-401"} {
			p := b.Open("carol", page("c.lab.test", onHost(t, u.balancer, "c.lab.test"), "carol", "polling", pkg))
			p.IgnoreConsoleErrors() // the browser reports the 400s
			p.WaitFor(`/connect_error: xhr (poll|post) error/.test(document.getElementById("log").textContent)`)
			leave(p)
		}
		u.stop()
	})
}
