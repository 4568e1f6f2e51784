// lab up's start-up summary: what runs where, printed once the lab is up.

package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/lab"
)

func printSummary(w io.Writer, l *lab.Lab, token string) {
	fmt.Fprintf(w, "wslab is up (seed %d)\n", l.Seed)
	inGroup := map[string]bool{}
	if b := l.Balancer; b != nil {
		st := b.Status()
		profile := ""
		if st.Profile != "" {
			profile = "profile " + st.Profile + ", "
		}
		idle := "idle timeout " + st.IdleTimeout.String()
		if st.IdleTimeout == 0 {
			idle = "no idle timeout"
		}
		fmt.Fprintf(w, "  balancer  %-24s chat page %s/   (%s%s, %s, generation %d)\n",
			b.URL(), b.URL(), profile, st.Policy, idle, st.Generation)
		if a := b.TLSAddr(); a != "" {
			fmt.Fprintf(w, "  wss       %-24s (self-signed certificate: expect a browser warning)\n", "https://"+a)
		}
		inGroup = groupMembers(w, b, l)
		printLinkSummary(w, l)
	}
	if l.Proxy != nil {
		printProxySummary(w, l)
	}
	for _, n := range l.Nodes() {
		note := ""
		if l.Balancer != nil && !inGroup[n.Name()] {
			note = "   not in the balancer's server group (--config lists its own servers)"
		}
		fmt.Fprintf(w, "  %-9s %-24s %s%s\n", n.Name(), n.URL(), nodeText(n), note)
	}
	printClients(w, l)
	if c := l.Clocking(); !ownNodesOnly(l) || len(l.Clients()) > 0 {
		fmt.Fprintf(w, "  time      %s\n", c)
	}
	redis := l.RedisAddr()
	if l.Redis != nil {
		redis = fmt.Sprintf("%-24s (embedded; look inside: redis-cli -p %s keys 'session:*')", redis, portOf(redis))
	}
	fmt.Fprintf(w, "  redis     %s\n", redis)
	if l.Admin == nil {
		fmt.Fprintln(w, "Ctrl-C stops the lab. Events:")
		return
	}
	page := l.Admin.URL() + "/"
	if token != "" {
		page += "#token=" + url.QueryEscape(token)
	}
	fmt.Fprintf(w, "  dashboard %-24s (also the admin API: lab ctl, /api/events, /metrics)\n", page)
	ctl := fmt.Sprintf("%s ctl --admin %s", selfCommand(), l.Admin.Addr())
	if token != "" {
		ctl = "LAB_ADMIN_TOKEN=<the token> " + ctl
	}
	if len(l.Nodes()) > 0 && inGroup[l.Nodes()[0].Name()] && slices.Contains(l.Nodes()[0].State().Faults, "kill") {
		fmt.Fprintf(w, "Open %s/ in two tabs, then in another terminal: %s node %s kill\n", l.Balancer.URL(), ctl, l.Nodes()[0].Name())
	} else {
		fmt.Fprintf(w, "In another terminal: %s status\n", ctl)
	}
	fmt.Fprintln(w, "Ctrl-C stops the lab. Events:")
}

// nodeText says what a node is, for the summary.
func nodeText(n *lab.Node) string {
	st := n.State()
	switch n.Kind() {
	case lab.KindCommand:
		return fmt.Sprintf("pid %d (%d processes): %s", st.PID, st.Processes, st.Command)
	case lab.KindURL:
		if !st.Listening {
			return "runs elsewhere; NOT ANSWERING (" + strings.TrimPrefix(st.Note, "not answering: ") + "): the balancer's health checks keep it out until it answers"
		}
		faults := "no faults: the lab does not own its process"
		if len(st.Faults) > 0 {
			faults = "faults by hook: " + strings.Join(st.Faults, ", ")
		}
		return "runs elsewhere (" + faults + ")"
	}
	return "health " + n.URL() + "/healthz"
}

// ownNodesOnly reports whether every node is the lab's own, in-process.
func ownNodesOnly(l *lab.Lab) bool {
	for _, n := range l.Nodes() {
		if n.InProcess() == nil {
			return false
		}
	}
	return true
}

// groupMembers reports which of the lab's nodes are in the balancer's
// server group and, when the config brought servers of its own, lists
// them: the lab's nodes then get no traffic from the balancer.
func groupMembers(w io.Writer, b *balancer.Balancer, l *lab.Lab) map[string]bool {
	byURL := map[string]string{}
	for _, n := range l.Nodes() {
		byURL[n.URL()] = n.Name()
		if k := l.Link(n.Name()); k != nil { // its server URL is its link's
			byURL["http://"+k.Addr()] = n.Name()
		}
	}
	in := map[string]bool{}
	for _, s := range b.Config().ServerGroup.Servers {
		if name, ok := byURL[strings.TrimSuffix(s.URL, "/")]; ok {
			in[name] = true
			continue
		}
		fmt.Fprintf(w, "  server    %-24s %s (from the config file)\n", s.URL, s.Name)
	}
	return in
}

// selfCommand is how the user can run lab again: "go run ./cmd/lab" when
// this process was started by go run (its binary is in a go-build cache
// directory), else "lab".
func selfCommand() string {
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, string(os.PathSeparator)+"go-build") {
		return "go run ./cmd/lab"
	}
	return "lab"
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}
