package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/scenarios"
)

// errFailed makes lab exit 1: a scenario's expectation did not hold.
var errFailed = &exitError{code: 1, err: errors.New("some scenarios failed")}

func newScenarioCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "Replay failures on a deterministic clock and check what happens",
		Long: `A scenario is a YAML file: a lab's shape, a seed, and steps — actions
(connect, send, advance virtual time, reload, kill/stop/hang/slow/start a
node, cut Redis, add/remove a node) and expectations (a message arrives, a
connection is open or closed with a reason, the spread of connections, an
event, a rejected reload) — first of all what the clients saw: the close
code a browser would report, a reconnect, a message. It runs against a
real lab over real sockets, but on a mock clock: minutes of idle timeouts
and drains take milliseconds, and the same seed gives the same transcript
every time. Every run ends with what each client went through: its closes
with their codes, the time it was disconnected, its reconnect attempts,
and the chat messages it lost or got twice.`,
	}
	needSubcommand(cmd)
	cmd.AddCommand(newScenarioListCmd(), newScenarioShowCmd(), newScenarioRunCmd(), newScenarioMatrixCmd())
	return cmd
}

func newScenarioListCmd() *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List the built-in scenarios", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			all, err := scenarios.Builtins()
			if err != nil {
				return err
			}
			width := 0
			for _, sc := range all {
				width = max(width, len(sc.Name))
			}
			for _, sc := range all {
				fmt.Fprintf(cmd.OutOrStdout(), "%-*s  %s\n", width, sc.Name, firstSentence(sc.Description))
			}
			return nil
		},
	}
}

func newScenarioShowCmd() *cobra.Command {
	return &cobra.Command{
		Use: "show NAME", Short: "Print a built-in scenario: what it shows and its steps", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			_, src, err := scenarios.Builtin(args[0])
			if err != nil {
				return usageError(err)
			}
			cmd.OutOrStdout().Write(src)
			return nil
		},
	}
}

func newScenarioRunCmd() *cobra.Command {
	var asJSON, verbose, realClock bool
	var junit string
	var seed uint64
	var profile, front string
	cmd := &cobra.Command{
		Use:   "run NAME|FILE...",
		Short: "Run built-in scenarios (by name) or scenario files; exit 0 only if all pass",
		Example: `  lab scenario run idle-timeout node-failure
  lab scenario run --verbose my-app.yaml
  lab scenario run --profile aws-nlb idle-timeout   # the same scenario against another vendor
  lab scenario run --balancer haproxy my-app.yaml   # against HAProxy itself, on the real clock
  lab scenario run --junit report.xml $(lab scenario list | cut -d' ' -f1)`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			var report *junitFile
			if junit != "" { // before anything runs: a long run must not end in "cannot write"
				var err error
				if report, err = createJUnit(junit); err != nil {
					return usageError(err)
				}
				defer report.discard()
			}
			if front != "" {
				if err := checkBalancer(front); err != nil {
					return err
				}
			}
			var list []*scenarios.Scenario
			for _, a := range args {
				sc, err := loadScenario(a)
				if err != nil {
					return usageError(err)
				}
				list = append(list, sc)
			}
			out := cmd.OutOrStdout()
			var results []scenarios.Result
			for _, sc := range list {
				opts := scenarios.Options{Seed: seed, Profile: profile, Balancer: front, RealClock: realClock}
				if verbose && !asJSON {
					fmt.Fprintf(out, "== %s\n", sc.Name)
					opts.Verbose = func(line string) { fmt.Fprintln(out, "  "+line) }
				}
				res := scenarios.Run(cmd.Context(), sc, opts)
				results = append(results, res)
				if !asJSON {
					fmt.Fprintln(out, res.Summary())
					if !res.Passed {
						fmt.Fprintf(out, "  %s\n", res.Failure)
					}
					if !verbose { // --verbose printed them with the transcript
						for _, c := range res.Clients {
							fmt.Fprintf(out, "  client %s\n", c)
						}
						if p := res.Processes; p != nil {
							fmt.Fprintf(out, "  clients %s\n", p.Summary())
							for _, c := range p.Clients {
								fmt.Fprintf(out, "  client %s\n", c)
							}
						}
					}
				}
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.Encode(results)
			} else {
				fmt.Fprintln(out, scenarios.Totals(results))
			}
			if report != nil {
				if err := report.write(results); err != nil {
					return err
				}
			}
			for _, r := range results {
				if !r.Passed {
					return errFailed
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON (transcripts included)")
	cmd.Flags().StringVar(&junit, "junit", "", "also write a JUnit XML report to this file")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "override every scenario's seed")
	cmd.Flags().StringVar(&profile, "profile", "", "run every scenario against this load-balancer profile (lab profile list); values a scenario sets still win, and one that sets what the profile does not allow fails with that error")
	cmd.Flags().StringVar(&front, "balancer", "wslab", "run against nginx, haproxy or caddy at the front door instead of the built-in balancer: on the real clock (an advance waits that long), and expectations of the built-in balancer's events fail with what happened instead")
	cmd.Flags().BoolVar(&realClock, "real-clock", false, "run on the real clock with the built-in balancer too (an advance waits that long), as lab scenario matrix does to compare it with the proxies")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each scenario's transcript as it runs")
	return cmd
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	if i := strings.Index(s, ": "); i >= 0 {
		return s[:i]
	}
	return s
}

// loadScenario reads a file if the argument names one, else a built-in.
func loadScenario(arg string) (*scenarios.Scenario, error) {
	if data, err := os.ReadFile(arg); err == nil {
		return scenarios.Parse(arg, data)
	} else if strings.ContainsAny(arg, "/.") {
		return nil, err
	}
	sc, _, err := scenarios.Builtin(arg)
	return sc, err
}

// junitFile is a JUnit report being prepared: a temporary file beside the
// report's path, created before the run (so a bad path fails at once) and
// renamed onto it at the end.
type junitFile struct {
	path string
	tmp  *os.File
	done bool
}

func createJUnit(path string) (*junitFile, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("--junit %s: is a directory; give a file name like %s", path, filepath.Join(path, "report.xml"))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("--junit %s: cannot write there: %w", path, errors.Unwrap(err))
	}
	return &junitFile{path: path, tmp: tmp}, nil
}

func (j *junitFile) write(rs []scenarios.Result) error {
	if err := scenarios.WriteJUnit(j.tmp, rs); err != nil {
		return fmt.Errorf("--junit %s: %w", j.path, err)
	}
	j.tmp.Chmod(0o644) // as os.Create would make it, not CreateTemp's 0600
	if err := j.tmp.Close(); err != nil {
		return fmt.Errorf("--junit %s: %w", j.path, err)
	}
	if err := os.Rename(j.tmp.Name(), j.path); err != nil {
		return fmt.Errorf("--junit %s: %w", j.path, err)
	}
	j.done = true
	return nil
}

// discard removes the temporary file unless the report was written.
func (j *junitFile) discard() {
	if !j.done {
		j.tmp.Close()
		os.Remove(j.tmp.Name())
	}
}
