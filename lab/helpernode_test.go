package lab_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/wslab/wslab/node"
)

// beNode, set in its environment, makes the test binary a real chat node
// (package node) on $PORT, named $LAB_NODE_NAME, on $REDIS_URL: a quick
// app for the lab to run as a command node, the way `lab node` would.
const beNode = "LAB_TEST_BE_NODE"

// ignoreTerm makes the helper node ignore SIGTERM, as a wedged shutdown
// hook would.
const ignoreTerm = "LAB_TEST_IGNORE_TERM"

// runHelperNode serves until SIGTERM or SIGINT, printing its pid first so
// that tests can look for what is left of its process group.
func runHelperNode() int {
	sigs := []os.Signal{syscall.SIGTERM, os.Interrupt}
	if os.Getenv(ignoreTerm) != "" {
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
