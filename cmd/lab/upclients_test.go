package main_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// curlUpgrade is a client the lab knows nothing about: curl asking for a
// WebSocket upgrade on /ws and holding the connection open.
const curlUpgrade = `curl -sN --max-time 60 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' {url}/ws -o /dev/null`

func TestUpStartsYourClientsTellsThemApartAndReportsWhatANodeKillDidToThem(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl as a client the lab does not know")
	}
	u := startUp(t, "--nodes", "2", "--client-cmd", curlUpgrade, "--clients", "4")
	u.waitLine(`balancer\s+c4 opened: 127\.0\.1\.\d:\d+ → node-\d`)
	if out, code := u.ctl(t, "node", "node-1", "kill"); code != 0 {
		t.Fatalf("ctl kill: exit %d: %s", code, out)
	}
	u.waitLine(`closed: BACKEND_FIN on node-1`)
	u.stop()
	out := u.output()
	for _, want := range []string{
		`c\d opened: 127\.0\.1\.1:`, `c\d opened: 127\.0\.1\.2:`, `c\d opened: 127\.0\.1\.3:`, `c\d opened: 127\.0\.1\.4:`,
		`(?m)^  clients   4 processes \(client-1 … client-4\), from 127\.0\.1\.1 … 127\.0\.1\.4`,
		`(?m)^4 client processes: 2 dropped \(the first at \d+\.\d{3}s\); 0 back, 95 % never back`,
		`(?m)^  client-\d \(127\.0\.1\.\d\): closes 1006 backend_fin at \d+\.\d{3}s; disconnected \d+\.\d{3}s; connections 1, reconnects 0`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("no line matching %q in:\n%s", want, out)
		}
	}
}

// lab up runs on the real clock anyway; with client processes its summary
// says why that matters (their time is theirs), not "no clock was injected".
func TestUpWithClientProcessesSaysTheyKeepTheirOwnTime(t *testing.T) {
	p := run(t, "up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--node-port", "0", "--nodes", "1", "--client-cmd", "sleep 600", "--clients", "1")
	m := p.waitLine(`^  time\s+(.*)$`)
	if want := "real clock: its clients are processes (sleep 600), whose time the lab cannot control"; m[1] != want {
		t.Fatalf("got time line %q, want %q", m[1], want)
	}
	p.waitLine(`Events:$`)
	p.stop()
}

// timedRequests is a client process that asks for the chat page over and
// over and prints how long each answer took, in seconds.
const timedRequests = `while :; do curl -s -o /dev/null --max-time 10 -w 'took %{time_total}\n' {url}/; sleep 0.1; done`

// slow and fast match a client process's timedRequests line: an answer
// that crossed 300 ms of latency each way (at least 0.6 s), and one that
// met none.
func slow(client string) string { return `^` + client + `\s+\| took (0\.[6-9]|[1-9]\d*\.)` }
func fast(client string) string { return `^` + client + `\s+\| took 0\.[0-4]` }

// "client" is the clients' network: a fault set on it reaches each client
// process through the link of its own it dials from, not only the lab's
// client link; a client process's name reaches that one alone.
func TestCtlLinkClientReachesEveryClientProcessAndAClientsNameReachesItAlone(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl as a client the lab does not know")
	}
	u := startUp(t, "--nodes", "1", "--links=127.0.0.1:0", "--client-cmd", timedRequests, "--clients", "2")
	u.waitLine(fast("client-2"))

	out, code := u.ctl(t, "link", "client", "latency", "300ms")
	if code != 0 {
		t.Fatalf("lab ctl link client latency 300ms: exit %d: %s", code, out)
	}
	for _, name := range []string{"client", "client-1", "client-2"} {
		if !regexp.MustCompile(`(?m)^` + name + `\s.*up latency 300ms, down latency 300ms`).MatchString(out) {
			t.Errorf("lab ctl link client latency: no row for %s with the latency in:\n%s", name, out)
		}
	}
	u.waitLine(slow("client-1"))
	u.waitLine(slow("client-2"))

	if out, code := u.ctl(t, "link", "client-1", "clear"); code != 0 || strings.Contains(out, "client-2") {
		t.Fatalf("lab ctl link client-1 clear: exit %d, %s; want client-1's row alone", code, out)
	}
	u.waitLine(fast("client-1"))
	u.waitLine(slow("client-2"))
}
