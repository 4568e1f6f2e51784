// Command lab runs a local load-balancer lab for WebSocket applications.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a problem with what the user asked for: exit code 2.
func usageError(err error) error { return &exitError{code: 2, err: err} }

// quietRedis keeps go-redis's own retry logging off the terminal: the lab
// reports Redis trouble itself, once, as events and errors.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func main() {
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.code == 1 {
		os.Exit(1) // failed scenarios: the report says it all
	}
	fmt.Fprintln(os.Stderr, "lab:", errorText(err))
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(2) // cobra's own errors: unknown command or flag
}

// errorText is err for the terminal: its lines joined into one, but for
// a command's output the error quotes ("  | ..."), which keeps its lines.
func errorText(err error) string {
	var b strings.Builder
	for i, l := range strings.Split(err.Error(), "\n") {
		switch {
		case i == 0:
		case strings.HasPrefix(l, "  |"):
			b.WriteString("\n")
		default:
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "lab",
		Short: "A local load-balancer lab for WebSocket applications",
		Long: `lab starts, on your machine, what a cloud WebSocket chat deployment needs:
an ALB-like balancer (WebSocket upgrade, idle timeout, health checks, hot
reload, draining) in front of chat nodes that speak Socket.IO and plain
WebSocket, and a Redis that carries sessions and messages between nodes.
Then it lets you break it on purpose and watch what happens to the
connections that are open.

Start with: lab up`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(flagError)
	needSubcommand(root)
	root.AddCommand(newUpCmd(), newBalancerCmd(), newNodeCmd(), newCtlCmd(), newScenarioCmd(), newLoadCmd(), newProfileCmd(), newExportCmd(), newCheckCmd(), newVersionCmd())
	addCompletions(root)
	explainArgs(root)
	return root
}
