package lab

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

// remote is a url node: a server that runs elsewhere. The lab does not own
// its process, so it can fault it only through the node's hooks; every
// other fault is refused by name, never faked.
type remote struct {
	name    string
	spec    NodeSpec
	base    string // http(s)://host:port, no trailing slash
	addr    string // host:port
	env     []string
	sink    *outputSink
	publish func(events.Event)

	// mu serializes hooks and guards hung.
	mu   sync.Mutex
	hung bool
}

func newRemote(name string, spec NodeSpec, env []string, sink *outputSink, publish func(events.Event)) *remote {
	u, _ := url.Parse(spec.URL) // validated
	addr := u.Host
	if u.Port() == "" {
		addr += map[string]string{"http": ":80", "https": ":443"}[u.Scheme]
	}
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = DefaultReadyTimeout
	}
	return &remote{name: name, spec: spec, base: strings.TrimSuffix(spec.URL, "/"), addr: addr, env: env, sink: sink, publish: publish}
}

func (r *remote) url() string { return r.base }

// check says whether the server answers now (its port, not its health:
// the balancer's health checks judge that).
func (r *remote) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond) // wall time: a status page waits on it
	defer cancel()
	return probe(ctx, r.addr, "")
}

func (r *remote) state() node.State {
	r.mu.Lock()
	hung := r.hung
	r.mu.Unlock()
	st := node.State{URL: r.base, Hung: hung, Faults: r.faults()}
	if err := r.check(context.Background()); err != nil {
		st.Note = "not answering: " + err.Error()
	} else {
		st.Listening = true
	}
	return st
}

// faults are the ones its hooks make possible.
func (r *remote) faults() []string {
	out := []string{}
	for _, f := range []struct{ name, hook string }{
		{"kill", r.spec.KillCmd}, {"stop", r.spec.StopCmd}, {"hang", r.spec.HangCmd}, {"start", r.spec.StartCmd + r.spec.ResumeCmd},
	} {
		if f.hook != "" {
			out = append(out, f.name)
		}
	}
	if r.spec.StopCmd != "" && r.spec.StartCmd != "" {
		out = append(out, "restart")
	}
	return out
}

func (r *remote) refuse(fault, hook string) error {
	why := "the lab does not own its process; run it as a command node (lab up --node-cmd), or give it a " + hook
	if hook == "" {
		why = "the lab does not carry its traffic, so it cannot delay its messages"
	}
	return &RefusedError{Node: r.name, Kind: KindURL, Fault: fault, Why: why}
}

func (r *remote) hook(ctx context.Context, which, tmpl string) (string, error) {
	line := strings.NewReplacer("{name}", r.name, "{url}", r.base).Replace(tmpl)
	return runHook(ctx, r.name, which, line, r.spec.Dir, r.env, r.sink)
}

func (r *remote) kill(ctx context.Context) (string, error) {
	if r.spec.KillCmd == "" {
		return "", r.refuse("kill", "kill_cmd (e.g. docker kill {name})")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	did, err := r.hook(ctx, "kill_cmd", r.spec.KillCmd)
	if err == nil {
		r.hung = false
		r.publish(events.Event{Kind: events.NodeStopped, Source: r.name, Reason: "killed"})
	}
	return did, err
}

func (r *remote) stop(ctx context.Context) (string, error) {
	if r.spec.StopCmd == "" {
		return "", r.refuse("stop", "stop_cmd (e.g. docker stop {name})")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	did, err := r.hook(ctx, "stop_cmd", r.spec.StopCmd)
	if err == nil {
		r.hung = false
		r.publish(events.Event{Kind: events.NodeStopped, Source: r.name, Reason: "stopped"})
	}
	return did, err
}

func (r *remote) hang(ctx context.Context) (string, error) {
	if r.spec.HangCmd == "" {
		return "", r.refuse("hang", "hang_cmd (e.g. docker pause {name}) and resume_cmd")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	did, err := r.hook(ctx, "hang_cmd", r.spec.HangCmd)
	r.hung = r.hung || err == nil
	return did, err
}

func (r *remote) slow(time.Duration) (string, error) { return "", r.refuse("slow", "") }

// start resumes a hung node (resume_cmd) or brings a stopped one back
// (start_cmd, then waits until it answers).
func (r *remote) start(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hung && r.spec.ResumeCmd != "" {
		did, err := r.hook(ctx, "resume_cmd", r.spec.ResumeCmd)
		r.hung = err != nil
		return did, err
	}
	if r.spec.StartCmd == "" {
		return "", r.refuse("start", "start_cmd (e.g. docker start {name})")
	}
	did, err := r.hook(ctx, "start_cmd", r.spec.StartCmd)
	if err != nil {
		return "", err
	}
	began := time.Now()
	path := r.spec.Health
	if strings.HasPrefix(r.base, "https:") {
		path = "" // the probe speaks plain HTTP: wait for the port
	}
	if err := waitAnswer(ctx, r.addr, path, r.spec.ReadyTimeout); err != nil {
		return "", fmt.Errorf("%s: %s, but %s did not answer within %s: %w", r.name, did, r.base, r.spec.ReadyTimeout, err)
	}
	r.publish(events.Event{Kind: events.NodeStarted, Source: r.name, Detail: "answering at " + r.base})
	return fmt.Sprintf("%s; answering in %s", did, time.Since(began).Round(time.Millisecond)), nil
}

func (r *remote) close() error { return nil }

// waitAnswer polls until a server answers at addr (see probe) or d passes.
func waitAnswer(ctx context.Context, addr, path string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		err := probe(ctx, addr, path)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}
