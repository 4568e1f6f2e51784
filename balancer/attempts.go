package balancer

import (
	"fmt"
	"net/http"

	"github.com/wslab/wslab/events"
)

// pickAndTry picks backends with pol and hands each to try until one takes
// the request. try returns an error only when the backend refused the
// connection: that is a passive failure, and the next backend is tried
// (bounded by retries, and only if the request can be sent again). It
// returns the answer for the client when none took it: 503 with no backend
// to pick, 502 when all refused; 0 otherwise.
func (b *Balancer) pickAndTry(clientIP string, snap *snapshot, pol policy, replayable bool, try func(*target) error) (int, string) {
	return attempts{b: b, clientIP: clientIP, snap: snap, pol: pol, replayable: replayable}.each(try)
}

// pickAndTryUpgrade is pickAndTry for a WebSocket upgrade, which a lambda
// target may refuse (server_group.lambda_upgrade_status).
func (b *Balancer) pickAndTryUpgrade(clientIP string, snap *snapshot, try func(*target) error) (int, string) {
	return attempts{b: b, clientIP: clientIP, snap: snap, pol: snap.policy, replayable: true, upgrade: true}.each(try)
}

func (a attempts) each(try func(*target) error) (int, string) {
	for t := a.next(); t != nil; t = a.next() {
		err := try(t)
		if err == nil {
			return 0, ""
		}
		a.failed(t, err)
	}
	return a.answer()
}

// attempts is pickAndTry's walk over the backends, one step at a time, for
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
	t := a.pol.pick(cands, a.clientIP)
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
