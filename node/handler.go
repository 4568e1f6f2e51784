package node

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// handler routes a node's HTTP requests. Every response carries X-Lab-Node,
// the 101 of an upgrade included, so a person can see where the balancer
// sent them. While the node hangs, requests are read and never answered.
func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", n.serveHealth)
	if n.cfg.Mode == ModeEcho {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if isUpgrade(r) {
				n.serveEcho(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("wslab echo node " + n.cfg.Name + ": open a WebSocket on any path and every message comes straight back\n"))
		})
	} else {
		mux.HandleFunc("GET /{$}", servePage)
		mux.HandleFunc("GET /chat.js", serveScript)
		mux.HandleFunc("GET /favicon.svg", serveIcon)
		mux.HandleFunc("/socket.io/", n.serveSocketIO)
		mux.HandleFunc("GET /ws", n.serveJSON)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.waitGate(r.Context()) != nil {
			return
		}
		w.Header().Set("X-Lab-Node", n.cfg.Name)
		mux.ServeHTTP(w, r)
	})
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Health is the body of /healthz.
type Health struct {
	Status   string `json:"status"` // "ok", or "stopping" (503) within a stop's grace
	Node     string `json:"node"`
	Mode     Mode   `json:"mode"`
	Redis    string `json:"redis,omitempty"` // "ok" or "unreachable" (chat mode)
	Sessions int    `json:"sessions"`
}

func (n *Node) serveHealth(w http.ResponseWriter, r *http.Request) {
	h := Health{Status: "ok", Node: n.cfg.Name, Mode: n.cfg.Mode, Sessions: n.Sessions()}
	if n.cfg.Mode == ModeChat {
		h.Redis = "ok"
		if n.storeDown.Load() {
			h.Redis = "unreachable"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if n.stopping.Load() {
		h.Status = "stopping"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

// accept upgrades the request and registers a session. On failure the
// client has been answered already (400 for a bad handshake, 403 for a
// foreign Origin, 1001 while the node stops).
func (n *Node) accept(w http.ResponseWriter, r *http.Request, encode func(string, string) []byte) (*websocket.Conn, *session, bool) {
	conn, ok := n.acceptWebSocket(w, r)
	if !ok {
		return nil, nil, false
	}
	s, ok := n.addSession(r.Context(), conn, nil, clientAddr(r), encode)
	if !ok {
		conn.Close(websocket.StatusGoingAway, "node stopping")
		return nil, nil, false
	}
	return conn, s, true
}

// acceptWebSocket completes a WebSocket handshake from an allowed origin
// (originProblem) and applies the read limit.
func (n *Node) acceptWebSocket(w http.ResponseWriter, r *http.Request) (*websocket.Conn, bool) {
	if err := n.originProblem(r); err != nil {
		n.log.Debug("websocket handshake refused", "client", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return nil, false
	}
	// The origin rule is originProblem's; coder/websocket's own is off.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		n.log.Debug("websocket handshake refused", "client", r.RemoteAddr, "err", err)
		return nil, false
	}
	conn.SetReadLimit(n.cfg.MaxPayload)
	return conn, true
}

// clientAddr is the original client's address: the first X-Forwarded-For
// hop when a balancer set it, the peer otherwise.
func clientAddr(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
			return ip.String()
		}
	}
	return r.RemoteAddr
}
