package scenarios_test

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
// (package node) on $PORT, named $LAB_NODE_NAME, on $REDIS_URL: an app of
// our own that a scenario runs as command nodes, on the real clock.
const beNode = "LAB_TEST_BE_NODE"

// runHelperNode serves until SIGTERM or SIGINT.
func runHelperNode() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := node.Start(ctx, node.Config{
		Name: os.Getenv("LAB_NODE_NAME"), Addr: "127.0.0.1:" + os.Getenv("PORT"), RedisURL: os.Getenv("REDIS_URL"),
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println("helper node:", err)
		return 1
	}
	fmt.Printf("%s listening on %s\n", n.Name(), n.URL())
	<-ctx.Done()
	n.Close()
	return 0
}
