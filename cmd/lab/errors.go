package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

// explainArgs makes every command under root say what it takes when it
// gets the wrong number of arguments ("lab export needs 1 argument, got
// 0; usage: lab export nginx|haproxy|caddy") instead of cobra's "accepts
// 1 arg(s), received 0". Commands keep declaring their counts with cobra's
// validators (cobra.ExactArgs...); the bounds are read back from the
// validator, so a command added later is covered too. Groups of commands
// (needSubcommand) keep their own message.
func explainArgs(root *cobra.Command) {
	for _, c := range root.Commands() {
		explainArgs(c)
	}
	if root.Args == nil || root.HasSubCommands() {
		return
	}
	check := root.Args
	root.Args = func(cmd *cobra.Command, args []string) error {
		if check(cmd, args) == nil {
			return nil
		}
		return usageError(argCountError(cmd, args, check))
	}
}

// argCountError words a refused argument list from the counts check
// accepts (it is tried with 0 to maxProbe placeholder arguments).
func argCountError(cmd *cobra.Command, args []string, check cobra.PositionalArgs) error {
	const maxProbe = 8
	lo, hi := -1, -1
	for n := 0; n <= maxProbe; n++ {
		if check(cmd, make([]string, n)) == nil {
			if lo < 0 {
				lo = n
			}
			hi = n
		}
	}
	usage := strings.TrimSuffix(cmd.UseLine(), " [flags]")
	path := cmd.CommandPath() // "lab: export needs...": the line starts with lab
	if cmd.HasParent() {
		path = strings.TrimPrefix(path, cmd.Root().Name()+" ")
	}
	switch {
	case hi == 0 && len(args) > 0:
		if hint := optionalValueHint(cmd, args[0]); hint != "" {
			return errors.New(hint)
		}
		return fmt.Errorf("%s takes no arguments, got %q; %q lists its flags", path, args[0], cmd.CommandPath()+" --help")
	case lo < 0: // accepts nothing we could try: say only what it is
		return fmt.Errorf("%s: wrong arguments %q; usage: %s", path, args, usage)
	case hi == maxProbe:
		return fmt.Errorf("%s needs at least %s, got %d; usage: %s", path, plural(lo, "argument"), len(args), usage)
	case lo == hi:
		return fmt.Errorf("%s needs %s, got %d; usage: %s", path, plural(lo, "argument"), len(args), usage)
	case lo == 0:
		return fmt.Errorf("%s takes at most %s, got %d; usage: %s", path, plural(hi, "argument"), len(args), usage)
	default:
		return fmt.Errorf("%s needs %d or %d arguments, got %d; usage: %s", path, lo, hi, len(args), usage)
	}
}

// optionalValueHint explains an argument that was meant as the value of a
// flag whose value is optional (--tls, --links): pflag takes such a value
// only after "=", so "--tls 127.0.0.1:9443" leaves the address behind.
func optionalValueHint(cmd *cobra.Command, arg string) string {
	var hint string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if hint == "" && f.Changed && f.NoOptDefVal != "" && f.Value.String() == f.NoOptDefVal {
			hint = fmt.Sprintf("%q after --%s: write --%s=%s (the flag's value is optional, so it is taken only after \"=\"; --%s alone means %s)",
				arg, f.Name, f.Name, arg, f.Name, f.NoOptDefVal)
		}
	})
	return hint
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// flagError is the root's flag error: exit 2, and for an unknown flag the
// nearest one the command has ("did you mean --idle-timeout?").
func flagError(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return usageError(err)
	}
	best, bestDist := "", 3 // at most two edits away
	visit := func(f *pflag.Flag) {
		if d := editDistance(name, f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	if best != "" {
		return usageError(fmt.Errorf("%w; did you mean --%s?", err, best))
	}
	return usageError(fmt.Errorf("%w; %q lists the flags", err, cmd.CommandPath()+" --help"))
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
