package main_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// complete asks lab for completions as a shell does (cobra's hidden
// __complete command) from dir, and returns the candidates without their
// descriptions, and the directive.
func complete(t *testing.T, dir string, args ...string) ([]string, string) {
	t.Helper()
	cmd := exec.Command(labBin, append([]string{"__complete"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("lab __complete %s: %v", strings.Join(args, " "), err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var names []string
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		names = append(names, name)
	}
	return names, lines[len(lines)-1]
}

func TestCompletionNamesWhatTheArgumentsName(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mine.yaml"), "name: mine\n")
	writeFile(t, filepath.Join(dir, "notes.txt"), "")
	tests := []struct {
		name string
		args []string
		want []string // exactly these, in order; "…" ends a prefix of the list
		dir  string
	}{
		{"policies", []string{"up", "--policy", ""}, []string{"round_robin", "least_conn", "source_hash"}, ":4"},
		{"load modes", []string{"load", "--mode", "f"}, []string{"flood"}, ":4"},
		{"node modes", []string{"node", "--mode", ""}, []string{"chat", "echo"}, ":4"},
		{"heartbeat senders", []string{"check", "--from", ""}, []string{"client", "backend", "both"}, ":4"},
		{"profiles", []string{"up", "--profile", "aws-"}, []string{"aws-alb", "aws-nlb", "…"}, ":4"},
		{"the last of a profile list", []string{"check", "--profile", "aws-alb,nginx"}, []string{"aws-alb,nginx-default", "…"}, ":4"},
		{"built-in scenarios", []string{"scenario", "show", "idle"}, []string{"idle-timeout", "…"}, ":4"},
		{"scenarios and scenario files", []string{"scenario", "run", "idle-timeout", "m"}, []string{"mine.yaml"}, ":4"},
		{"a scenario named once", []string{"scenario", "run", "chat-across-nodes", "chat-a"}, nil, ":4"},
		{"node actions", []string{"ctl", "node", "node-1", ""}, []string{"kill", "stop", "hang", "slow", "start", "restart"}, ":4"},
		{"a delay for slow", []string{"ctl", "node", "node-1", "slow", ""}, []string{"500ms", "2s", "10s", "0"}, ":4"},
		{"stickiness", []string{"up", "--stickiness", ""}, []string{"lb_cookie", "app_cookie", "source_ip", "none"}, ":4"},
		{"link faults", []string{"ctl", "link", "client", "n"}, []string{"nat-drop"}, ":4"},
		{"a value for a link fault", []string{"ctl", "link", "node-1", "blackhole", ""}, []string{"on", "off"}, ":4"},
		{"config files", []string{"ctl", "reload", ""}, []string{"yaml", "yml"}, ":8"},
		{"up's config file", []string{"up", "--config", ""}, []string{"yaml", "yml"}, ":8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, directive := complete(t, dir, tt.args...)
			want := tt.want
			if n := len(want); n > 0 && want[n-1] == "…" {
				want = want[:n-1]
				got = got[:min(len(got), len(want))]
			}
			if strings.Join(got, " ") != strings.Join(want, " ") || directive != tt.dir {
				t.Fatalf("lab __complete %s: got %q %s, want %q %s", strings.Join(tt.args, " "), got, directive, want, tt.dir)
			}
		})
	}
}

// Node names come from the running lab, with their state; with no lab
// there is nothing to offer, and no file names either.
func TestCompletionAsksTheRunningLabForItsNodes(t *testing.T) {
	u := startUp(t, "--nodes", "3")
	if out, code := u.ctl(t, "node", "node-2", "kill"); code != 0 {
		t.Fatalf("kill: exit %d, %q", code, out)
	}
	got, directive := complete(t, ".", "ctl", "--admin", u.admin, "node", "")
	if strings.Join(got, " ") != "node-1 node-2 node-3" || directive != ":4" {
		t.Fatalf("got %q %s, want node-1 node-2 node-3 and no files (:4)", got, directive)
	}
	cmd := exec.Command(labBin, "__complete", "ctl", "--admin", u.admin, "node", "node-")
	out, _ := cmd.Output()
	if !strings.Contains(string(out), "node-2\tbackend ") || !strings.Contains(string(out), ", down\n") {
		t.Fatalf("got %q, want node-2 described as down", out)
	}
	got, directive = complete(t, ".", "ctl", "--admin", freePort(t), "node", "")
	if len(got) != 0 || directive != ":4" {
		t.Fatalf("no lab: got %q %s, want nothing and no files", got, directive)
	}
}

// Link names come from the running lab, each with its faults.
func TestCompletionAsksTheRunningLabForItsLinks(t *testing.T) {
	u := startUp(t, "--links=127.0.0.1:0")
	if out, code := u.ctl(t, "link", "node-1", "blackhole"); code != 0 {
		t.Fatalf("blackhole: exit %d, %q", code, out)
	}
	got, directive := complete(t, ".", "ctl", "--admin", u.admin, "link", "")
	if strings.Join(got, " ") != "client node-1 node-2" || directive != ":4" {
		t.Fatalf("got %q %s, want client node-1 node-2 and no files (:4)", got, directive)
	}
	out, _ := exec.Command(labBin, "__complete", "ctl", "--admin", u.admin, "link", "node-").Output()
	if !strings.Contains(string(out), "node-1\tfaults: black hole\n") || !strings.Contains(string(out), "node-2\tfaults: none\n") {
		t.Fatalf("got %q, want node-1 described by its black hole", out)
	}
}
