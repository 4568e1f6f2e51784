package balancer

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// maskedClose is a client's close frame: masked, with a code and reason.
func maskedClose(code uint16, reason string) []byte {
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	payload := binary.BigEndian.AppendUint16(nil, code)
	payload = append(payload, reason...)
	frame := []byte{0x88, 0x80 | byte(len(payload))}
	frame = append(frame, key[:]...)
	for i, c := range payload {
		frame = append(frame, c^key[i%4])
	}
	return frame
}

func TestFrameTrackerHearsTheCloseFrameEachSideSends(t *testing.T) {
	text := append([]byte{0x81, 0x85, 1, 2, 3, 4}, bytes.Repeat([]byte{'x'}, 5)...)
	big := append([]byte{0x82, 0x7e, 0x01, 0x00}, make([]byte, 256)...)
	tests := []struct {
		name     string
		stream   []byte
		wantCode uint16
		wantText string
		wantSeen bool
	}{
		{"a tab closing: masked 1001 after data", append(append(text, big...), maskedClose(1001, "tab closed")...), 1001, "tab closed", true},
		{"a server's 1000, unmasked", append(big, closeFrame(1000, "bye")...), 1000, "bye", true},
		{"a close frame without a code", []byte{0x88, 0x00}, 1005, "", true},
		{"no close frame", append(text, big...), 0, "", false},
		{"a close frame cut short", maskedClose(1001, "tab closed")[:8], 0, "", false},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, 1 << 20} {
			var f frameTracker
			for p := tt.stream; len(p) > 0; {
				n := min(chunk, len(p))
				f.feed(p[:n])
				p = p[n:]
			}
			code, text, seen := f.closed()
			if code != tt.wantCode || text != tt.wantText || seen != tt.wantSeen {
				t.Errorf("%s in chunks of %d: got %d %q %v, want %d %q %v", tt.name, chunk, code, text, seen, tt.wantCode, tt.wantText, tt.wantSeen)
			}
			if !f.atBoundary() && tt.wantSeen {
				t.Errorf("%s: not at a boundary after a whole stream", tt.name)
			}
		}
	}
}
