//go:build !linux

package lab

import (
	"context"
	"os"
	"syscall"
	"time"
)

// awaitExit returns when pid has exited or ctx ends. Without Linux's
// pidfd there is no exit event for a process that is not our child, so it
// asks the system every 10 ms (signal 0).
func awaitExit(ctx context.Context, pid int) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if p, err := os.FindProcess(pid); err != nil || p.Signal(syscall.Signal(0)) != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
