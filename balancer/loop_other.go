//go:build !linux

package balancer

// loop is the event loop, which exists on Linux only; elsewhere the front
// door serves each connection with goroutines.
type loop struct{}

func (b *Balancer) startLoops(*handoff, string) bool { return false }

func (*loop) stopAccepting() {}
func (*loop) stop()          {}
