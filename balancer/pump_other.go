//go:build unix && !linux

package balancer

import "syscall"

func readFD(fd uintptr, p []byte) (int, error) {
	n, err := syscall.Read(int(fd), p)
	if n < 0 {
		n = 0
	}
	return n, err
}
