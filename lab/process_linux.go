//go:build linux

package lab

import (
	"bytes"
	"os"
	"strconv"
)

// groupProcs lists the processes of a process group with their state
// letter (R, S, T for stopped, Z for zombie...), from /proc.
func groupProcs(pgid int) ([]groupProc, bool) {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	var out []groupProc
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 4 {
			continue
		}
		if g, err := strconv.Atoi(string(f[2])); err == nil && g == pgid {
			out = append(out, groupProc{pid, f[0][0]})
		}
	}
	return out, true
}
