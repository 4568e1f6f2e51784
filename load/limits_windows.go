package load

import (
	"syscall"
	"time"
)

// RaiseFileLimit does nothing on Windows, which has no per-process limit
// on open sockets to raise, and returns 0 for "no such limit".
func RaiseFileLimit() uint64 { return 0 }

// cpuTime is the CPU the process has used, user and kernel.
func cpuTime() time.Duration {
	self, err := syscall.GetCurrentProcess()
	if err != nil {
		return 0
	}
	var creation, exit, kernel, user syscall.Filetime
	if syscall.GetProcessTimes(self, &creation, &exit, &kernel, &user) != nil {
		return 0
	}
	ticks := func(f syscall.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100 // 100 ns ticks
}
