package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/profiles"
	"github.com/wslab/wslab/scenarios"
)

// Shell completion (lab completion bash|zsh|fish|powershell) for every
// argument and flag that names something. Registered here, in one place,
// by command path and flag name, so the commands stay wiring.

type completeFunc = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective)

// flagCompletions: "command path --flag" → its values.
var flagCompletions = map[string]completeFunc{
	"lab up --profile":           profileNames,
	"lab scenario run --profile": profileNames,
	"lab check --profile":        profileNames,
	"lab up --policy": fixed(
		config.RoundRobin+"\teach new connection to the next backend in turn",
		config.LeastConn+"\tto the backend with the fewest open connections",
		config.SourceHash+"\tthe same client address to the same backend"),
	"lab up --stickiness": fixed(
		config.StickyLBCookie+"\tthe balancer sets a cookie naming the backend",
		config.StickyApp+"\tfollow the nodes' own session cookie (io)",
		config.StickySourceIP+"\tthe same client address to the same backend",
		config.StickyNone+"\teach connection picked by the policy"),
	"lab load --mode": fixed(
		"rtt\tsequential echo round trips: latency",
		"flood\tmessages in flight per connection: throughput",
		"hold\tstay idle, then check each connection answers: capacity",
		"chat\tSocket.IO users chatting through the balancer: fan-out, loss"),
	"lab node --mode":       fixed("chat\tSocket.IO and plain WebSocket chat", "echo\traw WebSocket echo"),
	"lab check --from":      fixed("client\tthe client sends the heartbeat", "backend\tthe backend sends it", "both\tone side sends, the other answers"),
	"lab up --config":       yamlFiles,
	"lab balancer --config": yamlFiles,
}

// argCompletions: "command path" → its positional arguments.
var argCompletions = map[string]completeFunc{
	"lab ctl node":      ctlNodeArgs,
	"lab ctl link":      ctlLinkArgs,
	"lab ctl reload":    yamlFiles,
	"lab scenario show": scenarioArgs(false),
	"lab scenario run":  scenarioArgs(true),
}

// nodeActions are what lab ctl node NAME does (admin's POST
// /api/nodes/{name}/{action}).
var nodeActions = []string{
	"kill\tcrash: connections dropped, no close frame",
	"stop\tgraceful: close frames 1001, users leave",
	"hang\taccepts connections, answers nothing",
	"slow\tevery outgoing message late by DURATION (0 clears)",
	"start\tback in service, faults cleared",
	"restart\tstop gracefully, then start",
}

// addCompletions registers the completions above on root's tree.
func addCompletions(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		if fn, ok := argCompletions[path]; ok && c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 {
			c.ValidArgsFunction = fn
		}
		for key, fn := range flagCompletions {
			cmdPath, flag, _ := strings.Cut(key, " --")
			if cmdPath == path && c.Flags().Lookup(flag) != nil {
				_ = c.RegisterFlagCompletionFunc(flag, fn) // an error only if registered twice
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func fixed(values ...string) completeFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return withPrefix(values, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// withPrefix keeps the candidates ("value\tdescription") that start with
// prefix.
func withPrefix(values []string, prefix string) []string {
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

func profileNames(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, p := range profiles.List() {
		out = append(out, p.Name+"\t"+p.Title)
	}
	// --profile of lab check takes a comma-separated list: complete its last item.
	done, last := "", toComplete
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	out = withPrefix(out, last)
	for i := range out {
		out[i] = done + out[i]
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func yamlFiles(_ *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

// scenarioArgs completes built-in scenario names and, for run, scenario
// files (.yaml, .yml) and directories under what was typed.
func scenarioArgs(files bool) completeFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if !files && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		if all, err := scenarios.Builtins(); err == nil {
			for _, sc := range all {
				if !slices.Contains(args, sc.Name) {
					out = append(out, sc.Name+"\t"+firstSentence(sc.Description))
				}
			}
		}
		out = withPrefix(out, toComplete)
		dir := cobra.ShellCompDirectiveNoFileComp
		if files {
			paths, more := scenarioFiles(toComplete)
			out = append(out, paths...)
			if more {
				dir |= cobra.ShellCompDirectiveNoSpace // a directory: keep typing into it
			}
		}
		return out, dir
	}
}

// scenarioFiles lists the .yaml and .yml files and the directories that
// start with prefix; more reports a directory among them.
func scenarioFiles(prefix string) (paths []string, more bool) {
	matches, _ := filepath.Glob(prefix + "*")
	for _, m := range matches {
		fi, err := os.Stat(m)
		switch {
		case err != nil:
		case fi.IsDir():
			paths, more = append(paths, m+string(filepath.Separator)), true
		case strings.HasSuffix(m, ".yaml") || strings.HasSuffix(m, ".yml"):
			paths = append(paths, m)
		}
	}
	return paths, more
}

// ctlNodeArgs completes lab ctl node NAME ACTION [DURATION]: the names
// from the admin API of the running lab (--admin, LAB_ADMIN_TOKEN), then
// the actions, then a delay for slow.
func ctlNodeArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch {
	case len(args) == 0:
		return withPrefix(labNodeNames(cmd), toComplete), cobra.ShellCompDirectiveNoFileComp
	case len(args) == 1:
		return withPrefix(nodeActions, toComplete), cobra.ShellCompDirectiveNoFileComp
	case len(args) == 2 && args[1] == "slow":
		return withPrefix([]string{"500ms", "2s", "10s", "0\tclears the delay"}, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// linkFaults are what lab ctl link NAME does (linkcmd.go's linkRequest).
var linkFaults = []string{
	"latency\tdelay each chunk (--up/--down for one way, --jitter)",
	"bandwidth\tbytes a second passed on (0 lifts the cap)",
	"blackhole\tread everything, forward and answer nothing",
	"reset\tRST both ends of every open connection",
	"reset-new\tRST every new connection as it arrives",
	"slow-close\thold each FIN this long",
	"nat-drop\tthe NAT forgets every open mapping (client link)",
	"address\tnew connections come from this address (client link)",
	"move\tthe client changes address (client link)",
	"clear\tremove every fault",
}

// linkValues are examples of the value each fault takes.
var linkValues = map[string][]string{
	"latency":    {"50ms", "200ms", "1s", "0\tclears it"},
	"bandwidth":  {"16KiB", "256KiB", "1MiB", "0\tlifts the cap"},
	"blackhole":  {"on", "off"},
	"reset-new":  {"on", "off"},
	"slow-close": {"2s", "10s", "0\tclears it"},
	"address":    {"127.0.0.2", "off\tthe default address"},
	"move":       {"127.0.0.2", "off\tthe default address"},
}

// ctlLinkArgs completes lab ctl link NAME FAULT [VALUE]: the links of the
// running lab, then the faults, then examples of a value.
func ctlLinkArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return withPrefix(labLinkNames(cmd), toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		return withPrefix(linkFaults, toComplete), cobra.ShellCompDirectiveNoFileComp
	case 2:
		return withPrefix(linkValues[args[1]], toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// labLinkNames asks the running lab for its links, each with its faults;
// none if no lab answers within a second.
func labLinkNames(cmd *cobra.Command) []string {
	var links []struct {
		Name    string `json:"name"`
		Summary string `json:"summary"`
	}
	if !askLab(cmd, "/api/links", &links) {
		return nil
	}
	var names []string
	for _, k := range links {
		names = append(names, k.Name+"\tfaults: "+k.Summary)
	}
	return names
}

// askLab GETs path from the running lab's admin API (--admin,
// LAB_ADMIN_TOKEN) into v, within a second: completion must not hang a
// shell. It says why on the completion's error channel when it cannot.
func askLab(cmd *cobra.Command, path string, v any) bool {
	base, _ := cmd.Flags().GetString("admin")
	cl, err := admin.NewClient(base, os.Getenv("LAB_ADMIN_TOKEN"))
	if err != nil {
		cobra.CompErrorln("--admin: " + err.Error())
		return false
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), time.Second)
	defer cancel()
	raw, err := cl.Do(ctx, "GET", path, nil)
	if err != nil || json.Unmarshal(raw, v) != nil {
		cobra.CompErrorln("no lab answers at " + cl.URL() + " (is lab up running? --admin names another)")
		return false
	}
	return true
}

// labNodeNames asks the running lab for its nodes and backends, each with
// its state; none if no lab answers within a second (completion must not
// hang a shell).
func labNodeNames(cmd *cobra.Command) []string {
	var st admin.Status
	if !askLab(cmd, "/api/status", &st) {
		return nil
	}
	state := map[string]string{}
	var names []string
	if st.Balancer != nil {
		for _, be := range st.Balancer.Backends {
			names, state[be.Name] = append(names, be.Name), "backend "+be.State
		}
	}
	for _, n := range st.Nodes {
		if _, ok := state[n.Name]; !ok {
			names = append(names, n.Name)
		}
		state[n.Name] = strings.TrimPrefix(state[n.Name]+", ", ", ") + map[bool]string{true: "listening", false: "down"}[n.Listening]
	}
	slices.Sort(names)
	for i, n := range names {
		names[i] = n + "\t" + state[n]
	}
	return names
}
