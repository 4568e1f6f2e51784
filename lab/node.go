package lab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wslab/wslab/node"
)

// Kind is what a node is: one of ours run in-process, a process the lab
// starts, or a server that runs elsewhere.
type Kind string

// Node kinds.
const (
	KindChat    Kind = "chat"    // the tutorial's chat app, in-process (package node)
	KindEcho    Kind = "echo"    // a WebSocket echo server, in-process
	KindCommand Kind = "command" // a process the lab starts from a command template
	KindURL     Kind = "url"     // a server the lab does not own, at a URL
	KindHandler Kind = "handler" // a Go http.Handler the lab serves in-process (handler.go)
)

// Defaults of a command node.
const (
	DefaultReadyTimeout = 30 * time.Second // from launch to ready
	DefaultStopGrace    = 10 * time.Second // from SIGTERM to SIGKILL
)

// StopGrace means the same for every kind that can stop: how long the
// node has from stop (SIGTERM) on. A command node's app decides what it
// does with it and gets SIGKILL when it is over (default
// DefaultStopGrace). The lab's own nodes use all of it, as an app that
// drains: /healthz answers 503, open and new connections are served, and
// when it is over every WebSocket gets 1001 (default 0: at once).

// NodeSpec says what one node is. The zero value is a chat node. Command,
// URL and a handler (Handler or NewHandler, from Go only) exclude each
// other; the hooks only apply to command and url nodes.
//
// Templates (Command and the hooks) are run by the system shell (sh -c;
// cmd /C on Windows) after the placeholders {port}, {name}, {redis_url}
// (and, in hooks, {pid}) are replaced; the process also gets PORT,
// LAB_NODE_NAME and REDIS_URL in its environment.
type NodeSpec struct {
	Name string    `yaml:"name" json:"name,omitempty"` // default node-N
	Mode node.Mode `yaml:"mode" json:"mode,omitempty"` // chat (default) or echo, for in-process nodes

	Command string   `yaml:"command" json:"command,omitempty"` // the command template: a command node
	Dir     string   `yaml:"dir" json:"dir,omitempty"`         // its working directory; default the lab's
	Env     []string `yaml:"env" json:"env,omitempty"`         // extra KEY=VALUE for its environment
	// Health is the path the lab GETs to know the process is ready (any
	// 2xx or 3xx answer); "" waits for the port to accept connections.
	// The balancer checks the same path.
	Health       string        `yaml:"health" json:"health,omitempty"`
	ReadyTimeout time.Duration `yaml:"ready_timeout" json:"ready_timeout,omitempty"` // default 30s
	StopGrace    time.Duration `yaml:"stop_grace" json:"stop_grace,omitempty"`       // stop: command, SIGTERM then SIGKILL after this (default 10s); chat/echo, health 503 and serving on for this long, then 1001 (default 0s)

	URL string `yaml:"url" json:"url,omitempty"` // http(s)://host:port of a server that runs elsewhere: a url node

	// NewHandler makes a handler node: the lab calls it at every start
	// (launch, and start after a kill or stop) with the lab's clock, and
	// serves what it returns in-process on the node's port, with the same
	// faults as the lab's own nodes. A lab whose handlers all take the
	// clock this way stays on the mock clock (see Lab.Clocking).
	NewHandler func(HandlerEnv) http.Handler `yaml:"-" json:"-"`
	// Handler is a handler node served as it is, every start the same
	// value: a handler that keeps its own time (time.Now, time.After), so
	// the lab runs on the real clock.
	Handler http.Handler `yaml:"-" json:"-"`

	// Hooks replace the lab's own way of doing a fault, for apps where a
	// signal to the launcher is not enough (a container: docker kill
	// {name}). KillCmd and StopCmd run to completion; StartCmd is launched
	// and supervised in place of Command when the node comes back.
	KillCmd   string `yaml:"kill_cmd" json:"kill_cmd,omitempty"`
	StopCmd   string `yaml:"stop_cmd" json:"stop_cmd,omitempty"`
	StartCmd  string `yaml:"start_cmd" json:"start_cmd,omitempty"`
	HangCmd   string `yaml:"hang_cmd" json:"hang_cmd,omitempty"`     // e.g. docker pause {name}
	ResumeCmd string `yaml:"resume_cmd" json:"resume_cmd,omitempty"` // e.g. docker unpause {name}

	// Recovery turns on connection state recovery on the lab's chat node
	// (node.Config.Recovery): the chat over a Redis Stream, and clients
	// that come back within MaxDisconnection get their session and what
	// they missed. Every chat node of a lab has it or none does.
	Recovery         bool          `yaml:"recovery" json:"recovery,omitempty"`
	MaxDisconnection time.Duration `yaml:"max_disconnection" json:"max_disconnection,omitempty"` // default 2m
}

// Kind is the kind of node the spec describes.
func (s NodeSpec) Kind() Kind {
	switch {
	case s.Command != "":
		return KindCommand
	case s.URL != "":
		return KindURL
	case s.NewHandler != nil || s.Handler != nil:
		return KindHandler
	case s.Mode == node.ModeEcho:
		return KindEcho
	}
	return KindChat
}

// Over returns s with every field it leaves empty taken from base: a node
// of a list over the lab's node template. A spec that names its own kind
// (command, url, handler or mode) takes none of base's.
func (s NodeSpec) Over(base NodeSpec) NodeSpec {
	if s.Command == "" && s.URL == "" && s.Mode == "" && s.NewHandler == nil && s.Handler == nil {
		s.Command, s.URL, s.Mode = base.Command, base.URL, base.Mode
		s.NewHandler, s.Handler = base.NewHandler, base.Handler
	}
	or := func(v, b string) string {
		if v == "" {
			return b
		}
		return v
	}
	s.Dir, s.Health = or(s.Dir, base.Dir), or(s.Health, base.Health)
	s.KillCmd, s.StopCmd, s.StartCmd = or(s.KillCmd, base.KillCmd), or(s.StopCmd, base.StopCmd), or(s.StartCmd, base.StartCmd)
	s.HangCmd, s.ResumeCmd = or(s.HangCmd, base.HangCmd), or(s.ResumeCmd, base.ResumeCmd)
	if s.Env == nil {
		s.Env = base.Env
	}
	if s.ReadyTimeout == 0 {
		s.ReadyTimeout = base.ReadyTimeout
	}
	if s.StopGrace == 0 {
		s.StopGrace = base.StopGrace
	}
	s.Recovery = s.Recovery || base.Recovery
	if s.MaxDisconnection == 0 {
		s.MaxDisconnection = base.MaxDisconnection
	}
	return s
}

// Validate checks the spec; field names are the YAML keys, after prefix
// (like "lab.node." or "nodes[2].").
func (s NodeSpec) Validate(prefix string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", prefix, field, fmt.Sprintf(format, args...)))
	}
	if s.Command != "" && s.URL != "" {
		bad("url", "a node is either a command the lab starts or a url it does not own, not both (command %q, url %q)", s.Command, s.URL)
	}
	handler := s.NewHandler != nil || s.Handler != nil
	if handler && (s.Command != "" || s.URL != "") {
		bad("handler", "a node is either a Go handler the lab serves, a command it starts or a url it does not own, not two of them (command %q, url %q)", s.Command, s.URL)
	}
	if s.NewHandler != nil && s.Handler != nil {
		bad("handler", "give NewHandler (built with the lab's clock) or Handler (keeps its own time), not both")
	}
	if s.Mode != "" && s.Mode != node.ModeChat && s.Mode != node.ModeEcho {
		bad("mode", "%q is not chat or echo", s.Mode)
	}
	if s.Mode != "" && (s.Command != "" || s.URL != "" || handler) {
		bad("mode", "%q is for the lab's own nodes; a command, url or handler node serves what it serves", s.Mode)
	}
	if strings.TrimSpace(s.Command) == "" && s.Command != "" {
		bad("command", "is blank")
	}
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("url", "%q is not an http:// or https:// URL with a host, like http://10.0.0.5:3000", s.URL)
		}
	}
	if s.Health != "" && !strings.HasPrefix(s.Health, "/") {
		bad("health", "%q is not a path; write it like /healthz", s.Health)
	}
	if s.ReadyTimeout < 0 {
		bad("ready_timeout", "%s is negative", s.ReadyTimeout)
	}
	if s.StopGrace < 0 {
		bad("stop_grace", "%s is negative", s.StopGrace)
	}
	if s.MaxDisconnection < 0 {
		bad("max_disconnection", "%s is negative", s.MaxDisconnection)
	}
	if (s.Recovery || s.MaxDisconnection != 0) && s.Kind() != KindChat {
		field := "recovery"
		if !s.Recovery {
			field = "max_disconnection"
		}
		bad(field, "only the lab's chat node has connection state recovery (this node is a %s node)", s.Kind())
	}
	if s.Kind() != KindCommand && s.Kind() != KindURL {
		for field, v := range map[string]string{"kill_cmd": s.KillCmd, "stop_cmd": s.StopCmd, "start_cmd": s.StartCmd, "hang_cmd": s.HangCmd, "resume_cmd": s.ResumeCmd, "dir": s.Dir, "health": s.Health} {
			if v != "" && !(field == "health" && s.Kind() == KindHandler) {
				bad(field, "only a command or url node takes it (this node is the lab's %s node)", s.Kind())
			}
		}
	}
	return errors.Join(errs...)
}

// Node is one node of a lab, of any kind. Everything that works on nodes —
// the balancer's server group, the admin API, the dashboard, lab ctl and
// the scenario runner — goes through it and through Lab.Fault, so every
// kind is treated the same.
type Node struct {
	name string
	kind Kind
	d    driver
}

// driver is what a kind of node does. Faults a kind cannot do return a
// *RefusedError; on success they return what they did, for the event.
type driver interface {
	url() string
	state() node.State
	kill(ctx context.Context) (string, error)
	stop(ctx context.Context) (string, error)
	hang(ctx context.Context) (string, error)
	slow(d time.Duration) (string, error)
	start(ctx context.Context) (string, error) // also ends hang and slow
	close() error
}

// Name is the node's name (node-1, ...).
func (n *Node) Name() string { return n.name }

// Kind is what the node is.
func (n *Node) Kind() Kind { return n.kind }

// URL is http://host:port of the node, where the balancer sends clients.
func (n *Node) URL() string { return n.d.url() }

// State is what the node is doing now, for status pages.
func (n *Node) State() node.State {
	st := n.d.state()
	st.Name, st.Kind = n.name, string(n.kind)
	return st
}

// InProcess is the chat or echo node behind n; nil for other kinds.
func (n *Node) InProcess() *node.Node {
	if d, ok := n.d.(inProcess); ok {
		return d.n
	}
	return nil
}

// inProcess drives one of package node's nodes.
type inProcess struct{ n *node.Node }

func (d inProcess) url() string       { return d.n.URL() }
func (d inProcess) state() node.State { return d.n.State() }
func (d inProcess) close() error      { return d.n.Close() }

// The node publishes its own fault events.
func (d inProcess) kill(context.Context) (string, error)     { return "", d.n.Kill() }
func (d inProcess) stop(ctx context.Context) (string, error) { return "", d.n.Stop(ctx) }
func (d inProcess) hang(context.Context) (string, error)     { return "", d.n.Hang() }
func (d inProcess) slow(t time.Duration) (string, error)     { return "", d.n.Slow(t) }
func (d inProcess) start(context.Context) (string, error)    { return "", d.n.Start() }
