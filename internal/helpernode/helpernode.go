// Package helpernode lets a test binary stand in for a user's app: run with
// Env set, it is a real chat node (package node) on $PORT, named
// $LAB_NODE_NAME, on $REDIS_URL — the way `lab node` would be — so that
// tests of command nodes need no program outside the repository.
package helpernode

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/wslab/wslab/node"
)

// Env, set in a command node's environment, makes the test binary a node.
const Env = "LAB_TEST_BE_NODE"

// IgnoreTerm, set beside Env, makes the node ignore SIGTERM, as a wedged
// shutdown hook would.
const IgnoreTerm = "LAB_TEST_IGNORE_TERM"

// MainIfAsked runs the node and exits when the environment asks for one;
// otherwise it returns at once. Call it first in TestMain.
func MainIfAsked() {
	if os.Getenv(Env) != "" {
		os.Exit(run())
	}
}

// run serves until SIGTERM or SIGINT, printing its pid first so that tests
// can look for what is left of its process group.
func run() int {
	sigs := []os.Signal{syscall.SIGTERM, os.Interrupt}
	if os.Getenv(IgnoreTerm) != "" {
		signal.Ignore(syscall.SIGTERM)
		sigs = sigs[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	n, err := node.Start(ctx, node.Config{
		Name: os.Getenv("LAB_NODE_NAME"), Addr: "127.0.0.1:" + os.Getenv("PORT"), RedisURL: os.Getenv("REDIS_URL"),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println("helper node:", err)
		return 1
	}
	fmt.Printf("pid=%d %s listening on %s\n", os.Getpid(), n.Name(), n.URL())
	<-ctx.Done()
	fmt.Println("got a signal: closing")
	n.Close()
	return 0
}
