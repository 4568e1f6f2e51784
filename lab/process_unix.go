//go:build unix

package lab

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
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

// groupProc is a process of a group and its state letter.
type groupProc struct {
	pid   int
	state byte
}

// groupMembers lists the live processes of a group: zombies (whose
// parent has not reaped them) are gone for every purpose here.
func groupMembers(pgid int) ([]int, bool) {
	procs, ok := groupProcs(pgid)
	var pids []int
	for _, p := range procs {
		if p.state != 'Z' && p.state != 'X' {
			pids = append(pids, p.pid)
		}
	}
	return pids, ok
}

// waitStopped waits until every live process of the group is stopped
// (SIGSTOP is delivered after kill returns), or d passed.
func waitStopped(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d) // wall time: the kernel's delivery
	for {
		procs, _ := groupProcs(pgid)
		all := true
		for _, p := range procs {
			all = all && (p.state == 'T' || p.state == 't' || p.state == 'Z' || p.state == 'X')
		}
		if all || time.Now().After(deadline) {
			return all
		}
		time.Sleep(5 * time.Millisecond) // polling the OS: no event says a process stopped
	}
}
