//go:build unix

package examples_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/wslab/wslab/internal/chattest"
	"github.com/wslab/wslab/internal/sioclienttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitFor = chattest.WaitFor

// startFor bounds a process's start and exit: loading node and the
// example's packages takes seconds on a busy 2-core machine (one of four
// started at once under a load of 18 had not exited after 15 s).
const startFor = 60 * time.Second

var ctxT = chattest.Ctx

// nodeBin is the node binary named by LAB_TEST_NODE; the test is skipped
// without it, and fails if the example's packages are not installed.
func nodeBin(t *testing.T, example string) string {
	t.Helper()
	bin, _ := sioclienttest.Example(t, example)
	return bin
}

// app is one example server process, in a process group of its own so that
// the test can end it and anything it started, and nothing else.
type app struct {
	cmd      *exec.Cmd
	URL      string        // http://127.0.0.1:PORT
	exited   chan struct{} // closed once the process has been reaped
	readDone chan struct{}
	exitErr  error       // set before exited is closed
	url      chan string // the address from the "listening on" line

	// mu guards the fields below.
	mu     sync.Mutex
	out    bytes.Buffer  // everything it printed
	notify chan struct{} // closed and replaced at every line
}

var listeningLine = regexp.MustCompile(`listening on (http://\S+)`)

// startApp runs `node server.js` in examples/<example> with PORT=0 and env
// and waits until it is ready. It is ended (SIGKILL to its group) when the
// test ends.
func startApp(t *testing.T, example string, env ...string) *app {
	t.Helper()
	a := launch(t, example, env...)
	a.ready(t)
	return a
}

// ready waits for the "listening on" line and a 200 from /healthz.
func (a *app) ready(t *testing.T) {
	t.Helper()
	select {
	case a.URL = <-a.url:
	case <-a.exited:
		t.Fatalf("%s exited before listening (%v); output:\n%s", a.cmd.Dir, a.exitErr, a.output())
	case <-time.After(startFor):
		t.Fatalf("%s did not say it listens within %s; output:\n%s", a.cmd.Dir, startFor, a.output())
	}
	if code, body := a.health(t); code != http.StatusOK {
		t.Fatalf("%s /healthz: got %d %v, want 200", a.cmd.Dir, code, body)
	}
}

// launch starts the process without waiting for it to be ready.
func launch(t *testing.T, example string, env ...string) *app {
	t.Helper()
	return launchCmd(t, example, []string{nodeBin(t, example), "server.js"}, env...)
}

// launchCmd starts argv in examples/<example>, in a process group of its own.
func launchCmd(t *testing.T, example string, argv []string, env ...string) *app {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = example
	cmd.Env = append(os.Environ(), append([]string{"PORT=0"}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		t.Fatalf("start %s: %v", example, err)
	}
	w.Close()
	a := &app{cmd: cmd, exited: make(chan struct{}), readDone: make(chan struct{}), url: make(chan string, 1), notify: make(chan struct{})}
	go a.read(r)
	go func() {
		a.exitErr = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		a.kill()
		<-a.exited
		<-a.readDone
		if t.Failed() {
			t.Logf("%s output:\n%s", example, a.output())
		}
	})
	return a
}

// read keeps what the process prints and picks out its address.
func (a *app) read(r *os.File) {
	defer close(a.readDone)
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		a.mu.Lock()
		a.out.Write(sc.Bytes())
		a.out.WriteByte('\n')
		close(a.notify)
		a.notify = make(chan struct{})
		a.mu.Unlock()
		if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
			select {
			case a.url <- m[1]:
			default:
			}
		}
	}
}

func (a *app) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

// kill ends the process group with SIGKILL: the process and anything it
// left behind (an app orphaned by npm's shell). Linux and the BSDs do not
// hand out a pid while a group of that id has members, so the group is
// still the one this test started, or empty (ESRCH).
func (a *app) kill() {
	syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
}

// signal sends sig to the process itself.
func (a *app) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (a *app) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-a.exited:
	case <-time.After(startFor):
		t.Fatalf("the process did not exit within %s; output:\n%s", startFor, a.output())
	}
	return a.cmd.ProcessState.ExitCode()
}

// noKeepAlive keeps the health checks from leaving idle connections (and
// their goroutines) behind.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: waitFor}

// health is the status code and JSON body of GET /healthz.
func (a *app) health(t *testing.T) (int, map[string]any) {
	t.Helper()
	resp, err := noKeepAlive.Get(a.URL + "/healthz")
	if err != nil {
		t.Fatalf("GET %s/healthz: %v", a.URL, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s/healthz: body is not JSON: %v", a.URL, err)
	}
	return resp.StatusCode, body
}

// waitOutput waits until the process has printed a line containing want.
func (a *app) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		a.mu.Lock()
		seen, notify := strings.Contains(a.out.String(), want), a.notify
		a.mu.Unlock()
		if seen {
			return
		}
		select {
		case <-notify:
		case <-a.readDone:
			if strings.Contains(a.output(), want) {
				return
			}
			t.Fatalf("the process closed its output without printing %q:\n%s", want, a.output())
		case <-deadline:
			t.Fatalf("the process did not print %q within %s:\n%s", want, waitFor, a.output())
		}
	}
}
