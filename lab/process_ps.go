//go:build unix && !linux

package lab

import (
	"bytes"
	"os/exec"
	"strconv"
)

// groupMembers lists the live processes (not zombies) of a process group,
// from ps: there is no /proc to read here.
func groupMembers(pgid int) ([]int, bool) {
	out, err := exec.Command("ps", "-A", "-o", "pid=,pgid=,stat=").Output()
	if err != nil {
		return nil, false
	}
	var pids []int
	for _, line := range bytes.Split(out, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 3 || f[2][0] == 'Z' {
			continue
		}
		pid, err1 := strconv.Atoi(string(f[0]))
		g, err2 := strconv.Atoi(string(f[1]))
		if err1 == nil && err2 == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, true
}
