//go:build linux

package balancer

import "golang.org/x/sys/unix"

// abort makes the close of the client's socket a TCP reset: SO_LINGER 0,
// set on the loop before the close that closeConns posts after it.
func (p *rawPair) abort() {
	p.l.post(func() {
		if c := p.client; c.fd >= 0 && !c.dead {
			unix.SetsockoptLinger(c.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		}
	})
}
