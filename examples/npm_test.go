//go:build unix

package examples_test

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wslab/wslab/internal/sioclienttest"
)

// npmBin is the npm beside LAB_TEST_NODE's node, or the one on PATH.
func npmBin(t *testing.T, example string) string {
	t.Helper()
	return sioclienttest.NPM(t, nodeBin(t, example))
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

// TestASIGTERMToNpmStartsWholeGroupIsOneStopWithItsGrace: lab ctl node
// NAME stop signals the process group, so the app gets the SIGTERM twice,
// its own and npm start's copy. That is one stop: the app serves out its
// grace, it does not take the copy for a second signal that ends it early.
func TestASIGTERMToNpmStartsWholeGroupIsOneStopWithItsGrace(t *testing.T) {
	r, _ := chatRedis(t)
	const grace = 1500 * time.Millisecond
	for _, tc := range []struct {
		example string
		env     []string
	}{
		{chatExample, []string{"REDIS_URL=" + r.URL()}},
		{wsExample, nil},
	} {
		t.Run(tc.example, func(t *testing.T) {
			a := launchCmd(t, tc.example, []string{npmBin(t, tc.example), "start"},
				append(tc.env, fmt.Sprintf("SHUTDOWN_GRACE_MS=%d", grace.Milliseconds()))...)
			a.ready(t)
			began := time.Now()
			if err := syscall.Kill(-a.cmd.Process.Pid, syscall.SIGTERM); err != nil { // the group we started
				t.Fatal(err)
			}
			if code := a.wait(t); code != 0 {
				t.Fatalf("exit code after SIGTERM to the group: got %d, want 0; output:\n%s", code, a.output())
			}
			if took := time.Since(began); took < grace {
				t.Fatalf("npm start exited %s after the SIGTERM, before the grace of %s; output:\n%s", took, grace, a.output())
			}
			<-a.readDone
			if out := a.output(); strings.Contains(out, "again: closing now") {
				t.Fatalf("the app took npm's copy of the SIGTERM for a second signal:\n%s", out)
			}
		})
	}
}
