package node

import (
	"io"
	"net/http"
)

// serveEcho sends every WebSocket message straight back, text or binary.
func (n *Node) serveEcho(w http.ResponseWriter, r *http.Request) {
	conn, s, ok := n.accept(w, r, nil)
	if !ok {
		return
	}
	for {
		typ, rd, err := conn.Reader(s.ctx)
		if err != nil {
			s.readReason(err)
			break
		}
		if err := n.waitGate(s.ctx); err != nil {
			break
		}
		wr, err := conn.Writer(s.ctx, typ)
		if err != nil {
			break
		}
		if _, err := io.Copy(wr, rd); err != nil {
			wr.Close()
			s.readReason(err)
			break
		}
		if err := wr.Close(); err != nil {
			break
		}
	}
	s.end(0, "")
}
