package balancer

import "encoding/binary"

// frameTracker follows WebSocket frame boundaries in the bytes a backend
// sends, without buffering them, so that the balancer can slip a close frame
// in between two frames and never inside one.
type frameTracker struct {
	hdr       [14]byte // a header read in part
	hlen      int
	remaining uint64 // payload bytes left in the current frame
}

func (f *frameTracker) feed(p []byte) {
	for len(p) > 0 {
		if f.remaining > 0 {
			n := uint64(len(p))
			if n > f.remaining {
				n = f.remaining
			}
			f.remaining -= n
			p = p[n:]
			continue
		}
		f.hdr[f.hlen] = p[0]
		f.hlen++
		p = p[1:]
		if need := headerLen(f.hdr[:f.hlen]); need > 0 && f.hlen == need {
			f.remaining = payloadLen(f.hdr[:need])
			f.hlen = 0
		}
	}
}

func (f *frameTracker) atBoundary() bool { return f.hlen == 0 && f.remaining == 0 }

// headerLen is the full header length once the first two bytes are known.
func headerLen(h []byte) int {
	if len(h) < 2 {
		return 0
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4 // masking key
	}
	return n
}

func payloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return binary.BigEndian.Uint64(h[2:10])
	default:
		return uint64(l)
	}
}

// closeFrame is an unmasked server close frame with a code and reason.
// drainFrame is what a client hears when its backend's deregistration
// delay runs out, with drain.close_frame on.
var drainFrame = closeFrame(1001, "backend draining")

func closeFrame(code uint16, reason string) []byte {
	p := make([]byte, 4, 4+len(reason))
	p[0] = 0x88 // FIN + close
	p[1] = byte(2 + len(reason))
	binary.BigEndian.PutUint16(p[2:], code)
	return append(p, reason...)
}
