package lab

import (
	"fmt"
	"os"
	"time"
)

// spawn starts line as a process group of its own (a command node or a
// client process), its output read into inc.out and the sink under name.
// When the launcher exits without the lab asking, the rest of its group
// is killed (no orphans) and onExit, if any, runs on the waiter with how
// many were left.
func spawn(name, line, dir string, env []string, sink *outputSink, onExit func(inc *incarnation, left int)) (*incarnation, error) {
	cmd := shellCommand(line)
	cmd.Dir, cmd.Env = dir, env
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		if fi, serr := os.Stat(dir); dir != "" && (serr != nil || !fi.IsDir()) {
			// exec reports a missing working directory as the shell missing
			wd, _ := os.Getwd()
			return nil, fmt.Errorf("%s: start %q: dir %q: no such directory (a relative one is from %s, where the lab runs)", name, line, dir, wd)
		}
		return nil, fmt.Errorf("%s: start %q: %w", name, line, err)
	}
	pw.Close() // the group holds the only write ends now
	inc := &incarnation{cmd: cmd, pid: cmd.Process.Pid, line: line, exited: make(chan struct{}), done: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		copyLines(pr, name, &inc.out, sink)
	}()
	go func() {
		defer close(inc.done)
		inc.err = inc.cmd.Wait()
		close(inc.exited)
		expected := inc.ended.Load()
		left := 0
		if !expected {
			if left = len(groupMembersOrNil(inc.pid)); left > 0 {
				signalGroup(inc.pid, sigKill)
			}
		}
		// Whatever else still holds the pipe is killed or dying: read
		// what it printed, then cut it.
		finishOutput(pr, read)
		if !expected && onExit != nil {
			onExit(inc, left)
		}
	}()
	return inc, nil
}

// endAll ends inc's whole group as Close does: SIGTERM (and SIGCONT, for
// a stopped one), SIGKILL after grace, then waits for it to be gone.
func endAll(name string, inc *incarnation, grace time.Duration) error {
	if inc.alive() {
		inc.ended.Store(true)
		signalGroup(inc.pid, sigTerm)
		signalGroup(inc.pid, sigCont)
		if !waitGone(inc, grace) {
			signalGroup(inc.pid, sigKill)
		}
	}
	if !waitGone(inc, killWait) {
		return fmt.Errorf("%s: process group %d still has processes %v after SIGKILL", name, inc.pid, groupMembersOrNil(inc.pid))
	}
	return nil
}
