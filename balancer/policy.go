package balancer

import (
	"hash/fnv"
	"math"
	"sync"

	"github.com/wslab/wslab/balancer/config"
)

// policy picks one of the candidates for a new connection. Picks do no I/O,
// never block and read no clock; candidates is never empty.
type policy interface {
	pick(candidates []*target, clientIP string) *target
}

func newPolicy(name string) policy {
	switch name {
	case config.LeastConn:
		return leastConn{}
	case config.SourceHash:
		return sourceHash{}
	}
	return &roundRobin{current: map[string]int{}}
}

// roundRobin is nginx's smooth weighted round-robin: with equal weights it
// cycles a, b, c; with weights 2:1 it gives a, b, a (never a, a, b).
type roundRobin struct {
	// mu guards current.
	mu      sync.Mutex
	current map[string]int
}

func (p *roundRobin) pick(cands []*target, _ string) *target {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *target
	total := 0
	for _, t := range cands {
		p.current[t.name] += t.weight
		total += t.weight
		if best == nil || p.current[t.name] > p.current[best.name] {
			best = t
		}
	}
	p.current[best.name] -= total
	return best
}

// leastConn picks the fewest active tunnels per unit of weight; ties go to
// the first in config order.
type leastConn struct{}

func (leastConn) pick(cands []*target, _ string) *target {
	best := cands[0]
	for _, t := range cands[1:] {
		// t.active/t.weight < best.active/best.weight, without division
		if t.b.active.Load()*int64(best.weight) < best.b.active.Load()*int64(t.weight) {
			best = t
		}
	}
	return best
}

// sourceHash sends a client IP to the same backend while the set of
// backends stays the same, and moves few clients when it changes:
// weighted rendezvous hashing.
type sourceHash struct{}

func (sourceHash) pick(cands []*target, clientIP string) *target {
	var best *target
	bestScore := math.Inf(-1)
	for _, t := range cands {
		h := fnv.New64a()
		h.Write([]byte(clientIP))
		h.Write([]byte{0})
		h.Write([]byte(t.name))
		// Uniform in (0,1): score = -weight / ln(u) favours heavier targets.
		u := (float64(h.Sum64()>>11) + 0.5) / (1 << 53)
		if score := -float64(t.weight) / math.Log(u); score > bestScore {
			best, bestScore = t, score
		}
	}
	return best
}
