package node

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/wslab/wslab/store"
)

// The tutorial app's texts, exactly.
const (
	TextWelcome    = "Welcome to the chatroom!"
	TextNoUsername = "Failed to send the message. Specify a username first."
	textUsernameIs = "Your username is set to %s"
	textSays       = "%s: %s"
	textLeft       = "%s left the chatroom."
)

// storeTimeout bounds each Redis call made for a client.
const storeTimeout = 5 * time.Second

// join puts s in the room: its session hash is created, it is welcomed, and
// from then on it receives broadcasts.
func (n *Node) join(s *session) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	s.storeMu.Lock()
	n.storeResult(n.store.CreateSession(ctx, s.sid))
	s.storeMu.Unlock()
	// Greeting and enlisting are one step for broadcast, which holds the
	// same lock: a message published after the client saw its welcome
	// reaches it. emit never blocks.
	n.membersMu.Lock()
	s.emit("message", TextWelcome)
	n.members[s.sid] = s
	n.membersMu.Unlock()
	s.joined.Store(true)
}

// setUsername handles set_username; false if Redis is unreachable.
func (n *Node) setUsername(s *session, name string) bool {
	if problem := usernameProblem(name, n.cfg.MaxUsername); problem != "" {
		s.emit("message", "Failed to set the username: "+problem)
		return true
	}
	ctx, cancel := context.WithTimeout(s.ctx, storeTimeout)
	defer cancel()
	s.storeMu.Lock()
	err := n.storeCall(ctx, func(ctx context.Context) error { return n.store.SetUsername(ctx, s.sid, name) })
	if err == nil && s.pid != "" {
		err = n.storeCall(ctx, func(ctx context.Context) error { return n.store.SetResumableName(ctx, s.pid, name) })
	}
	if err == nil {
		s.name = name
	}
	s.storeMu.Unlock()
	if err != nil {
		s.emit("message", "Failed to set the username: the chat store (Redis) is unreachable.")
		return false
	}
	s.emit("message", fmt.Sprintf(textUsernameIs, name))
	return true
}

// username reads the session's username from Redis, as the tutorial's app
// does. A hash that lost a name this node saw Redis confirm means Redis lost
// its data (restarted empty, flushed): the node's copy answers, and the
// keeper is asked to check the epoch and write every session back.
func (n *Node) username(ctx context.Context, s *session) (string, error) {
	var name string
	err := n.storeCall(ctx, func(ctx context.Context) (err error) {
		name, err = n.store.Username(ctx, s.sid)
		return err
	})
	if err != nil {
		return "", err
	}
	if name == "" {
		s.storeMu.Lock()
		name = s.name
		s.storeMu.Unlock()
		if name != "" {
			n.checkEpoch()
		}
	}
	return name, nil
}

// say handles a chat message: broadcast to every client on every node if the
// sender has a username, a warning to the sender otherwise. A message id
// the chat already took (a client's retry) is not broadcast again. It
// reports false if Redis is unreachable.
func (n *Node) say(s *session, text, msgID string) bool {
	if l := utf8.RuneCountInString(text); l > n.cfg.MaxMessage {
		s.emit("message", fmt.Sprintf("Failed to send the message: it is %d characters long, the limit is %d.", l, n.cfg.MaxMessage))
		return true
	}
	ctx, cancel := context.WithTimeout(s.ctx, storeTimeout)
	defer cancel()
	name, err := n.username(ctx, s)
	if err != nil {
		s.emit("message", "Failed to send the message: the chat store (Redis) is unreachable.")
		return false
	}
	if name == "" {
		s.emit("message", TextNoUsername)
		return true
	}
	m := store.Message{From: n.cfg.Name, Text: fmt.Sprintf(textSays, name, text)}
	if _, err := n.post(ctx, s, m, msgID); err != nil {
		s.emit("message", "Failed to send the message: the chat store (Redis) is unreachable.")
		return false
	}
	return true
}

// leave takes s out of the room exactly once. A user with a name is
// announced as left and the session hash is deleted — unless the node was
// killed: a crashed process says nothing and cleans nothing up.
func (n *Node) leave(s *session) {
	s.left.Do(func() {
		if !s.joined.Load() {
			return
		}
		n.membersMu.Lock()
		if n.members[s.sid] == s { // not replaced by the same client resuming
			delete(n.members, s.sid)
		}
		n.membersMu.Unlock()
		if n.ending.Load() == endKilled {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		name, err := n.username(ctx, s)
		if err == nil && name != "" {
			n.post(ctx, nil, store.Message{From: n.cfg.Name, Text: fmt.Sprintf(textLeft, name)}, "")
		}
		n.parkSession(ctx, s)
		s.storeMu.Lock()
		s.gone = true
		n.storeResult(n.store.DeleteSession(ctx, s.sid))
		s.storeMu.Unlock()
	})
}

// broadcast delivers a bus message to every client in this node's room.
func (n *Node) broadcast(m store.Message) {
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	for _, s := range n.members {
		s.emit("message", m.Text)
	}
}

// busHandler feeds the bus subscription into the room.
type busHandler struct{ n *Node }

func (h busHandler) Message(m store.Message) { h.n.broadcast(m) }
func (h busHandler) State(err error)         { h.n.storeHealth(fromBus, err) }
