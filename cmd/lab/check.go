package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/profiles"
)

type checkFlags struct {
	heartbeat   time.Duration
	from        string
	ping        bool
	lifetime    time.Duration
	messageSize int
	reconnect   bool
	profiles    []string
	asJSON      bool
}

func newCheckCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a client's heartbeat and lifetime against every load-balancer profile",
		Long: `lab check runs one client pattern — heartbeat interval and who sends it,
ping frames or messages, message size, how long the client stays, whether it
reconnects — against every profile (lab profile list) and prints, per
profile: whether the connection survives, when and by what it is cut, what
the client sees (and so the close code a browser reports), and the setting
to change.

How: for each profile the pattern's frames go through the balancer's own
tunnel code — the same idle timer, the same rule for which traffic resets
it (one direction or both, ping/pong or not), the same lifetime cap and the
same cut (FIN, reset or close frame) that lab up runs — on a mock clock and
with no sockets in between, so two hours take milliseconds. Health checks,
draining and header limits play no part in a check.`,
		Example: `  lab check --heartbeat 25s --lifetime 2h
  lab check --heartbeat 30s --from client --ping      # browser-side pings only
  lab check --heartbeat 0 --lifetime 10m --reconnect  # a silent client
  lab check --heartbeat 45s --profile aws-alb --profile heroku --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			rows, err := runCheck(f)
			if err != nil {
				return usageError(err)
			}
			if f.asJSON {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			return writeCheck(cmd.OutOrStdout(), f, rows)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.heartbeat, "heartbeat", 25*time.Second, "interval between heartbeats (0: the client sends nothing)")
	fl.StringVar(&f.from, "from", "both", "who sends the heartbeat: client, backend, or both (one side sends, the other answers)")
	fl.BoolVar(&f.ping, "ping", false, "heartbeats are WebSocket ping/pong frames, not messages")
	fl.DurationVar(&f.lifetime, "lifetime", time.Hour, "how long the client means to stay connected")
	fl.IntVar(&f.messageSize, "message-size", 32, "payload bytes of each heartbeat message")
	fl.BoolVar(&f.reconnect, "reconnect", false, "the client connects again at once when cut; the table counts the cuts")
	fl.StringSliceVar(&f.profiles, "profile", nil, "check only these profiles (repeat, or comma-separate); default: all")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
	return cmd
}

// checkRow is one profile's line of lab check.
type checkRow struct {
	Profile     string `json:"profile"`
	Survives    bool   `json:"survives"`
	CutAt       string `json:"cut_at,omitempty"`
	By          string `json:"cut_by,omitempty"` // idle_timeout, max_lifetime
	ClientSees  string `json:"client_sees,omitempty"`
	BrowserCode int    `json:"browser_close_code,omitempty"`
	Cuts        int    `json:"cuts"`
	Change      string `json:"change,omitempty"`
}

func runCheck(f checkFlags) ([]checkRow, error) {
	switch {
	case f.from != "client" && f.from != "backend" && f.from != "both":
		return nil, fmt.Errorf("--from %q is not client, backend or both", f.from)
	case f.heartbeat < 0:
		return nil, fmt.Errorf("--heartbeat %s must not be negative (0: no heartbeat)", f.heartbeat)
	case f.lifetime <= 0:
		return nil, fmt.Errorf("--lifetime %s must be positive", f.lifetime)
	case f.messageSize < 0 || f.messageSize > 1<<20:
		return nil, fmt.Errorf("--message-size %d is out of range 0-1048576", f.messageSize)
	}
	names := f.profiles
	if len(names) == 0 {
		names = profiles.Names()
	}
	pat := balancer.Pattern{
		Heartbeat: f.heartbeat, From: f.from, Ping: f.ping, MessageBytes: f.messageSize,
		Lifetime: f.lifetime, Reconnect: f.reconnect,
	}
	var rows []checkRow
	for _, name := range names {
		p, err := profiles.Get(name)
		if err != nil {
			return nil, fmt.Errorf("--profile: %s", strings.TrimPrefix(err.Error(), "profiles: "))
		}
		out, err := balancer.Simulate(config.Config{Profile: name}, pat)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r := checkRow{Profile: name, Survives: out.Survives, Cuts: out.Cuts}
		if !out.Survives {
			r.CutAt = profiles.Duration(out.CutAt)
			r.By = out.Reason
			r.ClientSees = clientSees(out)
			r.BrowserCode = out.CloseCode
			r.Change = whatToChange(p, f, out)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func clientSees(o balancer.Outcome) string {
	switch o.Cut {
	case config.CutCloseFrame:
		return fmt.Sprintf("close frame %d", o.CloseCode)
	case config.CutReset:
		return "TCP reset (browser: 1006)"
	}
	return "FIN, no close frame (browser: 1006)"
}

// whatToChange names the setting, or the change to the client, that
// keeps the connection open under profile p.
func whatToChange(p profiles.Profile, f checkFlags, o balancer.Outcome) string {
	if o.Reason == balancer.ReasonMaxLifetime {
		r := p.LifetimeRange.V
		if r != (profiles.Range{}) && (r.Max == 0 || r.Max >= f.lifetime) {
			return fmt.Sprintf("max_lifetime: raise it to %s or more (allowed %s)", profiles.Duration(f.lifetime), r)
		}
		return fmt.Sprintf("the %s lifetime cap is fixed: reconnect before it", profiles.Duration(p.MaxLifetime.V))
	}
	rule := p.IdleResetBy.V
	switch {
	case f.heartbeat == 0:
		return fmt.Sprintf("send a heartbeat more often than every %s", profiles.Duration(p.IdleTimeout.V))
	case rule.Direction == profiles.ClientToBackend && f.from == "backend":
		return "idle_reset: only client traffic counts; send the heartbeat from the client"
	case rule.Direction == profiles.BackendToClient && f.from == "client":
		return "idle_reset: only backend traffic counts; send the heartbeat from the backend"
	case f.ping && !rule.ControlFrames:
		return "ping/pong frames do not count here: send the heartbeat as a message"
	}
	want := f.heartbeat + time.Second
	if r := p.IdleRange.V; r != (profiles.Range{}) && (r.Max == 0 || r.Max >= want) {
		return fmt.Sprintf("idle_timeout: raise it above %s (allowed %s), or heartbeat more often than every %s",
			profiles.Duration(f.heartbeat), r, profiles.Duration(p.IdleTimeout.V))
	}
	return fmt.Sprintf("the idle timeout is fixed at %s: heartbeat more often than that", profiles.Duration(p.IdleTimeout.V))
}

func writeCheck(w io.Writer, f checkFlags, rows []checkRow) error {
	who := map[string]string{"client": "the client", "backend": "the backend", "both": "one side, answered by the other"}[f.from]
	kind := "messages"
	if f.ping {
		kind = "ping/pong frames"
	}
	beat := fmt.Sprintf("a heartbeat every %s from %s (%s)", profiles.Duration(f.heartbeat), who, kind)
	if f.heartbeat == 0 {
		beat = "no heartbeat"
	}
	fmt.Fprintf(w, "client: %s, staying %s%s\n\n", beat, profiles.Duration(f.lifetime), map[bool]string{true: ", reconnecting when cut"}[f.reconnect])
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tSURVIVES\tCUT AT\tBY\tCLIENT SEES\tSETTING TO CHANGE")
	for _, r := range rows {
		surv := "yes"
		if !r.Survives {
			surv = "no"
			if f.reconnect {
				surv = fmt.Sprintf("no, cut %d times", r.Cuts)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Profile, surv, dash(r.CutAt), dash(r.By), dash(r.ClientSees), dash(r.Change))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
