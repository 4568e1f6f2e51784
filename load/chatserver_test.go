package load_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
)

// chatServer is the tutorial's chat over Socket.IO, written from the
// protocol alone (not the lab's node), with a hand on every delivery: the
// load tool must measure any server of that chat, and a test must be able
// to drop or double exactly the messages it chooses.
type chatServer struct {
	*httptest.Server
	// copies says how many times to deliver text (as the recipient will
	// read it, "NAME: TEXT") to the user named to: 0 drops it, 2 doubles it.
	// nil delivers everything once.
	copies func(to, text string) int

	// mu guards members and afterJoin.
	mu      sync.Mutex
	members map[*member]bool
	// afterJoin runs once per username set, with the lock held.
	afterJoin func(name string, members map[*member]bool)
}

type member struct {
	conn *websocket.Conn
	name string
	// wmu serializes writes.
	wmu sync.Mutex
}

func newChatServer(t *testing.T, copies func(to, text string) int) *chatServer {
	t.Helper()
	s := &chatServer{copies: copies, members: map[*member]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	t.Cleanup(s.kickAll)
	return s
}

func (m *member) emit(event, text string) {
	b, _ := json.Marshal([]string{event, text})
	m.wmu.Lock()
	defer m.wmu.Unlock()
	m.conn.Write(context.Background(), websocket.MessageText, append([]byte("42"), b...))
}

func (s *chatServer) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	c.Write(ctx, websocket.MessageText, []byte(`0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	if _, p, err := c.Read(ctx); err != nil || string(p) != "40" {
		return
	}
	c.Write(ctx, websocket.MessageText, []byte(`40{"sid":"x"}`))
	m := &member{conn: c}
	s.mu.Lock()
	s.members[m] = true
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.members, m); s.mu.Unlock() }()
	m.emit("message", "Welcome to the chatroom!")
	for {
		_, p, err := c.Read(ctx)
		if err != nil {
			return
		}
		var ev []string
		if !strings.HasPrefix(string(p), "42") || json.Unmarshal(p[2:], &ev) != nil || len(ev) != 2 {
			continue
		}
		switch ev[0] {
		case "set_username":
			s.mu.Lock()
			m.name = ev[1]
			m.emit("message", "Your username is set to "+ev[1])
			if s.afterJoin != nil {
				s.afterJoin(ev[1], s.members)
			}
			s.mu.Unlock()
		case "message":
			s.broadcast(m.name + ": " + ev[1])
		}
	}
}

// broadcast delivers to every member, holding the lock so that the
// deliveries of one message are not interleaved with another's.
func (s *chatServer) broadcast(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for to := range s.members {
		n := 1
		if s.copies != nil {
			n = s.copies(to.name, text)
		}
		for range n {
			to.emit("message", text)
		}
	}
}

// kickAll drops every connection with no close frame, as a crashed node.
func (s *chatServer) kickAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m := range s.members {
		m.conn.CloseNow()
	}
}

// seqOf is the sequence number in a load chat line "NAME: #SEQ @NS ...".
func seqOf(text string) int {
	var seq int
	if _, body, ok := strings.Cut(text, ": #"); ok {
		fmt.Sscanf(body, "%d", &seq)
	}
	return seq
}
