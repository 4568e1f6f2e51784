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
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/proxies"
)

// Config is what the admin API serves. Nodes may be empty (a balancer
// alone); Balancer may be nil (nodes alone).
type Config struct {
	Addr     string // listen address; default 127.0.0.1:8081
	Balancer *balancer.Balancer
	Nodes    Nodes // the lab's nodes, of any kind; nil for none
	Events   *events.Bus
	Seed     uint64
	Redis    string // where the store is, for people
	Clocking string // which clock the lab runs on, and why
	Logger   *slog.Logger
	// Extra routes (the dashboard) mounted under "/".
	Extra http.Handler
	// AddNode starts one more node and puts it in the server group; nil
	// when the lab cannot grow.
	AddNode func(context.Context) (node.State, error)
	// Links lists the fault links on the lab's hops (links.go); nil for
	// none.
	Links func() []*faultlink.Link
	// LinkTargets is the links a name in /api/links/{name} stands for
	// (lab.Lab.LinkTargets: "client" is every client-side link); nil: the
	// one link of that name.
	LinkTargets func(name string) ([]*faultlink.Link, error)
	// Proxy is the status of nginx, HAProxy or Caddy when one is the
	// lab's balancer (lab up --balancer); nil with the built-in one.
	Proxy func(context.Context) proxies.Status
	// ProxyReload applies a config document to that proxy (PUT
	// /api/config); nil with the built-in balancer.
	ProxyReload func(context.Context, []byte) (uint64, error)

	// Token, when set, is required on /api/ and /metrics as
	// "Authorization: Bearer TOKEN". It must be set when Addr is not a
	// loopback address (else Start returns a *TokenRequiredError).
	Token string
	// Hosts are extra names (path.Match patterns, e.g. "lab.internal",
	// "*.lab.example") accepted in the Host header, besides the listen
	// address and loopback names and addresses.
	Hosts []string
}

// Nodes are the nodes the admin API shows and faults: a lab's (lab.Lab),
// of any kind.
type Nodes interface {
	NodeStates() []node.State
	// Fault injects or clears a fault (kill, stop, hang, slow, start,
	// restart) and says what it did; delay is slow's.
	Fault(ctx context.Context, name, fault string, delay time.Duration) (string, error)
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
	mux.HandleFunc("GET /api/nodes", s.listNodes)
	mux.HandleFunc("POST /api/nodes/{name}/{action}", s.nodeAction)
	mux.HandleFunc("POST /api/nodes", s.addNode)
	mux.HandleFunc("POST /api/testers", s.openTesters)
	mux.HandleFunc("DELETE /api/testers", s.stopTesters)
	mux.HandleFunc("GET /api/events", s.events)
	s.linkRoutes(mux)
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
  GET  /api/nodes                      every node: kind, url, state, the faults it takes
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
	Clocking         string           `json:"clock,omitempty"`
	Balancer         *balancer.Status `json:"balancer,omitempty"`
	Proxy            *proxies.Status  `json:"proxy,omitempty"` // nginx, HAProxy or Caddy in the balancer's place
	ConnectionsTotal int              `json:"connections_total"`
	Nodes            []node.State     `json:"nodes"`
	Testers          int              `json:"testers"`
	EventsDropped    uint64           `json:"events_dropped_subscribers"`
}

func (s *Server) snapshot() Status {
	st := Status{Seed: s.cfg.Seed, Redis: s.cfg.Redis, Clocking: s.cfg.Clocking, Nodes: s.nodes(), EventsDropped: s.cfg.Events.Dropped()}
	if s.cfg.Balancer != nil {
		b := s.cfg.Balancer.Status()
		st.Balancer = &b
		st.ConnectionsTotal = len(b.Connections)
	}
	if s.cfg.Proxy != nil {
		p := s.cfg.Proxy(context.Background())
		st.Proxy = &p
	}
	st.Testers = s.testers.count()
	return st
}

func (s *Server) nodes() []node.State {
	if s.cfg.Nodes == nil {
		return []node.State{}
	}
	return s.cfg.Nodes.NodeStates()
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.nodes())
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
	writeJSON(w, http.StatusOK, n)
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
	if s.cfg.Balancer == nil && s.cfg.ProxyReload != nil && r.Method == http.MethodPut {
		s.putProxyConfig(w, r)
		return
	}
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
	if _, err := config.Load(body); err != nil {
		v.Valid, v.Problems = false, strings.Split(err.Error(), "\n")
	}
	writeJSON(w, http.StatusOK, v)
}

// FaultResult is the body of a fault's answer: what the fault did, and
// the node's state after it.
type FaultResult struct {
	node.State
	Did string `json:"did,omitempty"` // e.g. "SIGKILL to process group 1234 (3 processes)"
}

func (s *Server) nodeAction(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), r.PathValue("action")
	nodes := s.nodes()
	names := make([]string, 0, len(nodes))
	found := false
	for _, x := range nodes {
		names = append(names, x.Name)
		found = found || x.Name == name
	}
	if !found {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no node %q; nodes are: %s", name, strings.Join(names, ", ")))
		return
	}
	var delay time.Duration
	switch action {
	case "kill", "stop", "hang", "start", "restart":
	case "slow":
		var err error
		if delay, err = time.ParseDuration(r.URL.Query().Get("delay")); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("slow needs ?delay=DURATION like 2s, got %q", r.URL.Query().Get("delay")))
			return
		}
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown action %q: want kill, stop, hang, slow, start or restart", action))
		return
	}
	// A command node's start waits for it to be ready (30 s by default)
	// and its stop for a grace period: the bound is theirs plus a margin.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	did, err := s.cfg.Nodes.Fault(ctx, name, action, delay)
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	res := FaultResult{Did: did}
	for _, x := range s.nodes() {
		if x.Name == name {
			res.State = x
		}
	}
	writeJSON(w, http.StatusOK, res)
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

// putProxyConfig applies a document to the proxy in the balancer's place:
// the proxy checks it and reloads its own way, or the running config
// keeps serving.
func (s *Server) putProxyConfig(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "config body over 1 MiB")
		return
	}
	gen, err := s.cfg.ProxyReload(r.Context(), body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ReloadError{Error: "config rejected; the running config keeps serving", Generation: gen, Problems: []string{err.Error()}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"generation": gen})
}
