package main_test

import (
	"testing"
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
	load.waitLine(`^delivery sent \d+  due \d+  delivered \d+  lost \d+  duplicated 0  \(seed 3\)$`)
	load.waitLine(`^reconnect drops 2  reconnects 2  peak [12]/s  95% back after \S+$`)
	load.waitLine(`^spread\s+node-2=4$`)
	<-load.done
}
