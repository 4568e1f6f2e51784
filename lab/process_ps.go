//go:build unix && !linux

package lab

import (
	"bytes"
	"os/exec"
	"strconv"
)

// groupProcs lists the processes of a process group with their state
// letter (R, S, T for stopped, Z for zombie...), from ps: there is no
// /proc to read here.
func groupProcs(pgid int) ([]groupProc, bool) {
	out, err := exec.Command("ps", "-A", "-o", "pid=,pgid=,stat=").Output()
	if err != nil {
		return nil, false
	}
	var procs []groupProc
	for _, line := range bytes.Split(out, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 3 {
			continue
		}
		pid, err1 := strconv.Atoi(string(f[0]))
		g, err2 := strconv.Atoi(string(f[1]))
		if err1 == nil && err2 == nil && g == pgid {
			procs = append(procs, groupProc{pid, f[2][0]})
		}
	}
	return procs, true
}
