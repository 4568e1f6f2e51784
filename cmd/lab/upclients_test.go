package main_test

import (
	"os/exec"
	"regexp"
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
