package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/balancer/config"
)

// explain turns start-up errors into one line that says what to do.
func explain(err error, flagOf map[string]string) error {
	msg := config.OneLine(err)
	var tr *admin.TokenRequiredError
	if errors.As(err, &tr) {
		return usageError(fmt.Errorf("--admin %s: other machines can reach it, so the admin API needs a token: set --admin-token or LAB_ADMIN_TOKEN (lab ctl sends LAB_ADMIN_TOKEN too), or keep --admin on 127.0.0.1", tr.Addr))
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		for prefix, flag := range flagOf {
			if strings.Contains(msg, prefix) {
				return usageError(fmt.Errorf("%s: the address is already in use; stop what holds it or choose another with %s", firstClause(msg), flag))
			}
		}
		return usageError(fmt.Errorf("%s: the address is already in use", firstClause(msg)))
	}
	return usageError(errors.New(msg))
}

// firstClause keeps "what: where" of a wrapped error, dropping the repeats
// that follow.
func firstClause(msg string) string {
	if i := strings.Index(msg, ": listen tcp"); i >= 0 {
		return msg[:i]
	}
	return msg
}

func oneLine(err error) string { return config.OneLine(err) }

// needSubcommand makes a command that only groups others refuse a
// misspelt subcommand (exit 2, naming it, with a suggestion) instead of
// printing its help and exiting 0 as if it had done what was asked.
// Without arguments it prints its help.
func needSubcommand(cmd *cobra.Command) {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", strings.Join(s, `" or "`))
		} else {
			msg += fmt.Sprintf("; %q lists the commands", cmd.CommandPath()+" --help")
		}
		return usageError(errors.New(msg))
	}
}

// refuseZeros refuses the named flags when the user set them to zero (or
// less): the packages read a zero as "the default", so --nodes 0 would
// start two nodes and --idle-timeout 0s would mean 60 s.
func refuseZeros(cmd *cobra.Command, names ...string) error {
	var errs []error
	for _, name := range names {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		v := f.Value.String()
		switch f.Value.Type() {
		case "duration":
			if d, err := time.ParseDuration(v); err == nil && d <= 0 {
				errs = append(errs, fmt.Errorf("--%s %s: want a positive duration (leave the flag out for the default, %s)", name, v, f.DefValue))
			}
		case "int":
			if n, err := strconv.Atoi(v); err == nil && n <= 0 {
				errs = append(errs, fmt.Errorf("--%s %s: want at least 1 (leave the flag out for the default, %s)", name, v, f.DefValue))
			}
		}
	}
	if len(errs) > 0 {
		return usageError(errors.Join(errs...))
	}
	return nil
}
