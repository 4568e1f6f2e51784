// Package admin is the lab's admin API: status, balancer config (get and hot
// reload), node faults, a server-sent event stream and Prometheus metrics.
// It listens on loopback by default; who it answers (Host names, other
// origins and sites, a bearer token) is decided in access.go.
//
// # Concurrency
//
// A Server owns its HTTP server; Close ends every request in flight (event
// streams included) and waits for the serve loop.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

// Config is what the admin API serves. Nodes may be empty (a balancer
// alone); Balancer may be nil (nodes alone).
type Config struct {
	Addr     string // listen address; default 127.0.0.1:8081
	Balancer *balancer.Balancer
	Nodes    func() []*node.Node // the nodes now; nil for none
	Events   *events.Bus
	Seed     uint64
	Redis    string // where the store is, for people
	Logger   *slog.Logger
	// Extra routes (the dashboard) mounted under "/".
	Extra http.Handler
	// AddNode starts one more node and puts it in the server group; nil
	// when the lab cannot grow.
	AddNode func(context.Context) (*node.Node, error)

	// Token, when set, is required on /api/ and /metrics as
	// "Authorization: Bearer TOKEN". It must be set when Addr is not a
	// loopback address (else Start returns a *TokenRequiredError).
	Token string
	// Hosts are extra names (path.Match patterns, e.g. "lab.internal",
	// "*.lab.example") accepted in the Host header, besides the listen
	// address and loopback names and addresses.
	Hosts []string
}

// Server is a running admin API.
type Server struct {
	cfg     Config
	srv     *http.Server
	addr    string
	done    chan struct{}
	testers *testers
	// mu guards closed.
	mu     sync.Mutex
	closed bool
}

// Start listens and serves the admin API.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8081"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Token = strings.TrimSpace(cfg.Token)
	if needsToken(cfg.Addr) && cfg.Token == "" {
		return nil, &TokenRequiredError{Addr: cfg.Addr}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, addr: ln.Addr().String(), done: make(chan struct{}), testers: &testers{}}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the host:port the admin API listens on.
func (s *Server) Addr() string { return s.addr }

// URL is http://host:port of the admin API.
func (s *Server) URL() string { return "http://" + s.addr }

// Close stops the admin API, ending open event streams.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.srv.Close()
	<-s.done
	s.testers.closeAll()
	return err
}

// Handler routes the admin API, behind the access rules of access.go.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", s.status)
	mux.HandleFunc("GET /api/config", s.getConfig)
	mux.HandleFunc("PUT /api/config", s.putConfig)
	mux.HandleFunc("PATCH /api/config", s.putConfig)
	mux.HandleFunc("POST /api/config/validate", s.validateConfig)
	mux.HandleFunc("POST /api/nodes/{name}/{action}", s.nodeAction)
	mux.HandleFunc("POST /api/nodes", s.addNode)
	mux.HandleFunc("POST /api/testers", s.openTesters)
	mux.HandleFunc("DELETE /api/testers", s.stopTesters)
	mux.HandleFunc("GET /api/events", s.events)
	mux.Handle("GET /metrics", s.metrics())
	if s.cfg.Extra != nil {
		mux.Handle("/", s.cfg.Extra)
	} else {
		mux.HandleFunc("GET /{$}", s.index)
	}
	return newAccess(s.addr, s.cfg).wrap(mux)
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, `wslab admin API
  GET  /api/status                     balancer, backends, connections, nodes
  GET  /api/config                     the balancer config in force
  PUT  /api/config                     hot reload (YAML or JSON body); 400 lists every problem
  POST /api/config/validate            the problems a config would be rejected for, not applied
  POST /api/nodes/{name}/{action}      kill | stop | hang | slow?delay=2s | start | restart
  POST /api/nodes                      add a node to the lab and the server group
  POST /api/testers?count=N            open N chatting test clients through the balancer
  DELETE /api/testers[?count=N]        stop them (the N newest), each with a close frame
  GET  /api/events                     server-sent events, as they happen
  GET  /api/events?since=5m|last=100   the events kept (the last 10000) as JSON {"events": [...]};
                                       &follow=1 (or Accept: text/event-stream): streamed, then live
  GET  /metrics                        Prometheus text format
`)
}

// Status is the body of GET /api/status. With ?limit=N, at most N
// connections are listed (the oldest); ConnectionsTotal counts them all.
type Status struct {
	Seed             uint64           `json:"seed"`
	Redis            string           `json:"redis,omitempty"`
	Balancer         *balancer.Status `json:"balancer,omitempty"`
	ConnectionsTotal int              `json:"connections_total"`
	Nodes            []node.State     `json:"nodes"`
	Testers          int              `json:"testers"`
	EventsDropped    uint64           `json:"events_dropped_subscribers"`
}

func (s *Server) snapshot() Status {
	st := Status{Seed: s.cfg.Seed, Redis: s.cfg.Redis, Nodes: []node.State{}, EventsDropped: s.cfg.Events.Dropped()}
	if s.cfg.Balancer != nil {
		b := s.cfg.Balancer.Status()
		st.Balancer = &b
		st.ConnectionsTotal = len(b.Connections)
	}
	st.Testers = s.testers.count()
	for _, n := range s.nodes() {
		st.Nodes = append(st.Nodes, n.State())
	}
	return st
}

func (s *Server) nodes() []*node.Node {
	if s.cfg.Nodes == nil {
		return nil
	}
	return s.cfg.Nodes()
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.snapshot()
	if v := r.URL.Query().Get("limit"); v != "" && st.Balancer != nil {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q is not a number of connections", v))
			return
		}
		st.Balancer.Connections = st.Balancer.Connections[:min(n, len(st.Balancer.Connections))]
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) addNode(w http.ResponseWriter, r *http.Request) {
	if s.cfg.AddNode == nil {
		writeError(w, http.StatusNotFound, "this lab cannot add nodes (lab up can)")
		return
	}
	n, err := s.cfg.AddNode(r.Context())
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, n.State())
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Balancer == nil {
		writeError(w, http.StatusNotFound, "this lab runs no balancer")
		return
	}
	cfg := s.cfg.Balancer.Config()
	if r.URL.Query().Get("format") == "yaml" {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(cfg.Marshal())
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}

// ReloadError is the 400 body of a rejected PUT /api/config.
type ReloadError struct {
	Error      string   `json:"error"`
	Generation uint64   `json:"generation"` // the generation that keeps serving
	Problems   []string `json:"problems"`
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Balancer == nil {
		writeError(w, http.StatusNotFound, "this lab runs no balancer")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "config body over 1 MiB")
		return
	}
	// PUT replaces the document; PATCH merges a partial one into it.
	apply := s.cfg.Balancer.ReloadYAML
	if r.Method == http.MethodPatch {
		apply = s.cfg.Balancer.Patch
	}
	gen, err := apply(body)
	var rej *balancer.RejectedError
	switch {
	case errors.As(err, &rej):
		writeJSON(w, http.StatusBadRequest, ReloadError{
			Error: "config rejected; the running config keeps serving", Generation: rej.Generation,
			Problems: strings.Split(rej.Err.Error(), "\n"),
		})
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]uint64{"generation": gen})
	}
}

// Validation is the body of POST /api/config/validate: the problems a
// config would be rejected for, without applying it.
type Validation struct {
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems"`
}

func (s *Server) validateConfig(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "config body over 1 MiB")
		return
	}
	v := Validation{Valid: true, Problems: []string{}}
	if _, err := balancer.LoadConfig(body); err != nil {
		v.Valid, v.Problems = false, strings.Split(err.Error(), "\n")
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) nodeAction(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), r.PathValue("action")
	var n *node.Node
	nodes := s.nodes()
	names := make([]string, 0, len(nodes))
	for _, x := range nodes {
		names = append(names, x.Name())
		if x.Name() == name {
			n = x
		}
	}
	if n == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no node %q; nodes are: %s", name, strings.Join(names, ", ")))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var err error
	switch action {
	case "kill":
		err = n.Kill()
	case "stop":
		err = n.Stop(ctx)
	case "hang":
		err = n.Hang()
	case "start":
		err = n.Start()
	case "restart":
		err = n.Restart(ctx)
	case "slow":
		var d time.Duration
		d, err = time.ParseDuration(r.URL.Query().Get("delay"))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("slow needs ?delay=DURATION like 2s, got %q", r.URL.Query().Get("delay")))
			return
		}
		err = n.Slow(d)
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown action %q: want kill, stop, hang, slow, start or restart", action))
		return
	}
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, n.State())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
