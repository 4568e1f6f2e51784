// Command lab runs a local load-balancer lab for WebSocket applications.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "lab:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(2) // cobra's own errors: unknown command or flag
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "lab",
		Short: "A local load-balancer lab for WebSocket applications",
		Long: `lab starts, on your machine, what a cloud WebSocket chat deployment needs:
chat nodes that speak Socket.IO and plain WebSocket, and a Redis that
carries their sessions and messages between nodes. Then it lets you break
it on purpose and watch what happens to the connections that are open.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(newUpCmd(), newVersionCmd())
	return root
}
