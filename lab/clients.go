package lab

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wslab/wslab/faultlink"
)

// ClientsConfig starts the user's own clients: Count processes of one
// command, each reaching the balancer through a link of its own whose
// connections come from an address of its own, so the balancer's history
// tells them apart without their help (Lab.Clients maps an address back to
// its process).
//
// Why an address and not a query or header placeholder: a relay that
// dials from another source address works for any client — a browser
// driver, a mobile SDK, a binary — with no change to it, while a {client}
// in a query string or header would be lost by every client library that
// builds its own URL (Socket.IO appends its path and query) or cannot set
// headers on an upgrade (browsers). On Linux every 127.0.0.0/8 address is
// loopback; elsewhere the lab refuses, naming the aliases to add.
type ClientsConfig struct {
	// Command is a shell command line run once per client. Placeholders:
	// {url} (http://127.0.0.1:PORT, its own way to the balancer), {client}
	// (its name: client-1, client-2...) and {index} (1, 2...); the same are
	// in the environment as LAB_URL, LAB_CLIENT and LAB_CLIENT_INDEX.
	Command string `yaml:"command"`
	Count   int    `yaml:"count"` // how many; default 1, at most MaxClients
	// Dir is the directory the command runs in; default the lab's.
	Dir string `yaml:"dir"`
	// Env adds KEY=VALUE pairs to the command's environment.
	Env []string `yaml:"env"`
}

// MaxClients bounds ClientsConfig.Count.
const MaxClients = 500

// clientStopGrace is how long Close lets a client process go after
// SIGTERM before SIGKILL. Wall time: its time is its own.
const clientStopGrace = 2 * time.Second

// Validate checks the config; prefix names where it stands ("clients.").
func (c ClientsConfig) Validate(prefix string) error {
	if c.Command == "" {
		if c.Count != 0 {
			return fmt.Errorf("%scount: %d clients of no command; give %scommand, e.g. 'node my-client.js {url}'", prefix, c.Count, prefix)
		}
		return nil
	}
	var errs []error
	if c.Count < 0 || c.Count > MaxClients {
		errs = append(errs, fmt.Errorf("%scount: %d is out of range 1-%d", prefix, c.Count, MaxClients))
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("%senv: %q is not KEY=VALUE", prefix, kv))
		}
	}
	return errors.Join(errs...)
}

func (c ClientsConfig) count() int {
	if c.Command == "" {
		return 0
	}
	return max(c.Count, 1)
}

// ClientProcess is one of the user's client processes.
type ClientProcess struct {
	Name string `json:"name"` // client-1, client-2...
	// Addr is the source address its connections reach the balancer from:
	// the Client of the balancer's conn.opened and conn.closed events.
	Addr string `json:"addr"`
	URL  string `json:"url"` // what {url} said
	PID  int    `json:"pid"` // also its process group
	// Running says whether its launcher still runs.
	Running bool `json:"running"`
	// Exited says how it ended, if it ended by itself ("exit status 1;
	// its output: ..."); "" while it runs or when the lab stopped it.
	Exited string `json:"exited,omitempty"`
}

// clientSet is the lab's client processes.
type clientSet struct {
	// mu guards all; each entry's inc is written once.
	mu  sync.Mutex
	all []*clientProc
}

type clientProc struct {
	name, addr, url string
	inc             *incarnation
}

// clientAddr is the source address of the i-th client (1-based):
// 127.0.1.1, 127.0.1.2 ... 127.0.1.254, 127.0.2.1 ...
func clientAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 0, byte(1 + (i-1)/254), byte((i-1)%254 + 1)})
}

// startClients starts the client processes, each behind its own link.
// Nothing waits for them: a client has no port to be ready on.
func (l *Lab) startClients() error {
	cc := l.cfg.Clients
	n := cc.count()
	if n == 0 || l.Balancer == nil {
		return nil
	}
	if runtime.GOOS != "linux" {
		return fmt.Errorf("clients: the lab tells client processes apart by their source address (127.0.1.1...), "+
			"which only Linux has without setup; on %s add the aliases first (sudo ifconfig lo0 alias 127.0.1.1 ... 127.0.1.%d)", runtime.GOOS, min(n, 254))
	}
	if cc.Dir != "" {
		if st, err := os.Stat(cc.Dir); err != nil || !st.IsDir() {
			return fmt.Errorf("clients.dir: %q is not a directory here (the clients' command runs in it; a relative one is from where the lab runs)", cc.Dir)
		}
	}
	for i := 1; i <= n; i++ {
		name := "client-" + strconv.Itoa(i)
		addr := clientAddr(i).String()
		err := l.startLink(faultlink.Config{Name: name, Upstream: l.Balancer.Addr(), ClientSide: true, SourceIP: addr})
		if err != nil {
			return fmt.Errorf("clients: %s: %w", name, err)
		}
		url := "http://" + l.Link(name).Addr()
		vars := strings.NewReplacer("{url}", url, "{client}", name, "{index}", strconv.Itoa(i))
		env := append(os.Environ(), "LAB_URL="+url, "LAB_CLIENT="+name, "LAB_CLIENT_INDEX="+strconv.Itoa(i))
		env = append(env, cc.Env...)
		c := &clientProc{name: name, addr: addr, url: url}
		inc, err := spawn(name, vars.Replace(cc.Command), cc.Dir, env, l.out, func(inc *incarnation, _ int) {
			l.logger().Warn("client process exited", "client", name, "how", exitText(inc.err))
		})
		if err != nil {
			return fmt.Errorf("clients: %w", err)
		}
		c.inc = inc
		l.clients.mu.Lock()
		l.clients.all = append(l.clients.all, c)
		l.clients.mu.Unlock()
	}
	return nil
}

func (l *Lab) logger() *slog.Logger {
	if l.cfg.Logger != nil {
		return l.cfg.Logger
	}
	return slog.Default()
}

// Clients lists the user's client processes (ClientsConfig), in order.
func (l *Lab) Clients() []ClientProcess {
	l.clients.mu.Lock()
	defer l.clients.mu.Unlock()
	var out []ClientProcess
	for _, c := range l.clients.all {
		p := ClientProcess{Name: c.name, Addr: c.addr, URL: c.url, PID: c.inc.pid, Running: c.inc.alive()}
		if !c.inc.alive() && !c.inc.ended.Load() {
			<-c.inc.done // all it printed is read
			p.Exited = exitText(c.inc.err) + "; " + oneLineTail(&c.inc.out)
		}
		out = append(out, p)
	}
	return out
}

// StopClients ends every client process (SIGTERM, SIGKILL after a grace
// period), all at once, and waits until they are gone; Close does it
// first. Their connections end as the clients end them.
func (l *Lab) StopClients() error {
	l.clients.mu.Lock()
	all := l.clients.all
	l.clients.mu.Unlock()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = endAll(c.name, c.inc, clientStopGrace)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// clientsClocking is the lab's clocking once its clients are known: a
// lab with client processes runs on the real clock, whatever its nodes.
func clientsClocking(cc ClientsConfig, clk Clocking) (real bool, c Clocking) {
	if cc.count() == 0 || (clk.Real && clk != noClock) {
		return false, clk
	}
	return true, Clocking{Real: true, Why: "its clients are processes (" + cc.Command + "), whose time the lab cannot control"}
}
