package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/dashboard"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/load"
)

type upFlags struct {
	nodes        int
	nodePort     int
	listen       string
	admin        string
	idleTimeout  time.Duration
	profile      string
	policy       string
	stickiness   string
	redis        string
	config       string
	tls          string
	pingInterval time.Duration
	seed         uint64
	verbose      bool
	shutdown     time.Duration
	adminToken   string
	adminHosts   []string
	allowOrigins []string
	links        string
	clientCmd    string
	clients      int
	node         lab.NodeSpec // --node-cmd and the hooks
	nodeURLs     []string
	// --balancer and --balancer-config (upproxy.go)
	balancer, balancerConfig string
}

func newUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a whole lab: balancer, nodes (ours or your app) and Redis",
		Long: `Start the tutorial's deployment on this machine: an ALB-like balancer in front
of N chat nodes (Socket.IO and plain WebSocket chat, the chat page at /) and
an embedded Redis that carries sessions and messages between them.

It prints where everything is, then one line per event: connections opened
and closed (with the reason: idle_timeout, drained, backend_closed, ...),
health changes, config reloads and faults. A burst of connections is summed
up (the first 3 a second get their line, then "opened 297 more connections
to node-1 (149), node-2 (148) in 0.9 s"); -v prints every one. With --config, saving the file
hot-reloads the balancer (SIGHUP does too); a bad edit is reported and the
running config keeps serving. Ctrl-C stops everything in order.

Break it from another terminal with lab ctl (see lab ctl --help).

Your own app can be the nodes: --node-cmd starts --nodes processes from a
command template, each on its own port ({port}, {name} and {redis_url} in
the template; PORT, LAB_NODE_NAME and REDIS_URL in its environment, Redis
being the lab's), waits until each answers (--node-health, or until its
port accepts), prefixes what it prints with the node's name and stops it
with the lab. --node-url adds servers that run elsewhere. Faults mean the
same for every kind: kill is SIGKILL to the whole process group, stop
SIGTERM then SIGKILL after --node-stop-grace, hang SIGSTOP (start resumes
it); what a url node cannot do is refused by name. A lab with such nodes
runs on the real clock.

Your own clients can take part: --client-cmd starts --clients processes of a
command ({url} is where each connects, {client} its name, {index} its number;
LAB_URL, LAB_CLIENT and LAB_CLIENT_INDEX in its environment). Each reaches the
balancer through a link of its own, from an address of its own (127.0.1.1,
127.0.1.2...), so the balancer's events tell them apart; Ctrl-C stops them
and prints what they went through: closes, time disconnected, reconnects,
the reconnect peak and how long until 95 % were back. A lab with client
processes runs on the real clock.`,
		Example: `  lab up                                   # balancer :8080, nodes :9001 :9002, admin :8081
  lab up --allow-origin 'localhost:3000'   # your page on another origin may open chat connections
  LAB_ADMIN_TOKEN=$(openssl rand -hex 16) lab up --admin 0.0.0.0:8081   # admin API for other machines
  lab up --nodes 3 --policy least_conn
  lab up --stickiness lb_cookie            # Socket.IO long-polling: every request of a session on one node
  lab up --idle-timeout 10s --ping-interval 30s   # watch Socket.IO heartbeats lose
  lab up --config lab.yaml                 # edit lab.yaml while it runs
  lab up --redis redis://127.0.0.1:6379/0  # use a real Redis
  lab up --profile aws-alb                 # behave like an AWS ALB (lab profile show aws-alb)
  lab up --tls                             # also WSS on 127.0.0.1:8443 (self-signed)
  lab up --recovery                        # clients get their session and missed messages back after a node dies
  lab up --node-cmd 'node server.js' --node-health /healthz --nodes 3   # your app, three processes
  lab up --node-cmd 'npm start' --node-kill-cmd 'docker kill {name}'    # with a fault hook
  lab up --node-url http://10.0.0.5:3000 --node-url http://10.0.0.6:3000  # servers that run elsewhere

  lab up --links                           # fault links: clients at 127.0.0.1:8090, then lab ctl link
  lab up --client-cmd 'node my-client.js {url}' --clients 50   # your clients, then lab ctl node node-1 kill`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			return runUp(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", 2, "number of nodes (1-64): chat nodes, or processes of --node-cmd")
	fl.IntVar(&f.nodePort, "node-port", 9001, "port of node-1; node-N listens on node-port+N-1 (0: any free port)")
	fl.StringVar(&f.listen, "listen", config.DefaultAddr, "address of the balancer's HTTP listener")
	fl.StringVar(&f.admin, "admin", "127.0.0.1:8081", "address of the admin API and dashboard (off loopback it needs --admin-token)")
	addAdminFlags(fl, &f.adminToken, &f.adminHosts)
	fl.StringSliceVar(&f.allowOrigins, "allow-origin", nil, "extra Origin host patterns the nodes accept on upgrades (e.g. 'localhost:3000', '*.example.com'); default same-origin only")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", config.DefaultIdleTimeout, "close tunnels with no bytes either way for this long (1s-4000s)")
	fl.StringVar(&f.profile, "profile", "", "behave like this load balancer (lab profile list): its idle timeout, what resets it, lifetime cap, how it cuts, health checks, draining; values you set still win")
	fl.StringVar(&f.policy, "policy", config.RoundRobin, "round_robin, least_conn or source_hash")
	fl.StringVar(&f.stickiness, "stickiness", "", "keep a client on one node: lb_cookie (the balancer's cookie), app_cookie (follow the nodes' io cookie), source_ip or none; Socket.IO long-polling needs it")
	fl.StringVar(&f.redis, "redis", "", "URL of an external Redis (redis://host:port/db); default: an embedded one")
	fl.StringVar(&f.config, "config", "", "balancer config file (YAML, see README); watched for hot reload; flags you set override it")
	fl.StringVar(&f.tls, "tls", "", "also listen for HTTPS/WSS on this address with a self-signed certificate")
	fl.Lookup("tls").NoOptDefVal = "127.0.0.1:8443"
	fl.DurationVar(&f.pingInterval, "ping-interval", 25*time.Second, "Socket.IO heartbeat interval of the nodes")
	fl.Uint64Var(&f.seed, "seed", 0, "seed for every random choice (0: pick one; it is printed)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print every connection on its own line (no summaries), every health check and node session, and debug logs")
	fl.StringVar(&f.links, "links", "", "put a fault link on every hop; clients connect to this address to pass the client link (lab ctl link --help)")
	fl.Lookup("links").NoOptDefVal = "127.0.0.1:8090"
	fl.StringVar(&f.clientCmd, "client-cmd", "", "start your own clients from this command ({url}, {client}, {index}); each is told apart at the balancer by its source address")
	fl.IntVar(&f.clients, "clients", 1, fmt.Sprintf("with --client-cmd: how many client processes (1-%d)", lab.MaxClients))
	fl.DurationVar(&f.shutdown, "shutdown-timeout", 5*time.Second, "on Ctrl-C, how long open connections get to answer the balancer's 1001 goodbye before they are closed")
	addNodeFlags(fl, &f)
	addProxyFlags(fl, &f)
	return cmd
}

func runUp(cmd *cobra.Command, f upFlags) error {
	ctx := cmd.Context()
	out := &lockedWriter{w: cmd.OutOrStdout()}
	if err := refuseZeros(cmd, "nodes", "idle-timeout", "ping-interval", "node-ready-timeout", "node-stop-grace"); err != nil {
		return err
	}
	if err := checkProxyFlags(f); err != nil {
		return err
	}
	nodes, nodeTmpl, nodeList, err := nodeShape(cmd, f)
	if err != nil {
		return err
	}
	clients, err := clientsConfig(cmd, f)
	if err != nil {
		return err
	}
	token := adminToken(f.adminToken)
	doc, flags, err := balancerConfig(cmd, f)
	if err != nil {
		return usageError(fmt.Errorf("%s", config.OneLine(err)))
	}
	// Checked before anything starts, as the balancer will check it: a
	// wrong --policy must not hide behind a node port in use. One node
	// stands in for the lab's, whose ports are not known yet.
	if err := config.Compose(flags, doc, nodeServers(1, 9001), nil).Validate(); err != nil {
		return usageError(fmt.Errorf("invalid balancer config: %s", config.OneLine(err)))
	}
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	// Before anything is printed: a SIGHUP must never find the default
	// action (terminate) once the user has seen the lab is up.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	load.RaiseFileLimit() // a tunnel holds two descriptors, a node session one
	bus := events.New()
	sub := bus.Subscribe(65536)
	defer sub.Close()
	began := time.Now()
	l, err := lab.Start(ctx, lab.Config{
		Balancer: doc, BalancerOverrides: flags, AdminAddr: f.admin, Nodes: nodes, NodePort: f.nodePort, RedisURL: f.redis,
		Node: nodeTmpl, NodeList: nodeList, NodeOutput: out,
		PingInterval: f.pingInterval, Seed: f.seed, Events: bus, Logger: logger,
		Dashboard: dashboard.Handler(), AdminToken: token, AdminHosts: f.adminHosts, AllowedOrigins: f.allowOrigins,
		SessionCookie: sessionCookie(f.stickiness),
		Links:         lab.LinksConfig{On: f.links != "", ClientAddr: f.links},
		Clients:       clients,
		BalancerKind:  f.balancer, BalancerConfigFile: f.balancerConfig,
	})
	if err != nil {
		var se *lab.StartError
		if errors.As(err, &se) { // keep the process's output lines as they are
			return usageError(err)
		}
		return explain(nodeFlagNames(err), map[string]string{"listener.addr": "--listen", "listener.tls": "--tls", "admin": "--admin", "node": "--node-port", "redis": "--redis"})
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var reloader config.Reloader = l.Balancer
	if l.Proxy != nil {
		reloader = proxyReloader{ctx: ctx, p: l.Proxy}
	}
	if f.config != "" { // before the summary: an edit made once it is printed is seen
		if err := watchConfig(watchCtx, &wg, reloader, f.config, out); err != nil {
			l.Close()
			return usageError(err)
		}
	}
	clientLog := newClientLog(l, began)
	printSummary(out, l, token)
	for e := range drainNow(sub) { // the start-up events are in the summary
		clientLog.add(e)
	}
	bw := bufio.NewWriterSize(out, 64<<10) // one write per burst of events
	defer bw.Flush()
	term := newEventTerm(bw, f.verbose, time.Now)
	tick := time.NewTicker(termTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			term.flush()
			bw.Flush()
			stopWatch()
			for e := range drainNow(sub) {
				term.event(e)
				clientLog.add(e)
			}
			term.flush()
			bw.Flush()
			clientLog.print(out) // before they are stopped
			progress, done := shutdownProgress(out, f.shutdown)
			first := true
			err := l.Shutdown(shutdownCtx(f.shutdown), func(open int) {
				if first { // what closed before the goodbye (the dashboard's test clients) is printed before its count
					for e := range drainNow(sub) {
						term.event(e)
					}
					term.flush()
					bw.Flush()
					first = false
				}
				progress(open)
			})
			done()
			fmt.Fprintln(out, "stopping the nodes, then Redis…")
			for e := range drainNow(sub) {
				term.event(e)
			}
			term.flush()
			bw.Flush()
			fmt.Fprintln(out, "stopped.")
			return err
		case <-hup:
			if l.Proxy != nil && f.config == "" && f.balancerConfig != "" {
				reloader.ReloadYAML(nil) // your own config, read again; the outcome is an event
				continue
			}
			reloadFile(reloader, f.config, out)
		case e, ok := <-sub.C():
			if !ok {
				return fmt.Errorf("event stream: %w", sub.Err())
			}
			term.event(e)
			clientLog.add(e)
			if len(sub.C()) == 0 {
				bw.Flush()
			}
		case <-tick.C:
			term.tick()
			bw.Flush()
		}
	}
}

// shutdownCtx bounds the goodbye of a shutdown. Its timer is wall time:
// a person pressed Ctrl-C.
func shutdownCtx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	time.AfterFunc(d, cancel) // ends with the timeout; nothing to release earlier in a stopping process
	return ctx
}

// shutdownProgress prints how the goodbye goes; done says what was left
// when the timeout ran out.
func shutdownProgress(out io.Writer, d time.Duration) (progress func(open int), done func()) {
	first, left := true, 0
	done = func() {
		if left > 0 {
			fmt.Fprintf(out, "  closed the %d that did not answer within %s\n", left, d)
		}
	}
	return func(open int) {
		left = open
		switch {
		case first && open == 0:
			fmt.Fprintln(out, "shutting down: no open connections")
		case first:
			fmt.Fprintf(out, "shutting down: said goodbye (close 1001) to both ends of %d connections; waiting up to %s for them to close…\n", open, d)
		case open == 0:
			fmt.Fprintln(out, "  every connection closed")
		default:
			fmt.Fprintf(out, "  %d still open\n", open)
		}
		first = false
	}, done
}

// watchConfig hot-reloads the balancer when the file is saved. Outcomes
// reach the output through the config events.
func watchConfig(ctx context.Context, wg *sync.WaitGroup, b config.Reloader, path string, out io.Writer) error {
	w, err := config.WatchFile(path, nil)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.Run(ctx, b, nil)
	}()
	return nil
}

func reloadFile(b config.Reloader, path string, out io.Writer) {
	if path == "" {
		fmt.Fprintln(out, "SIGHUP: nothing to reload (start with --config FILE to reload from a file)")
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(out, "SIGHUP: %v\n", err)
		return
	}
	b.ReloadYAML(data) // the outcome is printed from its event
}

// nodeFlagNames names the flags behind the node fields of a start-up
// error: node.health is --node-health, nodes[0].url is --node-url.
func nodeFlagNames(err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "node.") && !strings.HasPrefix(msg, "nodes[") {
		return err
	}
	msg = regexp.MustCompile(`nodes\[\d+\]\.url`).ReplaceAllString(msg, "--node-url")
	msg = regexp.MustCompile(`\bnode\.(command|url)`).ReplaceAllString(msg, "--node-cmd")
	msg = regexp.MustCompile(`\bnodes?(\[\d+\])?\.([a-z_]+)`).ReplaceAllStringFunc(msg, func(m string) string {
		field := m[strings.LastIndexByte(m, '.')+1:]
		return "--node-" + strings.NewReplacer("_cmd", "-cmd", "ready_timeout", "ready-timeout", "stop_grace", "stop-grace").Replace(field)
	})
	return errors.New(msg)
}

// drainNow yields the events already buffered, without waiting.
func drainNow(sub *events.Subscription) func(func(events.Event) bool) {
	return func(yield func(events.Event) bool) {
		for {
			select {
			case e, ok := <-sub.C():
				if !ok || !yield(e) {
					return
				}
			default:
				return
			}
		}
	}
}
