package main_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// What a new user types slightly wrong: each mistake is one line that says
// what was wrong and how to write it, with exit code 2.

func TestAMissingArgumentSaysWhatTheCommandTakes(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"export"}, []string{"lab: export needs 1 argument, got 0", "usage: lab export nginx|haproxy|caddy"}},
		{[]string{"ctl", "reload"}, []string{"lab: ctl reload needs 1 argument, got 0", "usage: lab ctl reload FILE"}},
		{[]string{"ctl", "node", "node-1"}, []string{"lab: ctl node needs 2 or 3 arguments, got 1", "usage: lab ctl node NAME kill|stop|hang|slow DURATION|start|restart"}},
		{[]string{"scenario", "run"}, []string{"lab: scenario run needs at least 1 argument, got 0", "usage: lab scenario run NAME|FILE..."}},
		{[]string{"profile", "show"}, []string{"lab: profile show needs 1 argument, got 0", "usage: lab profile show NAME"}},
		{[]string{"profile", "list", "aws-alb"}, []string{`lab: profile list takes no arguments, got "aws-alb"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code := runOnce(t, tt.args...)
			checkUsageError(t, out, code, tt.want...)
		})
	}
}

func TestAnAddressAfterTLSOrLinksNeedsTheEqualsSign(t *testing.T) {
	// --tls and --links take an optional value, which pflag reads only
	// after "=": "--tls 127.0.0.1:9443" leaves the address as an argument.
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"up", "--tls", "127.0.0.1:9443"}, "write --tls=127.0.0.1:9443"},
		{[]string{"up", "--links", "127.0.0.1:8095"}, "write --links=127.0.0.1:8095"},
		{[]string{"up", "--nodes", "3", "127.0.0.1:8095"}, `lab: up takes no arguments, got "127.0.0.1:8095"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code := runOnce(t, tt.args...)
			checkUsageError(t, out, code, tt.want)
		})
	}
}

func TestAMisspeltFlagGetsASuggestion(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"up", "--idle-timout", "10s"}, []string{"unknown flag: --idle-timout", "did you mean --idle-timeout?"}},
		{[]string{"load", "--conn", "5"}, []string{"unknown flag: --conn", "did you mean --conns?"}},
		{[]string{"ctl", "events", "--lsat", "5"}, []string{"unknown flag: --lsat", "did you mean --last?"}},
		{[]string{"up", "--frobnicate"}, []string{"unknown flag: --frobnicate", `"lab up --help" lists the flags`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code := runOnce(t, tt.args...)
			checkUsageError(t, out, code, tt.want...)
		})
	}
}

func TestABadFlagIsReportedEvenWhenTheNodePortsAreTaken(t *testing.T) {
	// A lab already running on the default ports must not hide the flag
	// that is wrong behind "address already in use".
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).AddrPort().Port()
	out, code := runOnce(t, "up", "--policy", "random", "--nodes", "1", "--node-port", strconv.Itoa(int(port)), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	checkUsageError(t, out, code, `server_group.policy: "random" is not round_robin, least_conn or source_hash`)
}

func TestACommandNodesLastOutputKeepsItsLines(t *testing.T) {
	out, code := runOnce(t, "up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--node-port", "0", "--nodes", "1",
		"--node-cmd", "echo 'Error: Cannot find module server.js'; echo '    at Module._resolveFilename'; exit 1")
	if code != 2 {
		t.Fatalf("got exit %d, want 2; output:\n%s", code, out)
	}
	var quoted []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  | ") {
			quoted = append(quoted, l)
		}
	}
	want := []string{"  | Error: Cannot find module server.js", "  |     at Module._resolveFilename"}
	if strings.Join(quoted, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got quoted lines %q, want %q; output:\n%s", quoted, want, out)
	}
}

func TestLabNodeNamesItsFlagsAndWhatItServes(t *testing.T) {
	out, code := runOnce(t, "node", "--listen", "127.0.0.1:0", "--name", "node-1")
	checkUsageError(t, out, code, "--redis: a chat node needs a Redis URL (redis://host:port/db)")

	p := run(t, "node", "--listen", "127.0.0.1:0", "--mode", "echo", "--name", "echo-1")
	line := p.waitLine(`^echo-1 \(echo\) on .*`)[0]
	if strings.Contains(line, "chat page") {
		t.Fatalf("got %q, want no chat page for an echo node (it serves a line of text at /)", line)
	}
	p.stop()
}
