package load

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// wire is the minimal WebSocket framing the load tool and its echo server
// speak: whole frames through buffered I/O, no allocation per message, and
// writes flushed in batches. It is a measuring instrument, kept cheap so it
// does not take the CPU the proxy under test needs; the lab's nodes use
// coder/websocket.
type wire struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// masked: frames this side writes are masked (a client's). The mask
	// key is zero, which RFC 6455 allows and leaves the payload unchanged.
	masked bool
}

func newWire(c net.Conn, br *bufio.Reader, masked bool) *wire {
	if br == nil {
		br = bufio.NewReaderSize(c, wireBuf)
	}
	return &wire{c: c, br: br, bw: bufio.NewWriterSize(c, wireBuf), masked: masked}
}

// wireBuf is each direction's buffer: enough to batch small messages,
// small enough for ten thousand held connections.
const wireBuf = 8 << 10

const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// writeFrame buffers one frame; flush sends what is buffered.
func (w *wire) writeFrame(op byte, p []byte) error {
	var h [14]byte
	h[0] = 0x80 | op
	n := 2
	switch l := len(p); {
	case l < 126:
		h[1] = byte(l)
	case l < 1<<16:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(l))
		n = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(l))
		n = 10
	}
	if w.masked {
		h[1] |= 0x80
		n += 4 // zero key
	}
	w.bw.Write(h[:n])
	_, err := w.bw.Write(p)
	return err
}

func (w *wire) flush() error { return w.bw.Flush() }

var errClosed = errors.New("closed by the peer")

// readFrame reads one frame's payload into *buf, growing it up to max if
// needed (beyond, the rest is dropped), and answers pings. It returns the
// opcode and the payload length kept.
func (w *wire) readFrame(buf *[]byte, max int) (byte, int, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return 0, 0, err
		}
		op, masked := h[0]&0x0f, h[1]&0x80 != 0
		l := uint64(h[1] & 0x7f)
		var ext [8]byte
		switch l {
		case 126:
			io.ReadFull(w.br, ext[:2])
			l = uint64(binary.BigEndian.Uint16(ext[:2]))
		case 127:
			io.ReadFull(w.br, ext[:8])
			l = binary.BigEndian.Uint64(ext[:8])
		}
		var key [4]byte
		if masked {
			if _, err := io.ReadFull(w.br, key[:]); err != nil {
				return 0, 0, err
			}
		}
		if l > uint64(len(*buf)) && len(*buf) < max {
			*buf = make([]byte, min(l, uint64(max)))
		}
		b := *buf
		n := int(min(l, uint64(len(b))))
		if _, err := io.ReadFull(w.br, b[:n]); err != nil {
			return 0, 0, err
		}
		if _, err := w.br.Discard(int(l) - n); err != nil {
			return 0, 0, err
		}
		if masked && key != [4]byte{} {
			for i := range b[:n] {
				b[i] ^= key[i&3]
			}
		}
		switch op {
		case opPing:
			w.writeFrame(opPong, b[:n])
			w.flush()
			continue
		case opClose:
			w.writeFrame(opClose, b[:min(n, 2)])
			w.flush()
			return op, n, errClosed
		}
		return op, n, nil
	}
}

// dialWire opens a WebSocket with the minimal client: one request, one 101.
func dialWire(rawURL string) (*wire, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", err
	}
	if u.Scheme != "ws" {
		return nil, "", fmt.Errorf("the raw client speaks ws:// only, not %s://", u.Scheme)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, "", err
	}
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	path := u.RequestURI()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n", path, u.Host, key)
	br := bufio.NewReaderSize(c, wireBuf)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, "", err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, "", fmt.Errorf("GET %s answered %s, not 101 Switching Protocols: --url must name a WebSocket endpoint (lab up's chat nodes: /ws)", path, resp.Status)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		c.Close()
		return nil, "", fmt.Errorf("GET %s answered 101 with a wrong Sec-WebSocket-Accept", path)
	}
	return newWire(c, br, true), resp.Header.Get("X-Lab-Node"), nil
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// EchoHandler is a raw WebSocket echo server: every message comes straight
// back, batched per read. name goes out in X-Lab-Node. Any other request
// gets 200 and a line saying what this is, so the health checks of a
// balancer in front (the cloud ALBs' GET /, or /healthz) find it up.
func EchoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-WebSocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
			w.Header().Set("X-Lab-Node", name)
			if r.URL.Path == "/healthz" {
				io.WriteString(w, "ok\n")
				return
			}
			io.WriteString(w, "a raw WebSocket echo server: open a WebSocket on any path\n")
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Lab-Node: %s\r\n\r\n", acceptKey(key), name)
		brw.Flush()
		ws := newWire(c, brw.Reader, false)
		var buf []byte
		for {
			op, n, err := ws.readFrame(&buf, 1<<20)
			if err != nil {
				return
			}
			ws.writeFrame(op, buf[:n])
			if ws.br.Buffered() == 0 { // nothing more to echo now: send the batch
				if ws.flush() != nil {
					return
				}
			}
		}
	})
}
