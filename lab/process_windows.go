//go:build windows

package lab

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// canSignalGroups is false: Windows has no SIGTERM or SIGSTOP for a
// process tree. Kill ends the tree with taskkill /T /F; stop and hang are
// refused by name unless the node has a stop_cmd or hang_cmd.
const canSignalGroups = false

// shellCommand runs line with cmd.exe in a process group of its own.
func shellCommand(line string) *exec.Cmd {
	cmd := exec.Command("cmd.exe")
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: "/C " + line, CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	return cmd
}

var errNoGroupSignals = errors.New("lab: Windows cannot send this signal to a process tree")

// signalGroup kills the process tree rooted at pid; other signals are not
// possible here (and are refused before this is called).
func signalGroup(pid int, sig groupSig) error {
	if sig != sigKill {
		return errNoGroupSignals
	}
	return exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(pid)).Run()
}

// groupMembers cannot be listed here.
func groupMembers(int) ([]int, bool) { return nil, false }

func waitStopped(int, time.Duration) bool { return false }

func groupText(sig groupSig, pid, _ int) string {
	return fmt.Sprintf("taskkill /T /F on the process tree of %d", pid)
}
