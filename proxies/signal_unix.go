//go:build unix

package proxies

import "syscall"

var sigUSR2 = syscall.SIGUSR2
