package node

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

func TestParsePollingPayload(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "one packet", in: "40", want: []string{"40"}},
		{name: "several packets", in: "40\x1e42[\"message\",\"hi\"]\x1e3", want: []string{"40", `42["message","hi"]`, "3"}},
		{name: "a raw separator splits even inside JSON text (clients escape it as \\u001e)", in: "42[\"x\x1ey\"]", want: []string{`42["x`, `y"]`}},
		{name: "empty body", in: "", wantErr: "the body is empty"},
		{name: "empty packet", in: "40\x1e\x1e3", wantErr: "packet 2 of 3 is empty"},
		{name: "trailing separator", in: "40\x1e", wantErr: "packet 2 of 2 is empty"},
		{name: "binary packet", in: "40\x1ebAQID", wantErr: "packet 2 is binary"},
		{name: "invalid UTF-8", in: "4\xff", wantErr: "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePollingPayload([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errPayload) || !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
					t.Fatalf("got %q, %v, want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("got %q, %v, want %q", got, err, tt.want)
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Fatalf("packet %d: got %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// FuzzParsePollingPayload: whatever a client POSTs, the parser either
// refuses it with errPayload or returns non-empty text packets that join
// back into the body.
func FuzzParsePollingPayload(f *testing.F) {
	for _, s := range []string{"40", "40\x1e42[\"message\",\"hi\"]", "2probe", "", "\x1e", "bAQID", "4\xff", "1\x1e6"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		packets, err := parsePollingPayload(body)
		if err != nil {
			if !errors.Is(err, errPayload) {
				t.Fatalf("error %v does not wrap errPayload", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error message is not valid UTF-8: %q", err.Error())
			}
			return
		}
		for _, p := range packets {
			if len(p) == 0 || p[0] == 'b' || bytes.IndexByte(p, recordSeparator) >= 0 || !utf8.Valid(p) {
				t.Fatalf("parsed %q into packet %q", body, p)
			}
		}
		if joined := appendPollingPayload(nil, packets); !bytes.Equal(joined, body) {
			t.Fatalf("packets %q join into %q, want %q", packets, joined, body)
		}
	})
}
