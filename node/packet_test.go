package node

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

func TestParseSocketIO(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    sioPacket
		wantErr bool
	}{
		{name: "connect", in: "0", want: sioPacket{typ: 0, nsp: "/", ack: -1}},
		{name: "connect with auth", in: `0{"token":"x"}`, want: sioPacket{typ: 0, nsp: "/", ack: -1, data: json.RawMessage(`{"token":"x"}`)}},
		{name: "connect namespace", in: "0/admin,", want: sioPacket{typ: 0, nsp: "/admin", ack: -1}},
		{name: "disconnect", in: "1", want: sioPacket{typ: 1, nsp: "/", ack: -1}},
		{name: "event", in: `2["message","hi"]`, want: sioPacket{typ: 2, nsp: "/", ack: -1, data: json.RawMessage(`["message","hi"]`)}},
		{name: "event with ack", in: `212["set_username","A"]`, want: sioPacket{typ: 2, nsp: "/", ack: 12, data: json.RawMessage(`["set_username","A"]`)}},
		{name: "event in namespace with ack", in: `2/chat,7["x"]`, want: sioPacket{typ: 2, nsp: "/chat", ack: 7, data: json.RawMessage(`["x"]`)}},
		{name: "empty", in: "", wantErr: true},
		{name: "bad type", in: "9", wantErr: true},
		{name: "letter", in: "x", wantErr: true},
		{name: "binary event", in: `51-["x",{"_placeholder":true,"num":0}]`, wantErr: true},
		{name: "not JSON", in: `2["message",`, wantErr: true},
		{name: "huge ack id", in: `299999999999999999999["x"]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSocketIO(tt.in)
			if tt.wantErr {
				if !errors.Is(err, errPacket) {
					t.Fatalf("got %+v, %v, want a malformed packet error", got, err)
				}
				return
			}
			if err != nil || got.typ != tt.want.typ || got.nsp != tt.want.nsp || got.ack != tt.want.ack || string(got.data) != string(tt.want.data) {
				t.Fatalf("got %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestEventDecoding(t *testing.T) {
	tests := []struct {
		name, data, wantName, wantText string
		wantErr                        bool
	}{
		{"string", `["message","hi"]`, "message", "hi", false},
		{"number like python", `["message",42]`, "message", "42", false},
		{"bool like python", `["message",true]`, "message", "True", false},
		{"object refused", `["message",{"a":1}]`, "message", "", true},
		{"no name", `[]`, "", "", true},
		{"name not string", `[1,"x"]`, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sioPacket{typ: sioEvent, data: json.RawMessage(tt.data)}
			name, args, err := p.event()
			if err == nil {
				var text string
				text, err = textArg(args)
				if err == nil && (name != tt.wantName || text != tt.wantText) {
					t.Fatalf("got %q %q, want %q %q", name, text, tt.wantName, tt.wantText)
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// FuzzParseSocketIO: no input may panic, and whatever parses must carry a
// valid type, a namespace and, if present, valid JSON.
func FuzzParseSocketIO(f *testing.F) {
	for _, s := range []string{"0", "1", `2["message","hi"]`, `21["a"]`, "0/admin,", `2/x,3[1]`, "51-[]", "", "9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSocketIO(s)
		if err != nil {
			if !errors.Is(err, errPacket) {
				t.Fatalf("error %v does not wrap errPacket", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error message is not valid UTF-8: %q", err.Error())
			}
			return
		}
		if p.typ < 0 || p.typ > 6 || p.nsp == "" || p.ack < -1 {
			t.Fatalf("parsed %q into %+v", s, p)
		}
		if p.data != nil && !json.Valid(p.data) {
			t.Fatalf("payload %q is not valid JSON", p.data)
		}
		if p.typ == sioEvent && p.data != nil {
			p.event() // must not panic
		}
	})
}
