package chattest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
)

// ChatMJSLine is one line node/testdata/sioclient/chat.mjs prints: who
// (user A, user B, or "-" for the script), the event, its data.
type ChatMJSLine struct {
	Who, Ev string
	Data    any
}

// CheckChatMJS reads chat.mjs's output and checks that each user saw the
// tutorial's chat (SPEC §1), user A on node-1 and B on node-2, with A's
// connection ending on the transport endsOn ("websocket" after an upgrade).
// The node tests and the examples' tests hold their servers to this one
// table.
func CheckChatMJS(t testing.TB, out []byte, endsOn string) {
	t.Helper()
	got := map[string][]ChatMJSLine{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l ChatMJSLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad output line %q", sc.Text())
		}
		got[l.Who] = append(got[l.Who], l)
	}
	want := map[string][]ChatMJSLine{
		"A": {
			{"A", "node", "node-1"},
			{"A", "message", "Welcome to the chatroom!"},
			{"A", "message", "Failed to send the message. Specify a username first."},
			{"A", "message", "Your username is set to A"},
			{"A", "ack", nil},
			{"A", "message", "A: hi"},
			{"A", "pinged", 2.0},
			{"A", "transport", endsOn},
		},
		"B": {
			{"B", "node", "node-2"},
			{"B", "message", "Welcome to the chatroom!"},
			{"B", "message", "Your username is set to B"},
			{"B", "message", "A: hi"},
			{"B", "message", "A left the chatroom."},
		},
		"-": {{"-", "done", true}},
	}
	for who, lines := range want {
		if len(got[who]) != len(lines) {
			t.Fatalf("%s saw %d events, want %d:\ngot  %v\nwant %v", who, len(got[who]), len(lines), got[who], lines)
		}
		for i := range lines {
			if got[who][i] != lines[i] {
				t.Fatalf("%s event %d: got %v, want %v", who, i, got[who][i], lines[i])
			}
		}
	}
}
