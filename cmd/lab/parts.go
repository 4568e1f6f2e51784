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
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
)

func newBalancerCmd() *cobra.Command {
	var configFile, adminAddr, cpuProfile, token string
	var adminHosts []string
	var verbose bool
	var shutdownTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "balancer --config FILE",
		Short: "Run the balancer alone, in front of any HTTP/WebSocket servers",
		Long: `Run only the ALB-like balancer, configured by a YAML file, in front of
whatever servers the file lists: lab nodes in other processes or on other
machines, or your own application. The file is watched: saving it
hot-reloads the balancer, and so does SIGHUP. A bad edit is reported with
every problem and the running config keeps serving.`,
		Example: `  lab balancer --config lab.yaml
  lab balancer --config lab.yaml --admin 127.0.0.1:8091`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			if configFile == "" {
				return usageError(fmt.Errorf("--config FILE is required: the balancer needs its server group (see README, config reference)"))
			}
			cfg, err := config.LoadFile(configFile)
			if err != nil {
				return usageError(fmt.Errorf("%s", oneLine(err)))
			}
			if cfg.ServerGroup.Servers == nil {
				return usageError(fmt.Errorf("%s: server_group.servers is missing: the balancer alone needs at least one server to send connections to, like {name: app-1, url: http://127.0.0.1:5000}", configFile))
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			logger := newLogger(cmd, verbose)
			hup := make(chan os.Signal, 1) // before anything is printed
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return usageError(err)
				}
				defer stop()
			}
			bus := events.New()
			sub := bus.Subscribe(65536)
			defer sub.Close()
			b, err := balancer.Start(ctx, cfg, balancer.Options{Events: bus, Logger: logger})
			if err != nil {
				return explain(err, map[string]string{"listener.addr": "listener.addr in " + configFile})
			}
			a, err := admin.Start(admin.Config{Addr: adminAddr, Balancer: b, Events: bus, Logger: logger, Token: adminToken(token), Hosts: adminHosts})
			if err != nil {
				b.Close()
				return explain(err, map[string]string{"admin": "--admin"})
			}
			var wg sync.WaitGroup
			watchCtx, stop := context.WithCancel(ctx)
			if err := watchConfig(watchCtx, &wg, b, configFile, out); err != nil {
				stop()
				a.Close()
				b.Close()
				return usageError(err)
			}
			fmt.Fprintf(out, "balancer  %s   (%s)\nadmin     %s\nwatching  %s for changes. Ctrl-C stops. Events:\n", b.URL(), b.Snapshot(), a.URL(), configFile)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-watchCtx.Done():
						return
					case <-hup:
						reloadFile(b, configFile, out)
					}
				}
			}()
			streamUntilDone(ctx, sub, out, verbose)
			stop()
			wg.Wait()
			a.Close()
			progress, done := shutdownProgress(out, shutdownTimeout)
			err = b.Shutdown(shutdownCtx(shutdownTimeout), progress)
			done()
			return err
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "balancer config file (YAML); required")
	cmd.Flags().StringVar(&adminAddr, "admin", "127.0.0.1:8081", "address of the admin API (off loopback it needs --admin-token)")
	addAdminFlags(cmd.Flags(), &token, &adminHosts)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also print every health check, and debug logs")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", 5*time.Second, "on Ctrl-C, how long open connections get to answer the balancer's 1001 goodbye before they are closed")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile to this file until the balancer stops (go tool pprof reads it)")
	return cmd
}

// startCPUProfile profiles the process until the returned stop is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func newNodeCmd() *cobra.Command {
	var cfg node.Config
	var mode string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "node --listen ADDR --redis URL --name NAME",
		Short: "Run one chat node against a given Redis",
		Long: `Run one chat node (or, with --mode echo, a WebSocket echo server) on its own,
for a lab spread over processes or machines: start a Redis, start nodes that
share it, and put lab balancer in front of them.`,
		Example: `  lab node --listen 127.0.0.1:9001 --redis redis://127.0.0.1:6379/0 --name node-1
  lab node --listen 127.0.0.1:9101 --mode echo --name echo-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			if err := refuseZeros(cmd, "ping-interval"); err != nil {
				return err
			}
			cfg.Mode = node.Mode(mode)
			bus := events.New()
			sub := bus.Subscribe(65536)
			defer sub.Close()
			cfg.Events, cfg.Logger = bus, newLogger(cmd, verbose)
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			n, err := node.Start(ctx, cfg)
			cancel()
			if err != nil {
				return explain(nodeConfigFlags(err), map[string]string{"listen on": "--listen"})
			}
			page := "chat page" // an echo node answers / with a line saying what it does
			if n.Mode() == node.ModeEcho {
				page = "page"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) on %s   %s %s/   health %s/healthz\nCtrl-C stops. Events:\n", n.Name(), n.Mode(), n.URL(), page, n.URL(), n.URL())
			for range drainNow(sub) {
			}
			streamUntilDone(cmd.Context(), sub, cmd.OutOrStdout(), true)
			return n.Close()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.Addr, "listen", "127.0.0.1:9001", "address to listen on")
	fl.StringVar(&cfg.RedisURL, "redis", "", "URL of the shared Redis (redis://host:port/db); required in chat mode")
	fl.StringVar(&cfg.Name, "name", "node-1", "name shown to clients (X-Lab-Node header, node event)")
	fl.StringVar(&mode, "mode", "chat", "chat or echo")
	fl.DurationVar(&cfg.PingInterval, "ping-interval", node.DefaultPingInterval, "Socket.IO heartbeat interval")
	fl.StringSliceVar(&cfg.AllowedOrigins, "allow-origin", nil, "extra Origin host patterns accepted on upgrades (e.g. '*.example.com'); default same-origin only")
	fl.BoolVar(&cfg.Recovery, "recovery", false, "connection state recovery: chat over a Redis Stream; every node of the chat needs it")
	fl.DurationVar(&cfg.MaxDisconnection, "max-disconnection", node.DefaultMaxDisconnection, "with --recovery: how long a client may be away and still recover its session")
	fl.BoolVarP(&verbose, "verbose", "v", false, "debug logs")
	return cmd
}

// streamUntilDone prints events until ctx ends, one write per burst,
// bursts of connections summed up unless verbose (see eventTerm).
func streamUntilDone(ctx context.Context, sub *events.Subscription, out io.Writer, verbose bool) {
	bw := bufio.NewWriterSize(out, 64<<10)
	defer bw.Flush()
	term := newEventTerm(bw, verbose, time.Now)
	defer term.flush()
	tick := time.NewTicker(termTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C():
			if !ok {
				return
			}
			term.event(e)
			if len(sub.C()) == 0 {
				bw.Flush()
			}
		case <-tick.C:
			term.tick()
			bw.Flush()
		}
	}
}

func newLogger(cmd *cobra.Command, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
}

// nodeConfigFlags names lab node's flags in node.Config's problems
// (redis_url: ... is --redis: ...).
func nodeConfigFlags(err error) error {
	flags := map[string]string{"redis_url": "--redis", "mode": "--mode", "ping_interval": "--ping-interval",
		"max_disconnection": "--max-disconnection", "allowed_origins": "--allow-origin"}
	return errors.New(nodeField.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := nodeField.FindStringSubmatch(m)
		if f, ok := flags[sub[2]]; ok {
			return sub[1] + f + ": "
		}
		return m
	}))
}

var nodeField = regexp.MustCompile(`(?m)(^|: )([a-z_]+): `)
