package balancer

import (
	"fmt"
	"net/http"

	"github.com/wslab/wslab/events"
)

// upgradeAttempts is the walk for a WebSocket upgrade, which a lambda
// target may refuse (server_group.lambda_upgrade_status), and which
// follows a sticky cookie read by the handshake core.
func (b *Balancer) upgradeAttempts(req *upgradeReq, snap *snapshot) attempts {
	a := attempts{b: b, clientIP: hostOf(req.clientAddr), snap: snap, pol: snap.policy, replayable: true, upgrade: true, tls: req.tls}
	if snap.sticky != nil {
		a.pin = snap.sticky.pinned(req.cookies.values(), b.clock.Now())
	}
	return a
}

// each picks backends with the policy and hands each to try until one
// takes the request. try returns an error only when the backend refused the
// connection: that is a passive failure, and the next backend is tried
// (bounded by retries, and only if the request can be sent again). It
// returns the answer for the client when none took it: 503 with no backend
// to pick, 502 when all refused; 0 otherwise. A sticky request (pin, from
// the request's cookie) goes first to the backend its cookie names, if that
// one may take it.
func (a *attempts) each(try func(*target) error) (int, string) {
	for t := a.next(); t != nil; t = a.next() {
		err := try(t)
		if err == nil {
			return 0, ""
		}
		a.failed(t, err)
	}
	return a.answer()
}

// attempts is the walk over the backends, one step at a time, for
// callers that learn later whether a backend took the connection.
type attempts struct {
	b          *Balancer
	clientIP   string
	snap       *snapshot
	pol        policy
	replayable bool
	upgrade    bool // a WebSocket upgrade: a lambda target may refuse it
	tried      []*target
	last       error
	// lambda is the lambda target an upgrade was refused by.
	lambda *target
	pin    pin  // what the request's sticky cookie says, if stickiness is on
	tls    bool // the client came in over TLS (the CORS cookie's twin)
}

// next picks the backend to try now, or nil when there is none left to try.
func (a *attempts) next() *target {
	if len(a.tried) > *a.snap.cfg.ServerGroup.Retries || len(a.tried) > 0 && !a.replayable {
		return nil // out of retries, or the body is spent and cannot be sent again
	}
	cands := a.snap.candidates(a.tried)
	if len(cands) == 0 {
		return nil
	}
	t := a.stickyPick(cands)
	if t == nil {
		t = a.pol.pick(cands, a.clientIP)
		a.stuck(t)
	}
	if a.upgrade && t.lambda && a.snap.cfg.ServerGroup.LambdaUpgradeStatus != 0 {
		a.lambda = t // as AWS ALB: no WebSockets to a Lambda, and no other target tried
		return nil
	}
	return t
}

// failed records that t refused the connection: a passive failure.
func (a *attempts) failed(t *target, err error) {
	t.b.failures.Add(1)
	a.b.publish(events.Event{Kind: events.BackendFailure, Backend: t.name, Detail: err.Error()})
	a.last = fmt.Errorf("backend %s: %w", t.name, err)
	a.tried = append(a.tried, t)
}

// answer is what the client hears when no backend took the connection.
func (a *attempts) answer() (int, string) {
	if a.lambda != nil {
		return a.snap.cfg.ServerGroup.LambdaUpgradeStatus, fmt.Sprintf("backend %s is a lambda target: WebSocket upgrades are not supported (server_group.lambda_upgrade_status)", a.lambda.name)
	}
	if a.last == nil {
		return http.StatusServiceUnavailable, "no healthy backend in the server group"
	}
	return http.StatusBadGateway, fmt.Sprintf("no backend could be reached (tried %d): %v", len(a.tried), a.last)
}

// stickyPick returns the backend the request's cookie names, on the first
// try, if it may take a new connection; nil to let the policy pick.
func (a *attempts) stickyPick(cands []*target) *target {
	if a.pin.t == nil || len(a.tried) > 0 {
		return nil
	}
	for _, t := range cands {
		if t == a.pin.t {
			a.b.sticky.hits.Add(1)
			return t
		}
	}
	return nil
}

// stuck counts a policy's pick with stickiness on: new for a request
// without a cookie, else a re-pick, reported with why the cookie was not
// followed. The answer then carries a cookie naming t.
func (a *attempts) stuck(t *target) {
	if a.snap.sticky == nil || len(a.tried) > 0 && (a.pin.t == nil || a.tried[0] != a.pin.t || len(a.tried) > 1) {
		return // a retry after the policy's own pick: counted already
	}
	if !a.pin.carried {
		a.b.sticky.fresh.Add(1)
		return
	}
	a.b.sticky.repicks.Add(1)
	why := a.pin.why
	switch {
	case len(a.tried) > 0:
		why = "backend " + a.tried[len(a.tried)-1].name + " refused the connection"
	case a.pin.t != nil:
		why = "backend " + a.pin.t.name + " is " + a.pin.t.unavailable()
	case why == "removed":
		why = "the cookie names a backend no longer in the server group"
	default:
		why = "the cookie is " + why
	}
	a.b.publish(events.Event{Kind: events.StickyRepick, Backend: t.name, Reason: a.pin.reason(len(a.tried) > 0), Detail: why + "; re-picked " + t.name})
}

// cookies are the Set-Cookie values for t's answer to an upgrade, or nil
// (setsApp reports whether the answer sets a cookie, for app_cookie).
func (a *attempts) cookies(t *target, setsApp func(string) bool) []string {
	if a.snap.sticky == nil {
		return nil
	}
	return a.snap.sticky.answerCookies(a.pin, t, a.tls, a.b.clock.Now(), setsApp)
}
