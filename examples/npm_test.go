//go:build unix

package examples_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// npmBin is the npm beside LAB_TEST_NODE's node, or the one on PATH.
func npmBin(t *testing.T, example string) string {
	t.Helper()
	npm := filepath.Join(filepath.Dir(nodeBin(t, example)), "npm")
	if _, err := os.Stat(npm); err == nil {
		return npm
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is not beside LAB_TEST_NODE nor on PATH: %v", err)
	}
	return npm
}

// TestNpmStartHandsSIGTERMToTheAppAndLeavesNothingBehind: a SIGTERM to the
// npm process alone (what a supervisor that knows only its child sends)
// reaches the app, which drains and exits; npm exits 0 after it and no
// process of the group is left. With "start": "node server.js" npm's shell
// died and the app ran on, orphaned, without ever seeing the signal.
func TestNpmStartHandsSIGTERMToTheAppAndLeavesNothingBehind(t *testing.T) {
	r, _ := chatRedis(t)
	for _, tc := range []struct {
		example string
		env     []string
	}{
		{chatExample, []string{"REDIS_URL=" + r.URL()}},
		{wsExample, nil},
	} {
		t.Run(tc.example, func(t *testing.T) {
			a := launchCmd(t, tc.example, []string{npmBin(t, tc.example), "start"}, tc.env...)
			a.ready(t)
			a.signal(t, syscall.SIGTERM)
			if code := a.wait(t); code != 0 {
				t.Fatalf("npm start's exit code after SIGTERM: got %d, want 0; output:\n%s", code, a.output())
			}
			if err := syscall.Kill(-a.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
				syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL) // ours: the group we started
				t.Fatalf("a process of npm start's group outlived npm (kill -0: %v); output:\n%s", err, a.output())
			}
			<-a.readDone
			for _, want := range []string{"SIGTERM: /healthz answers 503", "stopped"} {
				if out := a.output(); !strings.Contains(out, want) {
					t.Fatalf("the app did not say %q:\n%s", want, out)
				}
			}
		})
	}
}
