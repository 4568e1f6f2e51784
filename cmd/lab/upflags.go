package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/profiles"
)

// addNodeFlags adds the flags that make the nodes your own app.
func addNodeFlags(fl *pflag.FlagSet, f *upFlags) {
	fl.BoolVar(&f.node.Recovery, "recovery", false, "connection state recovery on the chat nodes: chat over a Redis Stream; a client back within --max-disconnection, on any node, gets its session and every message it missed (socket.io-client's connectionStateRecovery; /ws?token=&offset=)")
	fl.DurationVar(&f.node.MaxDisconnection, "max-disconnection", node.DefaultMaxDisconnection, "with --recovery: how long a disconnected client may take to come back and still recover its session")
	fl.StringVar(&f.node.Command, "node-cmd", "", "run each node as this command (sh -c), with {port}, {name}, {redis_url} replaced and PORT, LAB_NODE_NAME, REDIS_URL set")
	fl.StringSliceVar(&f.nodeURLs, "node-url", nil, "a node that runs elsewhere, at this http(s) URL (repeatable); without --node-cmd or --nodes, the only nodes")
	fl.StringVar(&f.node.Health, "node-health", "", "path that answers 2xx-3xx once a --node-cmd process is ready (e.g. /healthz); the balancer checks it too (default: the port accepts; the balancer checks /)")
	fl.StringVar(&f.node.Dir, "node-dir", "", "working directory of --node-cmd (default: this one)")
	fl.DurationVar(&f.node.ReadyTimeout, "node-ready-timeout", lab.DefaultReadyTimeout, "how long a --node-cmd process gets to be ready")
	fl.DurationVar(&f.node.StopGrace, "node-stop-grace", lab.DefaultStopGrace, "stop: a --node-cmd process gets SIGTERM, then SIGKILL after this (the default is for these); the lab's own nodes answer /healthz 503 and serve on for this long, then send 1001 (without the flag: at once)")
	fl.StringVar(&f.node.KillCmd, "node-kill-cmd", "", "hook run for kill instead of SIGKILL (e.g. 'docker kill {name}'); {pid} is the process group")
	fl.StringVar(&f.node.StopCmd, "node-stop-cmd", "", "hook run for stop instead of SIGTERM (e.g. 'docker stop {name}')")
	fl.StringVar(&f.node.StartCmd, "node-start-cmd", "", "command launched instead of --node-cmd to bring a node back (e.g. 'docker start -a {name}')")
	fl.StringVar(&f.node.HangCmd, "node-hang-cmd", "", "hook run for hang instead of SIGSTOP (e.g. 'docker pause {name}')")
	fl.StringVar(&f.node.ResumeCmd, "node-resume-cmd", "", "hook run by start on a hung node instead of SIGCONT (e.g. 'docker unpause {name}')")
}

// nodeShape turns the node flags into the lab's node template and list.
// --nodes counts chat nodes, or --node-cmd processes; --node-url servers
// come after them, and alone when neither is given.
func nodeShape(cmd *cobra.Command, f upFlags) (count int, tmpl lab.NodeSpec, list []lab.NodeSpec, err error) {
	set := cmd.Flags().Changed
	count, tmpl = f.nodes, f.node
	if !set("node-ready-timeout") {
		tmpl.ReadyTimeout = 0
	}
	if !set("node-stop-grace") {
		tmpl.StopGrace = 0
	}
	if !set("max-disconnection") {
		tmpl.MaxDisconnection = 0
	} else if !tmpl.Recovery {
		return 0, tmpl, nil, usageError(fmt.Errorf("--max-disconnection %s needs --recovery: without it no session is recovered", tmpl.MaxDisconnection))
	}
	if tmpl.Recovery && (tmpl.Command != "" || count == 0 || len(f.nodeURLs) > 0 && !set("nodes")) {
		return 0, tmpl, nil, usageError(errors.New("--recovery is for the lab's own chat nodes; your --node-cmd or --node-url server recovers sessions itself, if it can (Socket.IO: connectionStateRecovery with a Redis Streams adapter)"))
	}
	if len(f.nodeURLs) > 0 && tmpl.Command == "" && !set("nodes") {
		count = 0
	}
	for _, u := range f.nodeURLs {
		list = append(list, lab.NodeSpec{URL: u})
	}
	if tmpl.Command == "" && len(f.nodeURLs) == 0 {
		for _, name := range []string{"node-health", "node-dir", "node-ready-timeout", "node-stop-grace", "node-kill-cmd", "node-stop-cmd", "node-start-cmd", "node-hang-cmd", "node-resume-cmd"} {
			if set(name) {
				return 0, tmpl, nil, usageError(fmt.Errorf("--%s is for the nodes of --node-cmd or --node-url; the lab's own chat nodes need none", name))
			}
		}
	}
	if len(f.nodeURLs) > 0 && tmpl.Command == "" {
		// Hooks given with url nodes are theirs.
		for i := range list {
			list[i] = list[i].Over(lab.NodeSpec{Health: tmpl.Health, ReadyTimeout: tmpl.ReadyTimeout, KillCmd: tmpl.KillCmd, StopCmd: tmpl.StopCmd,
				StartCmd: tmpl.StartCmd, HangCmd: tmpl.HangCmd, ResumeCmd: tmpl.ResumeCmd, Dir: tmpl.Dir})
		}
		tmpl = lab.NodeSpec{}
	}
	return count, tmpl, list, nil
}

// lockedWriter keeps lines whole when the nodes' output and the event
// stream write at once.
type lockedWriter struct {
	// mu serializes writes to w.
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// balancerConfig reads the document (the config file, if any) and the
// settings given as flags, which win over it at start and at every reload.
// Flags left at their defaults take no part.
func balancerConfig(cmd *cobra.Command, f upFlags) (doc, flags config.Config, err error) {
	if f.config != "" {
		if doc, err = config.LoadFile(f.config); err != nil {
			return doc, flags, err
		}
	}
	set := cmd.Flags().Changed
	if set("profile") {
		if _, err := profiles.Get(f.profile); err != nil {
			return doc, flags, fmt.Errorf("--profile: %s", strings.TrimPrefix(err.Error(), "profiles: "))
		}
		flags.Profile = f.profile
	}
	if set("listen") {
		flags.Listener.Addr = f.listen
	}
	if set("idle-timeout") { // refuseZeros refused 0 already
		flags.Listener.IdleTimeout = config.Duration(f.idleTimeout)
	}
	if set("policy") {
		flags.ServerGroup.Policy = f.policy
	}
	if set("stickiness") {
		st, err := stickinessFlag(f.stickiness)
		if err != nil {
			return doc, flags, err
		}
		flags.ServerGroup.Stickiness = st
	}
	if f.tls != "" {
		flags.Listener.TLS = &config.TLS{Addr: f.tls, SelfSigned: true}
	}
	return doc, flags, nil
}

// sessionCookie is the cookie the lab's own nodes set for --stickiness
// app_cookie to follow: Socket.IO's io, which Socket.IO v4 servers do not
// set by default (the lab's nodes do it only for app_cookie).
func sessionCookie(stickiness string) string {
	if stickiness == "app_cookie" {
		return "io"
	}
	return ""
}

// stickinessFlag is --stickiness as server_group.stickiness; app_cookie
// follows Socket.IO's cookie, io.
func stickinessFlag(v string) (config.Stickiness, error) {
	switch v {
	case config.StickyLBCookie, config.StickySourceIP, config.StickyNone:
		return config.Stickiness{Type: v}, nil
	case config.StickyApp:
		return config.Stickiness{Type: v, CookieName: "io"}, nil
	}
	return config.Stickiness{}, fmt.Errorf("--stickiness: %q is not lb_cookie, app_cookie, source_ip or none", v)
}
