package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/load"
)

func newLoadCmd() *cobra.Command {
	var cfg load.Config
	var mode, transport string
	var asJSON bool
	var th load.Thresholds
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
         duplicated) while users drop and come back; --transport picks
         WebSocket (default), HTTP long-polling only, or io(url)'s default
         (polling, then the upgrade) — polling needs lab up --stickiness

rtt and flood need an echo backend (lab node --mode echo, or lab load
echo-server); hold works against any WebSocket endpoint, since every server
answers pings (lab up's chat nodes: /ws); chat needs a server of the
tutorial's chat (lab up, or your own). Progress is printed every --progress;
the report gives handshakes/s, failures, latency percentiles with their
unit and a histogram (rtt, chat), msgs/s and MB/s where the mode measures
them, connections per backend and the load tool's own CPU time. --json
leaves out what the mode does not measure.

Thresholds, as k6 has them, decide pass or fail: --max-p50, --max-p99
(rtt, chat), --max-errors (default 0), --min-rate (msgs/s), --max-lost
(chat). A crossed one is marked ✗ and the exit code is 1; one the mode
cannot measure is refused (exit 2) before anything connects. The file limit is raised as far as the system
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
  lab load --url ws://127.0.0.1:9101/ --mode rtt --max-p99 5ms --min-rate 20000   # exit 1 if slower
  lab load --url http://127.0.0.1:8080/ws --mode hold --conns 5000 --duration 60s
  lab load --url http://127.0.0.1:8080 --mode chat --conns 20 --duration 10s
  lab load --url http://127.0.0.1:8080 --mode chat --transport polling   # with: lab up --stickiness lb_cookie
  lab load --url http://127.0.0.1:8080 --mode chat --duration 30s --max-lost 0  # while: lab ctl node node-1 kill`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			cfg.Mode = load.Mode(mode)
			cfg.Transport = load.Transport(transport)
			if err := checkLoadFlags(cmd, cfg, th); err != nil {
				return err
			}
			errOut := cmd.ErrOrStderr()
			cfg.Progress = func(p load.Progress) { printProgress(errOut, cfg, p) }
			rep, err := load.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			rep.Thresholds = th.Check(rep)
			crossed := load.Crossed(rep.Thresholds)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
				for _, c := range crossed { // the JSON says it; a person watching stderr hears it too
					fmt.Fprintf(errOut, "lab: threshold crossed: %s\n", thresholdLine(c))
				}
			} else {
				printReport(cmd.OutOrStdout(), rep, anyChanged(cmd, thresholdFlags...))
			}
			if len(crossed) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("threshold crossed: %s", thresholdLine(crossed[0]))}
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
	fl.BoolVar(&cfg.Retry, "retry", false, "chat: send each message with an id and wait for its acknowledgement, resend what was not acknowledged after a reconnect (socket.io-client's retries); a message counts as sent once acknowledged")
	fl.StringVar(&transport, "transport", "", "chat: websocket (default), polling (HTTP long-polling only: behind a balancer it needs --stickiness) or default (polling, then the upgrade, as io(url) does)")
	fl.Uint64Var(&cfg.Seed, "seed", 0, "chat: seed of the jitter and the usernames (0: random, printed in the report)")
	fl.DurationVar(&th.MaxP50, "max-p50", 0, "threshold: exit 1 if the median latency is above this, e.g. 20ms (rtt, chat)")
	fl.DurationVar(&th.MaxP99, "max-p99", 0, "threshold: exit 1 if the 99th percentile latency is above this, e.g. 100ms (rtt, chat)")
	fl.Int64Var(&th.MaxErrors, "max-errors", 0, "threshold: exit 1 if more failures than this (-1: never)")
	fl.Float64Var(&th.MinRate, "min-rate", 0, "threshold: exit 1 if fewer messages per second than this (rtt, flood, chat)")
	fl.Int64Var(&th.MaxLost, "max-lost", -1, "threshold: exit 1 if more deliveries than this were lost (chat; -1: never)")
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

// thresholdFlags are lab load's k6-style limits.
var thresholdFlags = []string{"max-p50", "max-p99", "max-errors", "min-rate", "max-lost"}

// checkLoadFlags refuses, before any connection opens, a config or a
// threshold the mode cannot honour.
func checkLoadFlags(cmd *cobra.Command, cfg load.Config, th load.Thresholds) error {
	err := errors.Join(cfg.Validate(), th.Validate(cfg.Mode))
	if cmd.Flags().Changed("max-lost") && cfg.Mode != load.Chat && th.MaxLost >= 0 {
		err = errors.Join(err, fmt.Errorf("max-lost: only chat mode accounts for deliveries; %s mode has none to lose", cfg.Mode))
	}
	if err != nil {
		return usageError(fmt.Errorf("%s", oneLine(err)))
	}
	return nil
}

func anyChanged(cmd *cobra.Command, names ...string) bool {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

// thresholdLine words a checked threshold: "p99 112.40ms > 100ms (--max-p99)".
func thresholdLine(r load.Result) string {
	op := map[bool]string{true: "≤", false: ">"}
	if strings.HasPrefix(r.Name, "min-") {
		op = map[bool]string{true: "≥", false: "<"}
	}
	return fmt.Sprintf("%s %s %s %s (--%s)", r.Figure, r.Value, op[r.OK], r.Limit, r.Name)
}

func printProgress(w io.Writer, cfg load.Config, p load.Progress) {
	if cfg.Mode != load.Chat {
		fmt.Fprintf(w, "  %5.1fs  open %d  messages %d  failures %d\n", p.Elapsed.Seconds(), p.Open, p.Messages, p.Failures)
		return
	}
	fmt.Fprintf(w, "  %5.1fs  in the room %d/%d  messages %d  drops %d  reconnects %d  failed connects %d\n",
		p.Elapsed.Seconds(), p.Open, cfg.Conns, p.Messages, p.Drops, p.Reconnects, p.Failures)
}

// printReport writes the report as wrk and k6 do: durations with their
// unit, a latency histogram, only the figures the mode measures, and the
// thresholds (all of them if the user set one, else only those crossed).
func printReport(w io.Writer, r load.Report, allThresholds bool) {
	mode := string(r.Mode)
	if r.Transport != "" {
		mode += " (" + string(r.Transport) + ")"
	}
	fmt.Fprintf(w, "%s against %s: %d connections, %d opened (%.0f handshakes/s), %d failures\n",
		mode, r.URL, r.Conns, r.Handshakes, r.HandshakesPerSec, r.Failures)
	if r.Mode.MeasuresLatency() && len(r.Histogram) > 0 {
		d := load.FormatDuration
		fmt.Fprintf(w, "latency  p50 %s  p90 %s  p99 %s  max %s\n", d(r.P50), d(r.P90), d(r.P99), d(r.Max))
		printHistogram(w, r.Histogram)
	}
	if r.Mode.MeasuresRate() {
		fmt.Fprintf(w, "messages %d  %.0f msgs/s", r.Messages, r.MsgsPerSec)
		if r.Mode.MeasuresBytes() {
			fmt.Fprintf(w, "  %.1f MB/s", r.MBPerSec)
		}
		fmt.Fprintln(w)
	}
	if d := r.Chat; d != nil {
		fmt.Fprintf(w, "delivery sent %d", d.Sent)
		if r.Retry {
			fmt.Fprintf(w, "  acknowledged %d", d.Acknowledged)
		}
		fmt.Fprintf(w, "  due %d  delivered %d  lost %d  duplicated %d  missed while away %d  (seed %d)\n",
			d.Due, d.Delivered, d.Lost, d.Duplicated, d.MissedAway, r.Seed)
		fmt.Fprintf(w, "reconnect drops %d  reconnects %d", d.Drops, d.Reconnects)
		switch {
		case d.Drops == 0:
		case d.Back95 < 0:
			fmt.Fprintf(w, "  peak %d/s  95%% never back", d.PeakReconnectRate)
		default:
			fmt.Fprintf(w, "  peak %d/s  95%% back after %s", d.PeakReconnectRate, load.FormatDuration(d.Back95))
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
	fmt.Fprintf(w, "load tool CPU %s over %s wall\n", load.FormatDuration(r.ClientCPU), load.FormatDuration(r.Wall))
	if r.FirstFailure != "" {
		fmt.Fprintf(w, "first failure: %s\n", r.FirstFailure)
	}
	printThresholds(w, r.Thresholds, allThresholds)
}

// printHistogram draws one bar per bucket, the longest 40 wide.
func printHistogram(w io.Writer, buckets []load.Bucket) {
	most := 1
	for _, b := range buckets {
		most = max(most, b.Count)
	}
	for _, b := range buckets {
		bar := strings.Repeat("█", b.Count*40/most)
		if bar == "" && b.Count > 0 {
			bar = "▏"
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  ≤ %-9s %8d  %s", load.FormatDuration(b.UpTo), b.Count, bar), " "))
	}
}

func printThresholds(w io.Writer, results []load.Result, all bool) {
	crossed := load.Crossed(results)
	if !all && len(crossed) == 0 {
		return
	}
	fmt.Fprintln(w, "thresholds")
	for _, r := range results {
		if !all && r.OK {
			continue
		}
		mark := "✓"
		if !r.OK {
			mark = "✗"
		}
		fmt.Fprintf(w, "  %s %s\n", mark, thresholdLine(r))
	}
	if len(crossed) > 0 {
		fmt.Fprintf(w, "FAIL: %d of %d thresholds crossed\n", len(crossed), len(results))
	}
}
