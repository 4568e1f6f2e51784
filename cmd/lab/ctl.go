package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/admin"
)

func newCtlCmd() *cobra.Command {
	var base string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Talk to a running lab: status, reload, node and link faults, events",
		Long: `Talk to the admin API of a running lab (lab up or lab balancer).

  lab ctl status                      balancer, backends, connections, nodes
  lab ctl reload FILE                 hot-reload the balancer config
  lab ctl node NAME kill              crash: connections dropped, no close frame
  lab ctl node NAME stop              graceful: close frames 1001, users leave
  lab ctl node NAME hang              accepts connections, answers nothing
  lab ctl node NAME slow 2s           every outgoing message 2 s late (0 clears)
  lab ctl node NAME start|restart     back in service (a killed process relaunches on its port)
  lab ctl link NAME latency 200ms     faults on a link (lab up --links): see lab ctl link --help
  lab ctl events                      follow the event stream
  lab ctl events --since 5m | --last 100 [-f]   the events kept, then (-f) follow

Every kind of node takes the same faults: for a --node-cmd process, kill
is SIGKILL to its whole process group, stop SIGTERM then SIGKILL after a
grace period, hang SIGSTOP (start sends SIGCONT); slow needs the lab in
its traffic and is refused. A --node-url server takes only what its hooks
make possible; the rest is refused by name.

--admin takes host:port (as lab up --admin does) or a URL. When the lab
was started with an admin token, set LAB_ADMIN_TOKEN to it: lab ctl sends
it. --json prints the API's JSON as it is, for every command (an error's
JSON too, with exit code 2).`,
		Example: `  lab ctl node node-1 kill
  lab ctl --admin 127.0.0.1:8091 status
  LAB_ADMIN_TOKEN=... lab ctl --admin lab.internal:8081 status --json`,
	}
	needSubcommand(cmd)
	cmd.PersistentFlags().StringVar(&base, "admin", envOr("LAB_ADMIN", "127.0.0.1:8081"), "address of the admin API, host:port or URL (env LAB_ADMIN)")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print the API's JSON as it is")
	c := &ctl{base: &base, asJSON: &asJSON}

	cmd.AddCommand(&cobra.Command{
		Use: "status", Short: "Show the balancer, backends, connections and nodes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			var st admin.Status
			return c.call(cmd, "GET", "/api/status", nil, &st, func() { printStatus(cmd.OutOrStdout(), st) })
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "reload FILE", Short: "Hot-reload the balancer from a config file", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usageError(err)
			}
			var ok struct{ Generation uint64 }
			return c.call(cmd, "PUT", "/api/config", data, &ok, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "generation %d applied\n", ok.Generation)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use: "node NAME kill|stop|hang|slow DURATION|start|restart", Short: "Inject a fault into a node, or clear it",
		Long: `Inject a fault into a node, or clear it, and print the node's state (and,
for a command, url or handler node, what the fault did). What each fault does, for every kind of node (README: Faults
mean the same for every kind):

  kill      crash: connections dropped with no close frame, stops listening
  stop      graceful: close frames 1001 (after the node's stop grace)
  hang      accepts connections and answers nothing; health checks time out
  slow 2s   every outgoing message 2 s late (0 clears); not command or url nodes
  start     clears hang and slow; a killed or stopped node listens again
  restart   stop, then start

A fault a node's kind cannot take is refused by name (exit 2).`,
		Example: `  lab ctl node node-1 kill
  lab ctl node node-2 slow 500ms
  lab ctl --admin 127.0.0.1:8091 node node-1 start`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			path := "/api/nodes/" + url.PathEscape(args[0]) + "/" + url.PathEscape(args[1])
			if args[1] == "slow" {
				if len(args) < 3 {
					return usageError(errors.New("slow needs a duration: lab ctl node NAME slow 2s"))
				}
				if _, err := time.ParseDuration(args[2]); err != nil {
					return usageError(fmt.Errorf("slow: %q is not a duration (write it like 2s or 500ms; 0 clears)", args[2]))
				}
				path += "?delay=" + url.QueryEscape(args[2])
			}
			var st struct {
				Name      string
				Listening bool
				Hung      bool
				SlowNS    int64  `json:"slow_ns"`
				Did       string // what a command node's fault did
			}
			return c.call(cmd, "POST", path, nil, &st, func() {
				state := map[bool]string{true: "listening", false: "down"}[st.Listening]
				if st.Hung {
					state += ", hung"
				}
				if st.SlowNS > 0 {
					state += fmt.Sprintf(", slow %s", time.Duration(st.SlowNS))
				}
				if st.Did != "" {
					state = st.Did + "; now " + state
				} else {
					state = "now " + state
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %s\n", st.Name, args[1], state)
			})
		},
	})
	cmd.AddCommand(newCtlLinkCmd(c))
	cmd.AddCommand(newCtlEventsCmd(c))
	return cmd
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// ctl holds the flags every lab ctl command shares.
type ctl struct {
	base   *string
	asJSON *bool
}

func (c *ctl) client() (*admin.Client, error) {
	cl, err := admin.NewClient(*c.base, os.Getenv("LAB_ADMIN_TOKEN"))
	if err != nil {
		return nil, usageError(fmt.Errorf("--admin: %w", err))
	}
	return cl, nil
}

// call calls the API; with --json it prints the answer (or the error's
// body) as it is, else it decodes a 2xx answer into out and runs show.
func (c *ctl) call(cmd *cobra.Command, method, path string, body []byte, out any, show func()) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	raw, err := cl.Do(cmd.Context(), method, path, body)
	if *c.asJSON && raw != nil {
		cmd.OutOrStdout().Write(raw)
	}
	if err != nil {
		return usageError(err)
	}
	if *c.asJSON {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what lab ctl expects (%v): is %s a lab's admin API?", method, path, err, cl.URL())
	}
	show()
	return nil
}

func printStatus(w io.Writer, st admin.Status) {
	if p := st.Proxy; p != nil {
		printProxyStatus(w, *p, st.Seed)
	}
	if b := st.Balancer; b != nil {
		seed := "" // lab balancer has no seed to print (0)
		if st.Seed != 0 {
			seed = fmt.Sprintf("  (seed %d)", st.Seed)
		}
		fmt.Fprintf(w, "balancer %s  generation %d  policy %s  idle timeout %s%s\n\n", b.Listener, b.Generation, b.Policy, b.IdleTimeout, seed)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BACKEND\tSTATE\tACTIVE\tTOTAL\tFAILURES\tLAST CHECK")
		for _, be := range b.Backends {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", be.Name, be.State, be.Active, be.Total, be.Failures, be.LastCheck)
		}
		tw.Flush()
		fmt.Fprintf(w, "\n%s\n", plural(len(b.Connections), "open connection"))
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		for i, c := range b.Connections {
			if i == 0 {
				fmt.Fprintln(tw, "ID\tCLIENT\tBACKEND\tGEN\tAGE\tIDLE\tBACKLOG")
			}
			if i == 20 {
				fmt.Fprintf(tw, "… and %d more (--json for all)\n", len(b.Connections)-20)
				break
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", c.ID, c.Client, c.Backend, c.Generation, round(c.Age), round(c.Idle), sizeText(c.Backlog))
		}
		tw.Flush()
	}
	if len(st.Nodes) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tKIND\tURL\tLISTENING\tFAULT\tSESSIONS\tREDIS\tPROCESS")
		for _, n := range st.Nodes {
			fault := "-"
			if n.Hung {
				fault = "hang"
			} else if n.Slow > 0 {
				fault = "slow " + n.Slow.String()
			}
			proc := n.Note
			if n.PID != 0 {
				proc = fmt.Sprintf("pid %d, %d processes", n.PID, n.Processes)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%d\t%s\t%s\n", n.Name, n.Kind, n.URL, n.Listening, fault, n.Sessions, or(n.Redis, "-"), or(proc, "-"))
		}
		tw.Flush()
	}
	if st.Redis != "" {
		fmt.Fprintf(w, "\nredis %s\n", st.Redis)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func round[T ~int64](d T) string { return time.Duration(d).Round(time.Second).String() }

// sizeText writes a byte count as people read it: 0 B, 812 B, 48.0 KiB.
func sizeText(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
}
