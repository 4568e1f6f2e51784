package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/load"
)

func newLoadCmd() *cobra.Command {
	var cfg load.Config
	var mode string
	var asJSON bool
	var maxLost int64
	cmd := &cobra.Command{
		Use:   "load --url URL --mode rtt|flood|hold|chat",
		Short: "Generate WebSocket load and measure it: latency, throughput, capacity",
		Long: `Open N WebSocket connections (at most --ramp handshakes at a time) to a
balancer or a backend and measure (rtt, flood and hold speak ws:// with a
minimal client of their own, so the tool costs the machine little):

  rtt    sequential echo round trips: p50/p90/p99/max latency
  flood  --window messages in flight per connection: msgs/s, MB/s
  hold   stay idle for --duration, then check each connection still answers
  chat   Socket.IO users chatting through the balancer: fan-out latency,
         and every message accounted for (sent, delivered, lost,
         duplicated) while users drop and come back

rtt and flood need an echo backend (lab node --mode echo, or lab load
echo-server); hold works against any WebSocket endpoint, since every server
answers pings (lab up's chat nodes: /ws); chat needs a server of the
tutorial's chat (lab up, or your own). Progress is printed every --progress;
the report gives handshakes/s, failures, connections per backend and the
load tool's own CPU time. The file limit is raised as far as the system
allows (as root, to 1,048,576).

In chat mode each user sets the username load-RUN-N and says "#SEQ @TIME"
every --interval; the sequence number travels in the text, so any server
of the chat can be measured. A user whose connection ends comes back as a
page does: after --reconnect-min, doubled per failed attempt up to
--reconnect-max, each delay ±50 % jitter. After --duration the run waits
up to --settle for users still away and messages in flight, then reports
sent / delivered / lost / duplicated, drops, reconnects, the peak
reconnect rate and the time until 95 % of dropped users were back. A
message is lost to a user that was in the room (its username confirmed,
its connection not yet seen to end) when it was sent and never received
it; see the README.`,
		Example: `  lab load echo-server --listen 127.0.0.1:9101 &
  lab load --url ws://127.0.0.1:9101/ --mode rtt --conns 50
  lab load --url http://127.0.0.1:8080/ws --mode hold --conns 5000 --duration 60s
  lab load --url http://127.0.0.1:8080 --mode chat --conns 20 --duration 10s
  lab load --url http://127.0.0.1:8080 --mode chat --duration 30s --max-lost 0  # while: lab ctl node node-1 kill`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			cfg.Mode = load.Mode(mode)
			if err := cfg.Validate(); err != nil {
				return usageError(fmt.Errorf("%s", oneLine(err)))
			}
			errOut := cmd.ErrOrStderr()
			cfg.Progress = func(p load.Progress) { printProgress(errOut, cfg, p) }
			rep, err := load.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printReport(cmd.OutOrStdout(), rep)
			if rep.Failures > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d failures, first: %s", rep.Failures, rep.FirstFailure)}
			}
			if rep.Chat != nil && maxLost >= 0 && rep.Chat.Lost > maxLost {
				return &exitError{code: 1, err: fmt.Errorf("%d deliveries lost, more than --max-lost %d", rep.Chat.Lost, maxLost)}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080/", "balancer or backend to load (http://, ws://, https://, wss://)")
	fl.StringVar(&mode, "mode", "rtt", "rtt, flood, hold or chat")
	fl.IntVar(&cfg.Conns, "conns", 50, "connections (chat: users)")
	fl.IntVar(&cfg.Ramp, "ramp", 32, "handshakes in flight while opening")
	fl.IntVar(&cfg.Size, "size", 0, "message size in bytes (default 256; flood 1024)")
	fl.IntVar(&cfg.Messages, "messages", 400, "rtt: round trips per connection")
	fl.IntVar(&cfg.Window, "window", 16, "flood: messages in flight per connection")
	fl.DurationVar(&cfg.Duration, "duration", 10*time.Second, "flood and chat: how long to send; hold: how long to hold")
	fl.DurationVar(&cfg.Interval, "interval", time.Second, "chat: how often each user speaks")
	fl.DurationVar(&cfg.ReconnectMin, "reconnect-min", time.Second, "chat: first reconnect delay after a drop (doubled per failed attempt, ±50 % jitter)")
	fl.DurationVar(&cfg.ReconnectMax, "reconnect-max", 5*time.Second, "chat: longest reconnect delay")
	fl.DurationVar(&cfg.Settle, "settle", 5*time.Second, "chat: after --duration, how long to wait for users still away and messages in flight")
	fl.Uint64Var(&cfg.Seed, "seed", 0, "chat: seed of the jitter and the usernames (0: random, printed in the report)")
	fl.Int64Var(&maxLost, "max-lost", -1, "chat: exit 1 if more deliveries than this were lost (-1: never)")
	fl.DurationVar(&cfg.ProgressEvery, "progress", time.Second, "how often to print a progress line (to stderr)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.AddCommand(newEchoServerCmd())
	return cmd
}

func newEchoServerCmd() *cobra.Command {
	var addr, name string
	cmd := &cobra.Command{
		Use:   "echo-server",
		Short: "Run a raw WebSocket echo backend, to measure a balancer without chat-app cost",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			load.RaiseFileLimit()
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			_ = ctx
			cancel()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return usageError(fmt.Errorf("listen on %s: %w (--listen)", addr, err))
			}
			srv := &http.Server{Handler: load.EchoHandler(name), ReadHeaderTimeout: 10 * time.Second}
			done := make(chan struct{})
			go func() { defer close(done); srv.Serve(ln) }()
			fmt.Fprintf(cmd.OutOrStdout(), "echo server %s on ws://%s/ (raw framing, batched writes). Ctrl-C stops.\n", name, ln.Addr())
			<-cmd.Context().Done()
			srv.Close()
			<-done
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "listen", "127.0.0.1:9101", "address to listen on")
	cmd.Flags().StringVar(&name, "name", "echo", "name sent in X-Lab-Node, so lab load can show the spread")
	return cmd
}

func printProgress(w io.Writer, cfg load.Config, p load.Progress) {
	if cfg.Mode != load.Chat {
		fmt.Fprintf(w, "  %5.1fs  open %d  messages %d  failures %d\n", p.Elapsed.Seconds(), p.Open, p.Messages, p.Failures)
		return
	}
	fmt.Fprintf(w, "  %5.1fs  in the room %d/%d  messages %d  drops %d  reconnects %d  failed connects %d\n",
		p.Elapsed.Seconds(), p.Open, cfg.Conns, p.Messages, p.Drops, p.Reconnects, p.Failures)
}

func printReport(w io.Writer, r load.Report) {
	fmt.Fprintf(w, "%s against %s: %d connections, %d opened (%.0f handshakes/s), %d failures\n",
		r.Mode, r.URL, r.Conns, r.Handshakes, r.HandshakesPerSec, r.Failures)
	if r.P50 > 0 {
		fmt.Fprintf(w, "latency  p50 %s  p90 %s  p99 %s  max %s\n", us(r.P50), us(r.P90), us(r.P99), us(r.Max))
	}
	if r.MsgsPerSec > 0 {
		fmt.Fprintf(w, "messages %d  %.0f msgs/s", r.Messages, r.MsgsPerSec)
		if r.MBPerSec > 0 {
			fmt.Fprintf(w, "  %.1f MB/s", r.MBPerSec)
		}
		fmt.Fprintln(w)
	}
	if d := r.Chat; d != nil {
		fmt.Fprintf(w, "delivery sent %d  due %d  delivered %d  lost %d  duplicated %d  (seed %d)\n",
			d.Sent, d.Due, d.Delivered, d.Lost, d.Duplicated, r.Seed)
		fmt.Fprintf(w, "reconnect drops %d  reconnects %d", d.Drops, d.Reconnects)
		switch {
		case d.Drops == 0:
		case d.Back95 < 0:
			fmt.Fprintf(w, "  peak %d/s  95%% never back", d.PeakReconnectRate)
		default:
			fmt.Fprintf(w, "  peak %d/s  95%% back after %s", d.PeakReconnectRate, d.Back95.Round(time.Millisecond))
		}
		fmt.Fprintln(w)
	}
	if r.Mode == load.Hold {
		fmt.Fprintf(w, "held %d connections; %d answered a ping afterwards\n", r.Handshakes, r.Messages)
	}
	if len(r.PerBackend) > 0 {
		var names []string
		for n := range r.PerBackend {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprint(w, "spread  ")
		for _, n := range names {
			fmt.Fprintf(w, " %s=%d", n, r.PerBackend[n])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "load tool CPU %s over %s wall\n", r.ClientCPU.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
	if r.FirstFailure != "" {
		fmt.Fprintf(w, "first failure: %s\n", r.FirstFailure)
	}
}

func us(d time.Duration) string { return fmt.Sprintf("%dµs", d.Microseconds()) }
