package main_test

import (
	"testing"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/sioclienttest"
)

// TestRealSocketIOClientChatsThroughLabUpWithLBCookie: the real
// socket.io-client, 4.8 and 4.0.1, polling only and with its default
// transports (polling, then the upgrade), plays the chat through lab up
// --stickiness lb_cookie with one user on each node — as long as it keeps
// the balancer's cookie. In Node it keeps none by default: 4.8 keeps a
// cookie jar only with withCredentials, 4.0.1 none at all, so an
// application hands it the cookie in extraHeaders ("fetched"). A client
// that keeps no cookie fails as it does without stickiness.
func TestRealSocketIOClientChatsThroughLabUpWithLBCookie(t *testing.T) {
	nodeBin := sioclienttest.Node(t)
	u := startUp(t, "--stickiness", "lb_cookie", "--ping-interval", "100ms")
	transports := []struct{ choice, ends string }{{"polling", "polling"}, {"default", "websocket"}}
	// One at a time: each user's first request is a new client to the round
	// robin, so A lands on node-1 and B on node-2, as the chat table says.
	for _, c := range []struct{ pkg, cookies string }{
		{"socket.io-client", "withCredentials"},
		{"socket.io-client", "fetched"},
		{"socket.io-client-401", "fetched"},
	} {
		for _, tr := range transports {
			t.Run(c.pkg+"/"+tr.choice+"/"+c.cookies, func(t *testing.T) {
				out := sioclienttest.Run(t, nodeBin, "chat.mjs", u.balancer, u.balancer, tr.choice, c.pkg, c.cookies)
				chattest.CheckChatMJS(t, out, tr.ends)
			})
		}
	}
	st := u.status(t).Balancer.Stickiness
	if st.Type != "lb_cookie" || st.Hits == 0 || st.Repicks != 0 {
		t.Fatalf("status: got %+v, want lb_cookie with hits and no re-picks", st)
	}
	t.Run("clients that keep no cookie", func(t *testing.T) {
		for _, c := range []struct{ pkg, cookies string }{
			{"socket.io-client", "none"},
			{"socket.io-client-401", "none"},
			{"socket.io-client-401", "withCredentials"},
		} {
			for _, tr := range transports {
				t.Run(c.pkg+"/"+tr.choice+"/"+c.cookies, func(t *testing.T) {
					t.Parallel() // each fails on its own: no order to keep
					sioclienttest.FailsWithSessionIDUnknown(t, nodeBin, u.balancer, tr.choice, c.pkg, c.cookies)
				})
			}
		}
	})
	u.stop()
}

// TestRealSocketIOClientFailsThroughLabUpWithoutStickiness: through round
// robin and no stickiness, the real socket.io-client's polling fails with
// the error a Socket.IO server gives, even when it keeps cookies.
func TestRealSocketIOClientFailsThroughLabUpWithoutStickiness(t *testing.T) {
	nodeBin := sioclienttest.Node(t)
	u := startUp(t)
	t.Cleanup(u.stop) // after the parallel subtests
	for _, c := range []struct{ pkg, cookies string }{
		{"socket.io-client", "withCredentials"},
		{"socket.io-client-401", "fetched"},
	} {
		for _, tr := range []string{"polling", "default"} {
			t.Run(c.pkg+"/"+tr+"/"+c.cookies, func(t *testing.T) {
				t.Parallel()
				sioclienttest.FailsWithSessionIDUnknown(t, nodeBin, u.balancer, tr, c.pkg, c.cookies)
			})
		}
	}
}
