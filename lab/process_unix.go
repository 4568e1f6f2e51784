//go:build unix

package lab

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// canSignalGroups: kill, stop and hang are signals to the node's process
// group, so that nothing behind `sh -c` or `npm start` is left behind.
const canSignalGroups = true

// shellCommand runs line with /bin/sh in a process group of its own,
// which the lab's faults signal as one.
func shellCommand(line string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

type groupSig int

const (
	sigKill groupSig = iota
	sigTerm
	sigStop
	sigCont
)

var sysSigs = [...]syscall.Signal{sigKill: syscall.SIGKILL, sigTerm: syscall.SIGTERM, sigStop: syscall.SIGSTOP, sigCont: syscall.SIGCONT}

func (s groupSig) String() string { return [...]string{"SIGKILL", "SIGTERM", "SIGSTOP", "SIGCONT"}[s] }

// signalGroup sends sig to every process of the group; a group that is
// gone already is no error.
func signalGroup(pgid int, sig groupSig) error {
	if pgid <= 1 {
		return fmt.Errorf("lab: refusing to signal process group %d", pgid)
	}
	err := syscall.Kill(-pgid, sysSigs[sig])
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// groupText says what a signal to the group did, for the event line.
func groupText(sig groupSig, pgid, n int) string {
	return fmt.Sprintf("%s to process group %d (%s)", sig, pgid, processesText(n))
}

func processesText(n int) string {
	if n == 1 {
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}
