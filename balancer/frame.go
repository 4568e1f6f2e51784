package balancer

import "encoding/binary"

// frameTracker follows WebSocket frame boundaries in the bytes one side
// sends, without buffering them, so that the balancer can slip a close frame
// in between two frames and never inside one, and so that it knows whether
// that side said goodbye (a close frame, with its code) before it hung up.
type frameTracker struct {
	hdr       [14]byte // a header read in part
	hlen      int
	remaining uint64 // payload bytes left in the current frame
	control   bool   // the current frame is a control frame (close, ping, pong)
	data      bool   // a data frame's bytes went by since takeData

	// The close frame being read, and the first one seen in full.
	inClose   bool
	mask      [4]byte
	closeBuf  [125]byte // control frames carry at most 125 bytes
	closeN    int
	closeSeen bool
	closeCode uint16 // 1005 (no status) when the frame had no code
	closeText string
}

// closed reports the close frame this side sent, if it sent one whole.
func (f *frameTracker) closed() (code uint16, reason string, ok bool) {
	return f.closeCode, f.closeText, f.closeSeen
}

// feed follows p and reports whether a close frame was completed in it
// (the first one only).
func (f *frameTracker) feed(p []byte) (closed bool) {
	seen := f.closeSeen
	for len(p) > 0 {
		if f.remaining > 0 {
			n := uint64(len(p))
			if n > f.remaining {
				n = f.remaining
			}
			if f.inClose {
				f.readClose(p[:n])
			}
			f.data = f.data || !f.control
			f.remaining -= n
			p = p[n:]
			if f.inClose && f.remaining == 0 {
				f.endClose()
			}
			continue
		}
		f.hdr[f.hlen] = p[0]
		f.hlen++
		p = p[1:]
		if need := headerLen(f.hdr[:f.hlen]); need > 0 && f.hlen == need {
			f.remaining = payloadLen(f.hdr[:need])
			f.hlen = 0
			f.control = f.hdr[0]&0x08 != 0
			f.data = f.data || !f.control
			if f.hdr[0]&0x0f == 0x8 && !f.closeSeen {
				f.startClose(need)
			}
		}
	}
	return !seen && f.closeSeen
}

func (f *frameTracker) startClose(hlen int) {
	f.inClose, f.closeN = true, 0
	f.mask = [4]byte{}
	if f.hdr[1]&0x80 != 0 {
		copy(f.mask[:], f.hdr[hlen-4:hlen])
	}
	if f.remaining == 0 {
		f.endClose()
	}
}

// readClose keeps a close frame's payload, unmasked.
func (f *frameTracker) readClose(p []byte) {
	for _, c := range p {
		if f.closeN < len(f.closeBuf) {
			f.closeBuf[f.closeN] = c ^ f.mask[f.closeN%4]
			f.closeN++
		}
	}
}

func (f *frameTracker) endClose() {
	f.inClose, f.closeSeen, f.closeCode = false, true, 1005
	if f.closeN >= 2 {
		f.closeCode = binary.BigEndian.Uint16(f.closeBuf[:2])
		f.closeText = string(f.closeBuf[2:f.closeN])
	}
}

// takeData reports whether a data frame (text, binary, continuation) went
// by since it was last asked.
func (f *frameTracker) takeData() bool {
	d := f.data
	f.data = false
	return d
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

// shutdownFrame and shutdownFrameMasked are the goodbye of a balancer that
// shuts down: the client hears it as from its server, the backend as from
// its client (masked, as RFC 6455 §5.3 wants every client frame).
var (
	shutdownFrame       = closeFrame(1001, "balancer shutting down")
	shutdownFrameMasked = maskFrame(shutdownFrame, [4]byte{0x5a, 0x1b, 0x0c, 0x4d})
)

// maskFrame turns a short server frame (payload under 126 bytes) into the
// same frame as a client sends it.
func maskFrame(frame []byte, key [4]byte) []byte {
	out := []byte{frame[0], frame[1] | 0x80}
	out = append(out, key[:]...)
	for i, c := range frame[2:] {
		out = append(out, c^key[i%4])
	}
	return out
}

func closeFrame(code uint16, reason string) []byte {
	p := make([]byte, 4, 4+len(reason))
	p[0] = 0x88 // FIN + close
	p[1] = byte(2 + len(reason))
	binary.BigEndian.PutUint16(p[2:], code)
	return append(p, reason...)
}
