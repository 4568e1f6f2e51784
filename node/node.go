// Package node is a chat node: the tutorial's chat app (Socket.IO over the
// WebSocket transport, and the same chat as JSON on /ws), its page, its
// health endpoint, an echo mode for measuring the balancer, and faults
// (kill, stop, hang, slow) that a lab injects to see what clients live
// through.
//
// # Concurrency
//
// A Node owns every goroutine it starts: the HTTP server's, one reader and
// one writer per WebSocket session, the bus subscription, and the keeper
// that writes sessions back when Redis lost its data. Close (and Kill/Stop
// for the sessions) cancels them and waits until they exit. The room's
// member map is guarded by Node.membersMu; each session's Redis writes are
// serialized by its own lock; Redis health transitions and their events by
// Node.healthMu; faults are atomics and a gate channel read on the data path.
package node

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path"
	"time"

	"github.com/coder/quartz"

	"github.com/wslab/wslab/events"
)

// Mode selects what a node serves.
type Mode string

// Node modes.
const (
	ModeChat Mode = "chat" // the tutorial's chat app (default)
	ModeEcho Mode = "echo" // every WebSocket message sent straight back, nothing else
)

// Defaults applied to zero Config fields.
const (
	DefaultPingInterval = 25 * time.Second // Socket.IO's default heartbeat
	DefaultPingTimeout  = 20 * time.Second
	DefaultMaxPayload   = 64 << 10
	DefaultMaxUsername  = 32
	DefaultMaxMessage   = 2000
	DefaultQueue        = 256

	DefaultMaxDisconnection = 2 * time.Minute // Socket.IO's default window
	DefaultRecoveryBacklog  = 10000           // chat lines kept in the stream
)

// Config describes a node. The zero value is a chat node named "node" on a
// free loopback port; chat mode needs RedisURL.
type Config struct {
	Name     string // shown to clients (X-Lab-Node header, "node" event); default "node"
	Addr     string // listen address; default 127.0.0.1:0
	RedisURL string // redis://host:port/db of the shared store (chat mode)
	Channel  string // pub/sub channel; default store.DefaultChannel
	Mode     Mode   // ModeChat (default) or ModeEcho

	PingInterval time.Duration // Engine.IO heartbeat interval; default 25s
	PingTimeout  time.Duration // how long to wait for a pong; default 20s
	MaxPayload   int64         // read limit of every WebSocket message; default 64 KiB
	MaxUsername  int           // longest accepted username in characters; default 32
	MaxMessage   int           // longest accepted chat message in characters; default 2000
	Queue        int           // outgoing messages buffered per client; default 256

	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "*.example.com", "localhost:*") accepted in the Origin header of an
	// upgrade or a long-poll in addition to the request's own host; polling
	// responses to them carry CORS headers with credentials. Empty:
	// same-origin only.
	AllowedOrigins []string

	// SessionCookie names a cookie set to the Engine.IO session id on every
	// Socket.IO handshake (Socket.IO's cookie option, e.g. "io"), for a
	// balancer's app_cookie stickiness. Empty: no cookie, Socket.IO v4's
	// default.
	SessionCookie string

	// Recovery turns on connection state recovery (Socket.IO's
	// connectionStateRecovery, and a resume token on /ws): the chat goes
	// through a Redis Stream, and a client that comes back within
	// MaxDisconnection, on any node, gets its session and every chat line
	// it missed. Off by default, as in the tutorial.
	Recovery bool
	// MaxDisconnection is how long a disconnected client may take to come
	// back and still recover its session; default 2m.
	MaxDisconnection time.Duration
	// RecoveryBacklog bounds the stream (XADD MAXLEN ~): about this many
	// chat lines are kept; a client whose offset was trimmed away gets a
	// new session. Default 10000.
	RecoveryBacklog int64
	// StopGrace is what Stop gives the node, as an app that drains on
	// SIGTERM: /healthz answers 503 at once (the balancer takes the node
	// out), the node keeps serving — open connections and new ones — for
	// this long on its clock, then closes every WebSocket with 1001. 0:
	// the 1001s go at once.
	StopGrace time.Duration

	Clock  quartz.Clock // nil: real time
	Events *events.Bus  // nil: events are discarded
	Rand   *rand.Rand   // session ids; nil: seeded from crypto/rand
	Logger *slog.Logger // nil: slog.Default()
}

// withDefaults returns a copy of c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "node"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Mode == "" {
		c.Mode = ModeChat
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.MaxUsername == 0 {
		c.MaxUsername = DefaultMaxUsername
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.Queue == 0 {
		c.Queue = DefaultQueue
	}
	if c.MaxDisconnection == 0 {
		c.MaxDisconnection = DefaultMaxDisconnection
	}
	if c.RecoveryBacklog == 0 {
		c.RecoveryBacklog = DefaultRecoveryBacklog
	}
	if c.Clock == nil {
		c.Clock = quartz.NewReal()
	}
	if c.Rand == nil {
		var seed [16]byte
		crand.Read(seed[:])
		c.Rand = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem with the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Mode != "" && c.Mode != ModeChat && c.Mode != ModeEcho {
		errs = append(errs, fmt.Errorf("mode: %q is not chat or echo", c.Mode))
	}
	if (c.Mode == "" || c.Mode == ModeChat) && c.RedisURL == "" {
		errs = append(errs, errors.New("redis_url: a chat node needs a Redis URL (redis://host:port/db)"))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"ping_interval", c.PingInterval}, {"ping_timeout", c.PingTimeout}, {"max_disconnection", c.MaxDisconnection}, {"stop_grace", c.StopGrace}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"max_payload", c.MaxPayload}, {"max_username", int64(c.MaxUsername)}, {"max_message", int64(c.MaxMessage)}, {"queue", int64(c.Queue)}, {"recovery_backlog", c.RecoveryBacklog}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative", f.name, f.v))
		}
	}
	for _, p := range c.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("allowed_origins: %q is not a valid pattern (path.Match syntax, e.g. \"*.example.com\"): %w", p, err))
		}
	}
	if c.Recovery && c.Mode == ModeEcho {
		errs = append(errs, errors.New("recovery: an echo node has no chat to recover; turn recovery off or use mode chat"))
	}
	if c.SessionCookie != "" {
		if err := (&http.Cookie{Name: c.SessionCookie, Value: "x"}).Valid(); err != nil {
			errs = append(errs, fmt.Errorf("session_cookie: %q is not a cookie name (letters, digits and !#$%%&'*+-.^_`|~): %w", c.SessionCookie, err))
		}
	}
	return errors.Join(errs...)
}
