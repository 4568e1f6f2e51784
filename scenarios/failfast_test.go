package scenarios_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/scenarios"
)

// TestAFailingExpectationOnTheMockClockFailsInWellUnderASecond: a message
// that never comes, awaited for 30 s of virtual time, fails as soon as the
// lab has nothing left in flight, not after seconds of wall time.
func TestAFailingExpectationOnTheMockClockFailsInWellUnderASecond(t *testing.T) {
	ctx := context.Background()
	s, err := scenarios.NewSession(ctx, "never", scenarios.Shape{Nodes: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Step(ctx, "connect", scenarios.ConnectArgs{Client: "alice", Protocol: "chat_ws", Heartbeat: config.Duration(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Step(ctx, "expect_message", scenarios.ExpectMessageArgs{Client: "alice", Text: "nobody says this", Within: config.Duration(30 * time.Second)})
	wall := time.Since(start)
	if err == nil {
		t.Fatal("an expectation of a message nobody sends passed")
	}
	if s.Now() != 30*time.Second {
		t.Fatalf("failed at +%s of virtual time, want the window's end, 30s", s.Now())
	}
	if wall >= 750*time.Millisecond {
		t.Fatalf("the failing expectation took %s of wall time, want well under a second", wall)
	}
	var want interface{ Error() string }
	if !errors.As(err, &want) || err.Error() != `alice receives "nobody says this" within 30s; observed: received ["Welcome to the chatroom!"]` {
		t.Fatalf("got %v", err)
	}
	t.Logf("failed after %s of virtual time in %s of wall time", s.Now(), wall.Round(time.Millisecond))
}
