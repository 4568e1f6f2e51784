//go:build linux

package lab

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// awaitExit returns when pid has exited or ctx ends, whichever is first.
// It waits on the process's pidfd (readable once the process exits), so
// nothing polls; a pid that is already gone returns at once.
func awaitExit(ctx context.Context, pid int) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		timeout := -1
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(int(time.Until(dl)/time.Millisecond), 0)
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, timeout)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return err
		case n > 0:
			return nil
		}
		return ctx.Err() // the deadline passed
	}
}
