package node

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/coder/websocket"
)

// wsFrame is one message of the plain /ws protocol, both ways:
// {"event":"message","data":"hi"}.
type wsFrame struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data,omitempty"`
	// ID is a client's message id: a message is taken once per id (a
	// retry is not sent again), and acknowledged with {"event":"ack","data":ID}.
	ID json.RawMessage `json:"id,omitempty"`
}

func encodeJSONEvent(event, text string) []byte {
	b, _ := json.Marshal(struct {
		Event string `json:"event"`
		Data  string `json:"data"`
	}{event, text})
	return b
}

// serveJSON is the chat over plain WebSocket, one JSON object per message,
// for clients that do not speak Socket.IO. Client events: set_username,
// message, ping (answered with pong). Bad input gets an "error" event and the
// connection stays open. With recovery on, the node first sends
// {"event":"session","data":{"sid","token","recovered"}}, every event
// carries an "offset", and a client that comes back with
// /ws?token=TOKEN&offset=OFFSET (the last offset it saw) gets its session
// and the chat lines it missed.
func (n *Node) serveJSON(w http.ResponseWriter, r *http.Request) {
	conn, s, ok := n.accept(w, r, encodeJSONEvent)
	if !ok {
		return
	}
	if n.cfg.Recovery {
		s.encodeAt = encodeJSONEventAt
		q := r.URL.Query()
		n.connectRecoverable(s, resumeWire{PID: q.Get("token"), Offset: q.Get("offset")}, jsonAnswer)
	} else {
		s.emit("node", n.cfg.Name)
		n.join(s)
	}
	code, reason := websocket.StatusCode(0), ""
	for {
		typ, data, err := conn.Read(s.ctx)
		if err != nil {
			s.readReason(err)
			break
		}
		if err := n.waitGate(s.ctx); err != nil {
			break
		}
		if code, reason = s.invalidText(typ, data); code != 0 {
			break
		}
		if typ != websocket.MessageText {
			s.emit("error", "binary messages are not supported: send JSON text like {\"event\":\"message\",\"data\":\"hi\"}")
			continue
		}
		var f wsFrame
		if err := json.Unmarshal(data, &f); err != nil {
			s.emit("error", fmt.Sprintf("invalid JSON %s: %v", quote(string(data)), err))
			continue
		}
		switch f.Event {
		case "set_username", "message":
			var args []json.RawMessage
			if f.Data != nil {
				args = append(args, f.Data)
			}
			if f.ID != nil && f.Event == "message" {
				if len(args) == 0 {
					args = append(args, json.RawMessage("null"))
				}
				args = append(args, f.ID)
			}
			if n.onEvent(s, f.Event, args) && f.ID != nil {
				if id, err := messageID([]json.RawMessage{nil, f.ID}); err == nil && id != "" {
					s.emit("ack", id)
				}
			}
		case "ping":
			s.emit("pong", "")
		default:
			s.emit("error", fmt.Sprintf("unknown event %s: want set_username, message or ping", quote(f.Event)))
		}
	}
	s.end(code, reason)
}
