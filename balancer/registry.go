package balancer

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// registry is the set of open tunnels: what status lists, a drain closes
// and Close ends. A tunnel is in it from registration (before the client
// hears 101) until its close.
type registry struct {
	nextID atomic.Uint64 // numbers tunnels in order of opening

	// mu guards the fields below; nothing is taken inside it.
	mu      sync.Mutex
	tunnels map[*tunnel]struct{}
	closing bool // Close began: nothing more is added
}

func newRegistry() *registry { return &registry{tunnels: map[*tunnel]struct{}{}} }

// add registers tn unless the balancer is closing (then it reports
// false), and adds goroutines to wg under the registry's lock: Close,
// which closes the registry before it waits, never misses them.
func (r *registry) add(tn *tunnel, wg *sync.WaitGroup, goroutines int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.tunnels[tn] = struct{}{}
	wg.Add(goroutines)
	return true
}

// remove takes tn out; it reports whether tn was registered.
func (r *registry) remove(tn *tunnel) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.tunnels[tn]
	delete(r.tunnels, tn)
	return ok
}

// list returns the open tunnels that keep reports true (nil: all),
// oldest first.
func (r *registry) list(keep func(*tunnel) bool) []*tunnel {
	r.mu.Lock()
	out := make([]*tunnel, 0, len(r.tunnels))
	for tn := range r.tunnels {
		if keep == nil || keep(tn) {
			out = append(out, tn)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *tunnel) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// close refuses every later add and returns the tunnels open now.
func (r *registry) close() []*tunnel {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	return r.list(nil)
}
