package balancer

import (
	"testing"

	"github.com/wslab/wslab/balancer/config"
)

// BenchPick runs the policy of cfg b.N times over its servers, as the data
// path does for each new connection.
func BenchPick(b *testing.B, cfg config.Config) {
	bal := newBalancer(Options{})
	snap := bal.buildSnapshot(cfg.WithDefaults(), 1)
	for b.Loop() {
		cands := snap.candidates(nil)
		snap.policy.pick(cands, "192.0.2.7")
	}
}
