//go:build unix

package balancer

import "syscall"

const canPeek = true

// peekHangUp looks at what a socket has without taking it: the end of the
// stream or an error means the peer is gone; nothing yet means wait.
func peekHangUp(fd uintptr) (gone, again bool) {
	var b [1]byte
	for {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false, true
		case err != nil || n == 0:
			return true, false
		}
		return false, false // data: the client is there
	}
}
