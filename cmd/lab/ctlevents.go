package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/events"
)

// ctlEvents are the flags of lab ctl events.
type ctlEvents struct {
	since   time.Duration
	last    int
	follow  bool
	verbose bool
}

func newCtlEventsCmd(c *ctl) *cobra.Command {
	var f ctlEvents
	cmd := &cobra.Command{
		Use:   "events [--since 5m | --last 100] [-f]",
		Short: "Show the lab's events: the latest kept, or follow them as they happen",
		Long: `Without --since or --last, follow the lab's events as they happen until
Ctrl-C. With --since or --last, print the events the lab kept (it keeps the
last ` + strconv.Itoa(events.History) + `) and exit; add -f to keep following after them, with
nothing missed in between. Health checks and node-side sessions are left
out unless -v.`,
		Example: `  lab ctl events --since 5m
  lab ctl events --last 100 -f
  lab ctl events --json --last 20 | jq -r '.events[].text'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			return c.events(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.since, "since", 0, "the events of the last DURATION (e.g. 5m), from those kept")
	fl.IntVar(&f.last, "last", 0, "the last N events kept")
	fl.BoolVarP(&f.follow, "follow", "f", false, "with --since or --last: then follow new events")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "every event, health checks and node-side sessions too")
	return cmd
}

func (f ctlEvents) query() string {
	q := url.Values{}
	if f.since > 0 {
		q.Set("since", f.since.String())
	}
	if f.last > 0 {
		q.Set("last", strconv.Itoa(f.last))
	}
	if !f.verbose && len(q) > 0 { // --last N: N of the events shown
		q.Set("quiet", "1")
	}
	return q.Encode()
}

func (c *ctl) events(cmd *cobra.Command, f ctlEvents) error {
	if err := refuseZeros(cmd, "since", "last"); err != nil {
		return err
	}
	query := f.query()
	if query == "" || f.follow {
		return c.follow(cmd, query, f.verbose)
	}
	var h admin.EventHistory
	return c.call(cmd, "GET", "/api/events?"+query, nil, &h, func() {
		for _, e := range h.Events {
			printEvent(cmd.OutOrStdout(), e.Event, f.verbose)
		}
	})
}

// follow prints the server-sent event stream until Ctrl-C; query asks for
// the kept events first.
func (c *ctl) follow(cmd *cobra.Command, query string, verbose bool) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	stream, err := cl.Events(cmd.Context(), query)
	if err != nil {
		if cmd.Context().Err() != nil {
			return nil
		}
		return usageError(err)
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if *c.asJSON {
			fmt.Fprintln(cmd.OutOrStdout(), data)
			continue
		}
		var e events.Event
		if json.Unmarshal([]byte(data), &e) == nil {
			printEvent(cmd.OutOrStdout(), e, verbose)
		}
	}
	return nil
}
