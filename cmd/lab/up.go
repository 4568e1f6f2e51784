package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/lab"
)

type upFlags struct {
	nodes        int
	nodePort     int
	redis        string
	pingInterval time.Duration
	verbose      bool
}

func newUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a whole lab: chat nodes and Redis",
		Long: `Start the tutorial's deployment on this machine: N chat nodes (Socket.IO and
plain WebSocket chat, the chat page at /) and an embedded Redis that carries
sessions and messages between them. Prints where everything is, then one line
per event (connections opened and closed, faults). Ctrl-C stops it.`,
		Example: `  lab up                      # two nodes on ports 9001 and 9002
  lab up --nodes 3 --node-port 9101
  lab up --redis redis://127.0.0.1:6379/0   # use a real Redis`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			return runUp(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", 2, "number of chat nodes")
	fl.IntVar(&f.nodePort, "node-port", 9001, "port of node-1; node-N listens on node-port+N-1 (0: any free port)")
	fl.StringVar(&f.redis, "redis", "", "URL of an external Redis (redis://host:port/db); default: an embedded one")
	fl.DurationVar(&f.pingInterval, "ping-interval", 25*time.Second, "Socket.IO heartbeat interval of the nodes")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log debug details")
	return cmd
}

func runUp(cmd *cobra.Command, f upFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	bus := events.New()
	sub := bus.Subscribe(4096)
	defer sub.Close()
	l, err := lab.Start(ctx, lab.Config{
		Nodes: f.nodes, NodePort: f.nodePort, RedisURL: f.redis,
		PingInterval: f.pingInterval, Events: bus, Logger: logger,
	})
	if err != nil {
		return usageError(err)
	}
	printSummary(out, l)
	drain(sub) // the start-up events are in the summary
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "shutting down…")
			err := l.Close()
			for e := range drainNow(sub) {
				printEvent(out, e)
			}
			return err
		case e, ok := <-sub.C():
			if !ok {
				return fmt.Errorf("event stream: %w", sub.Err())
			}
			printEvent(out, e)
		}
	}
}

func printSummary(w io.Writer, l *lab.Lab) {
	fmt.Fprintf(w, "wslab is up (seed %d)\n", l.Seed)
	for _, n := range l.Nodes {
		fmt.Fprintf(w, "  %-8s %s   chat page %s/   health %s/healthz\n", n.Name(), n.URL(), n.URL(), n.URL())
	}
	redis := l.RedisAddr()
	if l.Redis != nil {
		redis += " (embedded; redis-cli -p " + portOf(redis) + " keys 'session:*')"
	}
	fmt.Fprintf(w, "  redis    %s\n", redis)
	fmt.Fprintln(w, "Press Ctrl-C to stop. Events:")
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}

func printEvent(w io.Writer, e events.Event) {
	fmt.Fprintf(w, "%s %s\n", e.Time.Format("15:04:05.000"), e)
}

func drain(sub *events.Subscription) {
	for range drainNow(sub) {
	}
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
