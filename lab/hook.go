package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// runHook runs a hook command to completion (bounded by hookTimeout).
func runHook(ctx context.Context, name, which, line, dir string, env []string, sink *outputSink) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	cmd := shellCommand(line)
	cmd.Dir, cmd.Env = dir, env
	var out tail
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return "", fmt.Errorf("%s: %s %q: %w", name, which, line, err)
	}
	pw.Close()
	read := make(chan struct{})
	go func() {
		defer close(read)
		copyLines(pr, name, &out, sink)
	}()
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err = <-werr:
	case <-ctx.Done():
		signalGroup(cmd.Process.Pid, sigKill)
		err = <-werr
	}
	finishOutput(pr, read)
	if err != nil {
		return "", fmt.Errorf("%s: %s %q failed (%s); %s", name, which, line, exitText(err), out.String())
	}
	return fmt.Sprintf("ran %s %q (exit 0)", which, line), nil
}

// exitText says how a process ended.
func exitText(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String() // "exit status 1", "signal: killed"
	}
	return err.Error()
}

// oneLineTail is the tail for an event line.
func oneLineTail(t *tail) string {
	return strings.ReplaceAll(t.String(), "\n  | ", " | ")
}

// processFaults are the faults a command node takes here.
func processFaults(spec NodeSpec) []string {
	if canSignalGroups {
		return []string{"kill", "stop", "hang", "start", "restart"}
	}
	out := []string{"kill", "start", "restart"}
	if spec.StopCmd != "" {
		out = append(out, "stop")
	}
	if spec.HangCmd != "" {
		out = append(out, "hang")
	}
	return out
}

// finishOutput waits up to pipeLinger for the reader of a process's output
// to see the pipe end (whatever else holds the pipe — a child the launcher
// left — is killed or dying), then cuts the pipe and waits for the reader:
// what the process printed is all read before anyone quotes it.
func finishOutput(pr io.Closer, read <-chan struct{}) {
	t := time.NewTimer(pipeLinger)
	select {
	case <-read:
	case <-t.C:
	}
	t.Stop()
	pr.Close()
	<-read
}
