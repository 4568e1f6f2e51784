package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

// Every wait in this file is wall time, on purpose: a process's time is
// not the lab's to control (a lab with command nodes runs on the real
// clock, see Lab.Clocking).
const (
	readyPoll     = 50 * time.Millisecond // between readiness probes
	probeTimeout  = time.Second           // one readiness probe
	hookTimeout   = time.Minute           // a kill_cmd, stop_cmd, ...
	killWait      = 5 * time.Second       // for a SIGKILLed group to be gone
	pipeLinger    = time.Second           // output read after the launcher exited
	closeMaxGrace = 5 * time.Second       // Close: SIGTERM, then SIGKILL after at most this
)

// process is a command node: a process group the lab launches from the
// node's command template, supervises and faults with signals (or hooks).
type process struct {
	name    string
	spec    NodeSpec
	addr    string // host:port it must listen on, the same after a restart
	vars    map[string]string
	env     []string
	sink    *outputSink
	publish func(events.Event)

	// mu serializes the control path (launch, faults, close), which may
	// hold it for a whole start, and guards closed. The control path
	// alone writes run and hung; state reads them without waiting for it.
	mu     sync.Mutex
	closed bool
	run    atomic.Pointer[incarnation] // the last launch; nil before the first
	hung   atomic.Bool
}

// incarnation is one launch of the command. Its two goroutines (output
// reader and waiter) end by themselves once the process group is gone;
// done closes when both did.
type incarnation struct {
	cmd    *exec.Cmd
	pid    int // also the process group id
	line   string
	out    tail
	ended  atomic.Bool   // the lab ended it: its exit is no news
	exited chan struct{} // the launcher exited; err is set
	err    error
	done   chan struct{} // exited, output read, leftovers killed
}

func (inc *incarnation) alive() bool {
	select {
	case <-inc.exited:
		return false
	default:
		return true
	}
}

func newProcess(name, host string, port int, spec NodeSpec, redisURL string, sink *outputSink, publish func(events.Event)) *process {
	if spec.ReadyTimeout == 0 {
		spec.ReadyTimeout = DefaultReadyTimeout
	}
	if spec.StopGrace == 0 {
		spec.StopGrace = DefaultStopGrace
	}
	p := &process{
		name: name, spec: spec, addr: net.JoinHostPort(host, strconv.Itoa(port)), sink: sink, publish: publish,
		vars: map[string]string{"{port}": strconv.Itoa(port), "{name}": name, "{redis_url}": redisURL},
	}
	p.env = append(os.Environ(), "PORT="+strconv.Itoa(port), "LAB_NODE_NAME="+name, "REDIS_URL="+redisURL)
	p.env = append(p.env, spec.Env...)
	return p
}

// expand fills a template's placeholders.
func (p *process) expand(tmpl string) string {
	pid := ""
	if inc := p.run.Load(); inc != nil {
		pid = strconv.Itoa(inc.pid)
	}
	r := []string{"{pid}", pid}
	for k, v := range p.vars {
		r = append(r, k, v)
	}
	return strings.NewReplacer(r...).Replace(tmpl)
}

func (p *process) url() string { return "http://" + p.addr }

// launch starts the command (or start_cmd) and waits until it is ready.
// On failure nothing it started is left running. Callers hold mu.
func (p *process) launch(ctx context.Context, tmpl string) (string, error) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return "", fmt.Errorf("%s: %s is taken before the command started (%v): stop what listens there, or pick other ports (--node-port)", p.name, p.addr, err)
	}
	ln.Close()
	line := p.expand(tmpl)
	inc, err := spawn(p.name, line, p.spec.Dir, p.env, p.sink, p.exited)
	if err != nil {
		return "", err
	}
	p.run.Store(inc)
	p.hung.Store(false)
	began := time.Now()
	if err := p.waitReady(ctx, inc); err != nil {
		inc.ended.Store(true)
		p.endGroup(inc, sigKill)
		return "", &StartError{Node: p.name, Err: err}
	}
	did := fmt.Sprintf("launched %q as pid %d on %s; ready in %s", line, inc.pid, p.addr, time.Since(began).Round(time.Millisecond))
	p.publish(events.Event{Kind: events.NodeStarted, Source: p.name, Detail: fmt.Sprintf("listening on %s (pid %d: %s)", p.addr, inc.pid, line)})
	return did, nil
}

// StartError is a command node that did not become ready: it exited, did
// not answer in time, or the start was cancelled. Its message quotes the
// process's last output, one line each, for a person to read as is.
type StartError struct {
	Node string
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// exited reports a command node's exit the lab did not ask for: the node
// is down, the event quotes its last output.
func (p *process) exited(inc *incarnation, left int) {
	detail := exitText(inc.err)
	if left > 0 {
		detail += fmt.Sprintf("; the %d processes left in its group were killed", left)
	}
	p.publish(events.Event{Kind: events.NodeStopped, Source: p.name, Reason: "exited", Detail: detail + "; " + oneLineTail(&inc.out)})
}

// waitReady polls the health path (or the port) until it answers, the
// process exits, ReadyTimeout passes or ctx ends.
func (p *process) waitReady(ctx context.Context, inc *incarnation) error {
	deadline := time.NewTimer(p.spec.ReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		probeErr := probe(ctx, p.addr, p.spec.Health)
		select {
		case <-inc.exited:
			<-inc.done // all it printed is read
			return fmt.Errorf("%s: %q exited before it was ready (%s); %s", p.name, inc.line, exitText(inc.err), inc.out.String())
		default:
		}
		if probeErr == nil {
			return nil
		}
		select {
		case <-inc.exited:
		case <-deadline.C:
			inc.ended.Store(true)
			p.endGroup(inc, sigKill) // then all it printed is read
			return fmt.Errorf("%s: %q was not ready within %s (%v): it must listen on %s (PORT, {port}); one that starts slowly needs a longer ready_timeout; %s",
				p.name, inc.line, p.spec.ReadyTimeout, probeErr, p.addr, inc.out.String())
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %q to be ready: %w", p.name, inc.line, ctx.Err())
		case <-tick.C:
		}
	}
}

// groupSig is a signal the lab sends to a node's process group (on
// Windows only sigKill, as taskkill of the process tree).
type groupSig int

const (
	sigKill groupSig = iota
	sigTerm
	sigStop
	sigCont
)

// endGroup signals the group and waits until the launcher exited and no
// process of the group is left; it reports how many there were.
func (p *process) endGroup(inc *incarnation, sig groupSig) int {
	n := len(groupMembersOrNil(inc.pid))
	if n == 0 && canSignalGroups && !inc.alive() {
		// Gone already; its number may be another's by now.
		waitGone(inc, killWait)
		return 0
	}
	signalGroup(inc.pid, sig)
	if sig == sigKill || p.hung.Load() {
		signalGroup(inc.pid, sigCont) // a stopped process acts on SIGTERM only once resumed
	}
	waitGone(inc, killWait)
	return n
}

// waitGone waits until the launcher exited and its group is empty, or d
// passed; it reports whether they are gone.
func waitGone(inc *incarnation, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-inc.done:
	case <-t.C:
		return false
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(groupMembersOrNil(inc.pid)) > 0 {
		select {
		case <-t.C:
			return false
		case <-tick.C:
		}
	}
	return true
}

// ProcessGroup lists the live processes (zombies aside) of a process
// group: what a kill of a command node ends. Tests use it to check that
// nothing was left behind; ok is false where the system cannot tell
// (Windows).
func ProcessGroup(pgid int) (pids []int, ok bool) { return groupMembers(pgid) }

// AwaitGroupGone returns once no process of the group is alive, waiting on
// each member's exit (on Linux, its pidfd), or with what is left when ctx
// ends. ok is false where the system cannot list a group (Windows).
func AwaitGroupGone(ctx context.Context, pgid int) (left []int, ok bool) {
	for {
		left, ok = groupMembers(pgid)
		if !ok || len(left) == 0 {
			return left, ok
		}
		if err := awaitExit(ctx, left[0]); err != nil {
			return left, true
		}
	}
}

func groupMembersOrNil(pgid int) []int {
	pids, _ := groupMembers(pgid)
	return pids
}

func (p *process) refuse(fault, why string) error {
	return &RefusedError{Node: p.name, Kind: KindCommand, Fault: fault, Why: why}
}

// running is the live incarnation, or an error saying the node is down.
// Callers hold mu.
func (p *process) running(fault string) (*incarnation, error) {
	if p.closed {
		return nil, fmt.Errorf("%s: the lab is closing", p.name)
	}
	inc := p.run.Load()
	if inc == nil || !inc.alive() {
		return nil, fmt.Errorf("%w (%s): nothing to %s; lab ctl node %s start brings it back", &notRunning{p.name}, p.downText(), fault, p.name)
	}
	return inc, nil
}

// notRunning is a fault that needs a running process on a node that is
// down. A restart starts such a node all the same.
type notRunning struct{ node string }

func (e *notRunning) Error() string { return e.node + " is not running" }

func (p *process) downText() string {
	inc := p.run.Load()
	switch {
	case inc == nil:
		return "never started"
	case inc.ended.Load():
		return "the lab ended it"
	}
	return exitText(inc.err)
}

func (p *process) kill(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc, err := p.running("kill")
	if err != nil {
		return "", err
	}
	inc.ended.Store(true)
	if p.spec.KillCmd != "" {
		return p.byHook(ctx, inc, "kill_cmd", p.spec.KillCmd)
	}
	if !canSignalGroups {
		signalGroup(inc.pid, sigKill)
		waitGone(inc, killWait)
		p.published("killed")
		return groupText(sigKill, inc.pid, 0), nil
	}
	n := p.endGroup(inc, sigKill)
	p.hung.Store(false)
	p.published("killed")
	return groupText(sigKill, inc.pid, n), nil
}

func (p *process) stop(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc, err := p.running("stop")
	if err != nil {
		return "", err
	}
	if p.spec.StopCmd != "" {
		inc.ended.Store(true)
		return p.byHook(ctx, inc, "stop_cmd", p.spec.StopCmd)
	}
	if !canSignalGroups {
		return "", p.refuse("stop", "this system has no SIGTERM for a process tree; give the node a stop_cmd, or use kill")
	}
	inc.ended.Store(true)
	n := len(groupMembersOrNil(inc.pid))
	began := time.Now()
	signalGroup(inc.pid, sigTerm)
	if p.hung.Load() {
		signalGroup(inc.pid, sigCont)
	}
	p.hung.Store(false)
	did := groupText(sigTerm, inc.pid, n)
	if waitGone(inc, p.spec.StopGrace) {
		did += fmt.Sprintf("; gone in %s", time.Since(began).Round(time.Millisecond))
	} else {
		left := len(groupMembersOrNil(inc.pid))
		signalGroup(inc.pid, sigKill)
		waitGone(inc, killWait)
		did += fmt.Sprintf("; %d still running after the %s grace period: SIGKILL", left, p.spec.StopGrace)
	}
	p.published("stopped")
	return did, nil
}

func (p *process) hang(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inc, err := p.running("hang")
	if err != nil {
		return "", err
	}
	if p.hung.Load() {
		return "already hung (lab ctl node " + p.name + " start resumes it)", nil
	}
	if p.spec.HangCmd != "" {
		did, err := p.hook(ctx, "hang_cmd", p.spec.HangCmd)
		p.hung.Store(err == nil)
		return did, err
	}
	if !canSignalGroups {
		return "", p.refuse("hang", "this system cannot suspend a process tree; give the node a hang_cmd")
	}
	n := len(groupMembersOrNil(inc.pid))
	if err := signalGroup(inc.pid, sigStop); err != nil {
		return "", fmt.Errorf("%s: hang: %w", p.name, err)
	}
	p.hung.Store(true)
	if !waitStopped(inc.pid, killWait) {
		return "", fmt.Errorf("%s: hang: SIGSTOP sent to process group %d, but not all of it stopped within %s", p.name, inc.pid, killWait)
	}
	return groupText(sigStop, inc.pid, n) + " (it accepts connections and answers nothing; start resumes it)", nil
}

func (p *process) slow(time.Duration) (string, error) {
	return "", p.refuse("slow", "the lab does not carry its traffic, so it cannot delay its messages; kill, stop, hang, start and restart work")
}

func (p *process) start(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", fmt.Errorf("%s: the lab is closing", p.name)
	}
	last := p.run.Load()
	if inc := last; inc != nil && inc.alive() {
		if !p.hung.Load() {
			return fmt.Sprintf("already running (pid %d)", inc.pid), nil
		}
		if p.spec.ResumeCmd != "" {
			did, err := p.hook(ctx, "resume_cmd", p.spec.ResumeCmd)
			p.hung.Store(err != nil)
			return did, err
		}
		n := len(groupMembersOrNil(inc.pid))
		if err := signalGroup(inc.pid, sigCont); err != nil {
			return "", fmt.Errorf("%s: resume: %w", p.name, err)
		}
		p.hung.Store(false)
		return groupText(sigCont, inc.pid, n) + ": resumed", nil
	}
	if last != nil {
		<-last.done // the last incarnation's goroutines are over
	}
	tmpl := p.spec.Command
	if last != nil && p.spec.StartCmd != "" {
		tmpl = p.spec.StartCmd
	}
	return p.launch(ctx, tmpl)
}

// byHook ends inc with a hook instead of a signal, then waits for the
// launcher to go; one that does not within the grace period is killed.
// Callers hold mu.
func (p *process) byHook(ctx context.Context, inc *incarnation, which, tmpl string) (string, error) {
	did, err := p.hook(ctx, which, tmpl)
	if err != nil {
		return "", err
	}
	if !waitGone(inc, p.spec.StopGrace) {
		n := p.endGroup(inc, sigKill)
		did += fmt.Sprintf("; the launcher was still running after %s: %s", p.spec.StopGrace, groupText(sigKill, inc.pid, n))
	}
	p.hung.Store(false)
	p.published(map[string]string{"kill_cmd": "killed", "stop_cmd": "stopped"}[which])
	return did, nil
}

// hook runs a fault hook to completion, its output prefixed like the
// node's.
func (p *process) hook(ctx context.Context, which, tmpl string) (string, error) {
	return runHook(ctx, p.name, which, p.expand(tmpl), p.spec.Dir, p.env, p.sink)
}

func (p *process) published(reason string) {
	p.publish(events.Event{Kind: events.NodeStopped, Source: p.name, Reason: reason})
}

func (p *process) state() node.State {
	st := node.State{URL: p.url(), Hung: p.hung.Load(), Faults: processFaults(p.spec)}
	if inc := p.run.Load(); inc != nil {
		st.Command = inc.line
		if inc.alive() {
			st.Listening, st.PID = true, inc.pid
			st.Processes = len(groupMembersOrNil(inc.pid))
		} else {
			st.Note = "down: " + p.downText()
		}
	}
	return st
}

// close stops the process as stop does, the grace period capped, and
// waits for its goroutines.
func (p *process) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	inc := p.run.Load()
	if inc == nil {
		return nil
	}
	return endAll(p.name, inc, min(p.spec.StopGrace, closeMaxGrace))
}
