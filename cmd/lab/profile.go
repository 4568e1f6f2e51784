package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wslab/wslab/profiles"
)

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "List the load-balancer profiles and show one with the source of every value",
		Long: `A profile is what one real load balancer does to a long-lived WebSocket:
idle timeout and what resets it, lifetime cap, what the client sees when cut
(and so the close code a browser reports), health checks, draining,
fail-open, sticky cookie, header limit, and whether an upgrade to a
serverless target is refused.

Every value names its source page, the day it was read, and whether it is
documented by the vendor, observed here against the real proxy, or assumed.
The same tables are in docs/profiles.md.

  lab profile list             every profile, side by side
  lab profile show aws-alb     one profile, value by value, with sources`,
		Example: `  lab profile list
  lab profile show nginx-default
  lab profile show aws-api-gateway --json`,
	}
	cmd.AddCommand(newProfileListCmd(), newProfileShowCmd())
	return cmd
}

func newProfileListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every profile: idle timeout, lifetime cap, how connections are cut",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SilenceUsage = true
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), profileRows())
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTITLE\tIDLE TIMEOUT\tLIFETIME CAP\tWHEN CUT\tBROWSER CODE")
			for _, r := range profileRows() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Title, r.IdleTimeout, r.MaxLifetime, r.Cut, r.BrowserCode)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newProfileShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:       "show NAME",
		Short:     "Show one profile, each value with its source, read date and status",
		Args:      cobra.ExactArgs(1),
		ValidArgs: profiles.Names(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			p, err := profiles.Get(args[0])
			if err != nil {
				return usageError(err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), profileDoc{Name: p.Name, Title: p.Title, Vendor: p.Vendor, Fields: p.Fields()})
			}
			writeProfile(cmd.OutOrStdout(), p)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// profileRow is one line of `lab profile list`.
type profileRow struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Vendor      string `json:"vendor"`
	IdleTimeout string `json:"idle_timeout"`
	MaxLifetime string `json:"max_lifetime"`
	Cut         string `json:"cut"`
	BrowserCode string `json:"browser_close_code"`
}

// profileDoc is `lab profile show --json`.
type profileDoc struct {
	Name   string           `json:"name"`
	Title  string           `json:"title"`
	Vendor string           `json:"vendor"`
	Fields []profiles.Field `json:"fields"`
}

func profileRows() []profileRow {
	var rows []profileRow
	for _, p := range profiles.List() {
		code := "none"
		if c := p.Cut.V.BrowserCode(); c != 0 {
			code = fmt.Sprint(c)
		}
		rows = append(rows, profileRow{
			Name: p.Name, Title: p.Title, Vendor: p.Vendor,
			IdleTimeout: profiles.Duration(p.IdleTimeout.V), MaxLifetime: profiles.Duration(p.MaxLifetime.V),
			Cut: p.Cut.V.String(), BrowserCode: code,
		})
	}
	return rows
}

func writeProfile(w io.Writer, p profiles.Profile) {
	fmt.Fprintf(w, "%s: %s (%s)\n", p.Name, p.Title, p.Vendor)
	width := 0
	for _, f := range p.Fields() {
		width = max(width, len(f.Label))
	}
	for _, f := range p.Fields() {
		fmt.Fprintf(w, "\n%-*s  %s\n", width, f.Label, f.Value)
		fmt.Fprintf(w, "  %s, read %s: %s\n", f.Source.Status, f.Source.Read, f.Source.URL)
		if f.Source.Note != "" {
			fmt.Fprintf(w, "  %s\n", strings.TrimSpace(f.Source.Note))
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
