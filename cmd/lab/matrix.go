package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/scenarios"
)

// errBroken makes lab exit 1: a run of the matrix erred.
var errBroken = errors.New("some runs erred (their cells say error:); a balancer that behaves differently is the table's content, not an error")

func newScenarioMatrixCmd() *cobra.Command {
	var balancers, only []string
	var markdown, asJSON, verbose bool
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Run the built-ins against every installed balancer: the conformance table",
		Long: `Runs every built-in scenario against the built-in balancer (wslab) and
each of nginx, HAProxy and Caddy that is installed, and prints a table:
scenario × balancer → "pass", or the first expectation that did not hold
and what the run observed instead, in one line.

Each built-in runs as its real-time variant (NAME-realtime, listed by lab
scenario list: the same story in seconds of real time, with only what
clients and the lab's own nodes can observe, since a proxy publishes none
of the built-in balancer's events), or as itself when it already waits
only seconds and expects only that; one that is about the built-in
balancer's own workings is listed as "not applicable" with why. Every run
is on the real clock, wslab's too, so every column is held to the same
time; cells say outcomes (a close code, a node, a message), not times
since the start, and leave out ports and ids, so a rerun prints the same
table.

A balancer that is not installed is a column saying "not installed".
Progress goes to stderr (the whole matrix takes a few minutes), with -v
each run's transcript under it; Ctrl-C
stops the run under way, and its lab and proxy with it.

Exit status: 0 when every run finished, whatever the cells say (a proxy
that behaves differently is what the table is for); 1 when a run erred
(the lab or the proxy did not start: the cell says error:); 2 for bad
flags; 130 when interrupted.`,
		Example: `  lab scenario matrix
  lab scenario matrix --balancers wslab,nginx
  lab scenario matrix --only idle-timeout,hot-reload --balancers caddy
  lab scenario matrix --markdown > table.md   # the README's conformance table`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			for _, b := range balancers {
				if !slices.Contains(scenarios.BalancerColumns(), b) {
					return usageError(fmt.Errorf("--balancers: %q is not wslab, nginx, haproxy or caddy", b))
				}
			}
			rows, err := scenarios.MatrixRows()
			if err != nil {
				return err
			}
			for _, o := range only {
				if !slices.ContainsFunc(rows, func(r scenarios.MatrixRow) bool { return r.Builtin == o }) {
					return usageError(fmt.Errorf("--only: %q is not a built-in scenario with a row in the matrix (lab scenario list; a -realtime variant runs under its built-in's name)", o))
				}
			}
			stderr := cmd.ErrOrStderr()
			mo := scenarios.MatrixOptions{
				Balancers: balancers, Only: only,
				Progress: func(line string) { fmt.Fprintln(stderr, line) },
			}
			if verbose {
				mo.Verbose = func(line string) { fmt.Fprintln(stderr, "  "+line) }
			}
			m, err := scenarios.RunMatrix(cmd.Context(), mo)
			if err != nil {
				if cmd.Context().Err() != nil {
					return &exitError{code: 130, err: errors.New("interrupted: the run under way was stopped, its lab and proxy with it")}
				}
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.Encode(m)
			case markdown:
				m.WriteMarkdown(out, matrixCommand(balancers, only))
			default:
				m.WriteText(out)
			}
			if m.Broken() {
				fmt.Fprintln(stderr, "lab:", errBroken)
				return &exitError{code: 1, err: errBroken}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&balancers, "balancers", nil, "the columns, comma-separated, from wslab, nginx, haproxy, caddy (default all four)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these built-ins' rows, comma-separated (default every built-in)")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the table as Markdown with the versions and this command: the README's conformance table")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the matrix as JSON")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each run's transcript to stderr as it happens, under its progress line")
	cmd.MarkFlagsMutuallyExclusive("markdown", "json")
	return cmd
}

// matrixCommand is the command line that makes a table, for its caption.
func matrixCommand(balancers, only []string) string {
	s := "lab scenario matrix --markdown"
	if len(balancers) > 0 {
		s += " --balancers " + strings.Join(balancers, ",")
	}
	if len(only) > 0 {
		s += " --only " + strings.Join(only, ",")
	}
	return s
}
