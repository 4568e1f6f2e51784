package main_test

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The bug of issue 12: after a node kill, lab load --mode chat kept
// printing "open 20". Now the progress line shows the users of the killed
// node away, then back, and the report accounts for the messages.
func TestLoadChatShowsUsersAwayAfterAKillAndBack(t *testing.T) {
	u := startUp(t)
	load := run(t, "load", "--url", u.balancer, "--mode", "chat", "--conns", "4", "--interval", "100ms",
		"--duration", "4s", "--reconnect-min", "1s", "--reconnect-max", "1s", "--seed", "3", "--progress", "100ms")
	load.waitLine(`in the room 4/4 `)
	if out, code := u.ctl(t, "node", "node-1", "kill"); code != 0 {
		t.Fatalf("lab ctl kill: exit %d, %q", code, out)
	}
	load.waitLine(`in the room 2/4 .* drops 2 `) // away for 0.5-1.5 s: a line every 0.1 s sees it
	load.waitLine(`in the room 4/4 .* drops 2  reconnects 2 `)
	load.waitLine(`^delivery sent \d+  due \d+  delivered \d+  lost \d+  duplicated 0  missed while away [1-9]\d*  \(seed 3\)$`)
	load.waitLine(`^reconnect drops 2  reconnects 2  peak [12]/s  95% back after \S+$`)
	load.waitLine(`^spread\s+node-2=4$`)
	<-load.done
}

// echoServer starts lab load echo-server and returns its ws:// URL.
func echoServer(t *testing.T) string {
	t.Helper()
	addr := freePort(t)
	p := run(t, "load", "echo-server", "--listen", addr)
	p.waitLine(`^echo server echo on ws://`)
	return "ws://" + addr + "/"
}

// k6's thresholds, tested both ways: limits the run meets exit 0 and are
// listed as met; a crossed one exits 1 and says which.
func TestLoadThresholdsSetTheExitCodeAndNameTheOneCrossed(t *testing.T) {
	url := echoServer(t)
	rtt := []string{"load", "--url", url, "--mode", "rtt", "--conns", "2", "--messages", "50", "--progress", "1h"}
	out, code := runOnce(t, append(rtt, "--max-p99", "1m", "--max-p50", "1m", "--min-rate", "1")...)
	if code != 0 {
		t.Fatalf("limits met: got exit %d, want 0; output:\n%s", code, out)
	}
	for _, want := range []string{
		`(?m)^latency  p50 \d+\.\d\d(µs|ms)  p90 \S+  p99 \d+\.\d\d(µs|ms)  max \S+$`, // units, not 86721µs
		`(?m)^  ≤ \d+\.\d\d(µs|ms) +\d+  [█▏]+$`,                                      // a histogram bar
		`(?m)^messages 100  \d+ msgs/s  \d+\.\d MB/s$`,
		`(?m)^  ✓ p99 \S+ ≤ 1m0s \(--max-p99\)$`,
		`(?m)^  ✓ p50 \S+ ≤ 1m0s \(--max-p50\)$`,
		`(?m)^  ✓ rate \d+ msgs/s ≥ 1 msgs/s \(--min-rate\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("limits met: got\n%s\nwant a line matching %s", out, want)
		}
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("limits met: got\n%s\nwant no FAIL", out)
	}

	out, code = runOnce(t, append(rtt, "--max-p99", "1ns", "--min-rate", "1")...)
	if code != 1 || !regexp.MustCompile(`(?m)^  ✗ p99 \S+ > 1ns \(--max-p99\)$`).MatchString(out) ||
		!strings.Contains(out, "FAIL: 1 of 3 thresholds crossed") {
		t.Fatalf("p99 crossed: got exit %d and\n%s\nwant exit 1, the p99 line marked ✗ and FAIL", code, out)
	}

	stdout, code := runStdout(t, append(rtt, "--json", "--max-p50", "1ns")...)
	var rep struct {
		Thresholds []struct {
			Name string
			OK   bool
		}
		P50 int64 `json:"p50_ns"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 1 || len(rep.Thresholds) != 2 ||
		rep.Thresholds[0].Name != "max-p50" || rep.Thresholds[0].OK || rep.P50 <= 0 {
		t.Fatalf("--json, p50 crossed: got exit %d and %s (%v), want exit 1 and max-p50 not ok", code, stdout, err)
	}
}

func TestLoadRefusesThresholdsItsModeCannotMeasure(t *testing.T) {
	out, code := runOnce(t, "load", "--url", "ws://127.0.0.1:1/", "--mode", "flood", "--max-p99", "100ms")
	checkUsageError(t, out, code, "flood mode measures no latency", "--mode rtt or chat")
	out, code = runOnce(t, "load", "--url", "ws://127.0.0.1:1/", "--mode", "hold", "--max-lost", "0")
	checkUsageError(t, out, code, "max-lost: only chat mode")
	out, code = runOnce(t, "load", "--url", "ws://127.0.0.1:1/", "--mode", "rtt", "--transport", "polling")
	checkUsageError(t, out, code, "transport: only chat mode speaks Socket.IO")
	out, code = runOnce(t, "load", "--url", "ws://127.0.0.1:1/", "--mode", "chat", "--transport", "xhr")
	checkUsageError(t, out, code, `transport: "xhr" is not websocket, polling or default`)
}

// Chat mode measures no bytes: no "0.0 MB/s" in its report, no mb_per_sec
// in its JSON.
func TestLoadChatReportsNoBytes(t *testing.T) {
	u := startUp(t, "--nodes", "1")
	out, code := runOnce(t, "load", "--url", u.balancer, "--mode", "chat", "--conns", "2", "--interval", "100ms",
		"--duration", "500ms", "--settle", "1s", "--progress", "1h")
	if code != 0 || strings.Contains(out, "MB/s") || !regexp.MustCompile(`(?m)^messages \d+  \d+ msgs/s$`).MatchString(out) {
		t.Fatalf("chat: got exit %d and\n%s\nwant exit 0 and msgs/s without MB/s", code, out)
	}
}

// TestLoadChatThroughEachProxyReachesBothNodesAndDeliversEveryMessage is
// the README's "lab load works as before" behind lab up --balancer: chat
// users through nginx, HAProxy and Caddy open on both nodes and every
// message reaches every user, with no failure, over WebSocket; over
// long-polling, kept on their node by the proxy's stickiness (nginx has
// only source_ip), they chat as well.
func TestLoadChatThroughEachProxyReachesBothNodesAndDeliversEveryMessage(t *testing.T) {
	for _, tc := range []struct{ kind, stickiness string }{
		{"nginx", "source_ip"}, {"haproxy", "lb_cookie"}, {"caddy", "lb_cookie"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			if _, err := exec.LookPath(tc.kind); err != nil {
				t.Skipf("%s is not installed (.ci/run installs it)", tc.kind)
			}
			t.Run("websocket", func(t *testing.T) {
				u := startUpWithin(t, proxyStart, "--balancer", tc.kind)
				out := loadChat(t, u.balancer, "websocket")
				m := regexp.MustCompile(`(?m)^spread\s+node-1=(\d+) node-2=(\d+)$`).FindStringSubmatch(out)
				if m == nil || m[1] == "0" || m[2] == "0" {
					t.Fatalf("got\n%s\nwant a spread line with users on node-1 and node-2", out)
				}
				u.stop()
			})
			t.Run("polling with --stickiness "+tc.stickiness, func(t *testing.T) {
				u := startUpWithin(t, proxyStart, "--balancer", tc.kind, "--stickiness", tc.stickiness)
				loadChat(t, u.balancer, "polling")
				u.stop()
			})
		})
	}
}

// proxyStart bounds a lab up with a proxy until its summary: the proxy
// checks its config, then starts (HAProxy took over 3 s under -race on a
// busy machine); the rest of the summary is timed alone.
const proxyStart = time.Minute

// loadChat runs lab load --mode chat against url for two seconds with 4
// users over transport and checks what its report says: every user
// connected, no failure, drop or loss, every message delivered. It returns
// the report.
func loadChat(t *testing.T, url, transport string) string {
	t.Helper()
	out, code := runOnce(t, "load", "--url", url, "--mode", "chat", "--transport", transport, "--conns", "4",
		"--interval", "100ms", "--duration", "2s", "--progress", "1h", "--max-lost", "0")
	if code != 0 {
		t.Fatalf("lab load: got exit %d, want 0; output:\n%s", code, out)
	}
	for _, want := range []string{
		`(?m)^chat \(` + transport + `\) against ` + regexp.QuoteMeta(url) + `: 4 connections, 4 opened \(\d+ handshakes/s\), 0 failures$`,
		`(?m)^reconnect drops 0  reconnects 0$`,
		`(?m)^  ✓ lost 0 ≤ 0 \(--max-lost\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("got\n%s\nwant a line matching %s", out, want)
		}
	}
	m := regexp.MustCompile(`(?m)^delivery sent (\d+)  due (\d+)  delivered (\d+)  lost 0  duplicated 0  missed while away 0  `).FindStringSubmatch(out)
	if m == nil || m[1] == "0" || m[2] == "0" || m[3] != m[2] {
		t.Fatalf("got\n%s\nwant a delivery line with messages sent and every due one delivered, none lost", out)
	}
	return out
}
