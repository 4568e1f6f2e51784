//go:build unix && !linux

package balancer

import "syscall"

// readable cannot peek portably here; the read itself tells, holding a
// buffer only for that moment.
func readable(uintptr) bool { return true }

func readFD(fd uintptr, p []byte) (int, error) {
	n, err := syscall.Read(int(fd), p)
	if n < 0 {
		n = 0
	}
	return n, err
}
