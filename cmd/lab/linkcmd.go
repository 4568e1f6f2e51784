package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/faultlink"
	"github.com/wslab/wslab/lab"
)

const linkHelp = `Set, change and clear the faults of a link: the hops of a lab started with
lab up --links. The link "client" sits between clients and the balancer;
"node-1", "node-2"... between the balancer and each node (its health checks
pass through it too). A fault stays until it is changed or cleared, and
applies to the connections already open as well as to new ones.

Client processes (lab up --client-cmd, --clients) each reach the balancer
through a link of their own, named after them: "client-1", "client-2"...
"client" is the clients' network: a fault set on it reaches the client link
(with --links) and every client process's link; "client-7" reaches that one
alone. Clearing a client process's link keeps its own address (127.0.1.7).

  lab ctl link                             every link: faults and counters
  lab ctl link NAME                        one link
  lab ctl link NAME latency 200ms          both ways (--up or --down for one; --jitter 20ms)
  lab ctl link NAME bandwidth 256KiB       bytes per second, both ways (--up, --down; 0 lifts it)
  lab ctl link NAME blackhole [off]        read everything, forward and answer nothing
  lab ctl link NAME reset                  RST both ends of every open connection
  lab ctl link NAME reset-new [off]        RST every new connection as it arrives
  lab ctl link NAME slow-close 2s          hold each FIN this long (0 clears)
  lab ctl link client nat-drop             the NAT forgets every open mapping: silent half-open
  lab ctl link client address 127.0.0.2    new connections come from this address (off: the default)
  lab ctl link client move 127.0.0.2       the client changes address: new connections come from it;
                                           open ones are left behind (the server hears nothing, the
                                           client gets a RST the next time it sends)
  lab ctl link NAME clear                  remove every fault

On Linux any 127.x.y.z address works for "address" and "move"; on macOS and the BSDs
add it first (sudo ifconfig lo0 alias 127.0.0.2).`

func newCtlLinkCmd(c *ctl) *cobra.Command {
	var lf linkFlags
	cmd := &cobra.Command{
		Use:   "link [NAME [FAULT [VALUE]]]",
		Short: "Faults on the lab's links: latency, bandwidth, black hole, reset, slow close, NAT drop, client address",
		Long:  linkHelp,
		Example: `  lab ctl link client latency 300ms --jitter 50ms
  lab ctl link node-1 blackhole
  lab ctl link client nat-drop
  lab ctl link node-1 clear`,
		Args: cobra.MaximumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			req, err := linkRequest(args, lf)
			if err != nil {
				return usageError(err)
			}
			out := cmd.OutOrStdout()
			switch {
			case len(args) == 0:
				var all []faultlink.Stats
				return c.call(cmd, req.method, req.path, req.body, &all, func() { printLinks(out, all) })
			case req.action != "":
				var n map[string]int
				return c.call(cmd, req.method, req.path, req.body, &n, func() {
					total := 0
					for _, v := range n { // one count: reset, dropped or left_behind
						total += v
					}
					fmt.Fprintf(out, "%s: %s\n", args[0], fmt.Sprintf(map[string]string{
						"reset":    "reset %d open connections (RST to both ends)",
						"nat-drop": "%d open connections lost their NAT mapping (silent half-open)",
						"move":     "the client moved; %d open connections left behind",
					}[req.action], total))
				})
			}
			var st struct {
				faultlink.Stats
				Also []faultlink.Stats `json:"also"` // the other links the name reached
			}
			return c.call(cmd, req.method, req.path, req.body, &st, func() { printLinks(out, append([]faultlink.Stats{st.Stats}, st.Also...)) })
		},
	}
	cmd.Flags().BoolVar(&lf.up, "up", false, "only client → upstream (latency, bandwidth)")
	cmd.Flags().BoolVar(&lf.down, "down", false, "only upstream → client (latency, bandwidth)")
	cmd.Flags().DurationVar(&lf.jitter, "jitter", 0, "with latency: spread each chunk's delay over latency±jitter")
	return cmd
}

type linkFlags struct {
	up, down bool
	jitter   time.Duration
}

// linkReq is one admin API call; action is set for the calls that act on
// open connections (reset, nat-drop) rather than set faults.
type linkReq struct {
	method, path string
	body         []byte
	action       string
}

// linkRequest turns lab ctl link's arguments into an API call.
func linkRequest(args []string, lf linkFlags) (linkReq, error) {
	if len(args) == 0 {
		return linkReq{method: "GET", path: "/api/links"}, nil
	}
	base := "/api/links/" + url.PathEscape(args[0])
	if len(args) == 1 {
		return linkReq{method: "GET", path: base}, nil
	}
	fault, value := args[1], ""
	if len(args) == 3 {
		value = args[2]
	}
	need := func(what string) error {
		if value == "" {
			return fmt.Errorf("%s needs a value: lab ctl link %s %s %s", fault, args[0], fault, what)
		}
		return nil
	}
	patch := func(v any) (linkReq, error) {
		body, err := json.Marshal(v)
		return linkReq{method: "PATCH", path: base + "/faults", body: body}, err
	}
	switch fault {
	case "clear":
		return linkReq{method: "DELETE", path: base + "/faults"}, nil
	case "reset":
		return linkReq{method: "POST", path: base + "/reset", action: "reset"}, nil
	case "nat-drop":
		return linkReq{method: "POST", path: base + "/nat-drop", action: "nat-drop"}, nil
	case "latency":
		if err := need("200ms"); err != nil {
			return linkReq{}, err
		}
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return linkReq{}, fmt.Errorf("latency: %q is not a duration (write it like 200ms; 0 clears)", value)
		}
		dir := map[string]string{"latency": faultlink.Duration(d).String(), "jitter": faultlink.Duration(lf.jitter).String()}
		return patch(lf.directions(dir))
	case "bandwidth":
		if err := need("256KiB"); err != nil {
			return linkReq{}, err
		}
		n, err := faultlink.ParseBytes(value)
		if err != nil {
			return linkReq{}, fmt.Errorf("bandwidth: %w (per second; 0 lifts the cap)", err)
		}
		return patch(lf.directions(map[string]int64{"bandwidth": n}))
	case "blackhole", "reset-new":
		on, err := onOff(fault, value)
		if err != nil {
			return linkReq{}, err
		}
		return patch(map[string]bool{strings.ReplaceAll(strings.Replace(fault, "blackhole", "black_hole", 1), "-", "_"): on})
	case "slow-close":
		if err := need("2s"); err != nil {
			return linkReq{}, err
		}
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return linkReq{}, fmt.Errorf("slow-close: %q is not a duration (write it like 2s; 0 clears)", value)
		}
		return patch(map[string]string{"slow_close": d.String()})
	case "address", "move":
		if err := need("127.0.0.2"); err != nil {
			return linkReq{}, err
		}
		if value == "off" {
			value = ""
		} else if _, err := netip.ParseAddr(value); err != nil {
			return linkReq{}, fmt.Errorf("%s: %q is not an IP address (e.g. 127.0.0.2; off for the default)", fault, value)
		}
		if fault == "move" {
			body, err := json.Marshal(map[string]string{"source_ip": value})
			return linkReq{method: "POST", path: base + "/move", body: body, action: "move"}, err
		}
		return patch(map[string]string{"source_ip": value})
	}
	return linkReq{}, fmt.Errorf("unknown fault %q: want latency, bandwidth, blackhole, reset, reset-new, slow-close, nat-drop, address, move or clear", fault)
}

// directions puts one direction's settings on the directions asked for:
// both unless --up or --down.
func (lf linkFlags) directions(v any) map[string]any {
	out := map[string]any{}
	if lf.up || !lf.down {
		out["up"] = v
	}
	if lf.down || !lf.up {
		out["down"] = v
	}
	return out
}

func onOff(fault, value string) (bool, error) {
	switch value {
	case "", "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, errors.New(fault + ": want on or off, got " + fmt.Sprintf("%q", value))
}

func printLinks(w io.Writer, all []faultlink.Stats) {
	if len(all) == 0 {
		fmt.Fprintln(w, "no links: start the lab with lab up --links")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tLISTEN\tUPSTREAM\tOPEN\tTOTAL\tUP\tDOWN\tDROPPED\tFAULTS")
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", s.Name, s.Listen, s.Upstream, s.Open, s.Connections,
			sizeText(s.BytesUp), sizeText(s.BytesDown), sizeText(s.DroppedUp+s.DroppedDown), s.Faults)
	}
	tw.Flush()
}

// printLinkSummary is lab up's line for the client link: where clients
// should connect to pass through it.
func printLinkSummary(w io.Writer, l *lab.Lab) {
	k := l.Link(lab.ClientLink)
	if k == nil {
		return
	}
	var names []string
	for _, n := range l.LinkNames() {
		if l.Node(n) != nil { // not the client link, nor a client process's
			names = append(names, n)
		}
	}
	nodes := "node links: " + strings.Join(names, ", ")
	if len(names) == 0 {
		nodes = "no node links: the server group is the config's own"
	}
	fmt.Fprintf(w, "  links     %-24s clients connect here to pass the client link; %s (lab ctl link --help)\n", "http://"+k.Addr(), nodes)
}
