package lab_test

import (
	"context"
	"fmt"
	"time"

	"github.com/wslab/wslab/balancer/config"
	"github.com/wslab/wslab/lab"
	"github.com/wslab/wslab/node/client"
)

// A whole lab in a test: two chat nodes behind the balancer, on free ports.
// Two users land on different nodes and still hear each other through
// Redis; killing a node disconnects its user.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Config{
		NodePort: 0, // free ports, so tests can run side by side
		Balancer: config.Config{Listener: config.Listener{Addr: "127.0.0.1:0"}},
	})
	if err != nil {
		panic(err)
	}
	defer l.Close()

	alice, _ := client.Dial(ctx, client.Options{URL: l.Balancer.URL()})
	bob, _ := client.Dial(ctx, client.Options{URL: l.Balancer.URL()})
	fmt.Println("alice on", alice.Node(), "· bob on", bob.Node())
	alice.NextMessage(ctx) // Welcome to the chatroom!
	bob.NextMessage(ctx)

	alice.Emit(ctx, "set_username", "alice")
	alice.NextMessage(ctx) // Your username is set to alice
	alice.Emit(ctx, "message", "hi bob")
	text, _ := bob.NextMessage(ctx)
	fmt.Println("bob hears:", text)

	l.Fault(ctx, alice.Node(), "kill", 0)
	<-alice.Done()
	fmt.Println("alice disconnected:", alice.Err() != nil)
	// Output:
	// alice on node-1 · bob on node-2
	// bob hears: alice: hi bob
	// alice disconnected: true
}
