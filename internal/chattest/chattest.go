// Package chattest holds what the test suites share: a bound on every wait,
// and chat clients that fail the test rather than return errors.
package chattest

import (
	"context"
	"testing"
	"time"

	"github.com/wslab/wslab/node/client"
)

// WaitFor bounds every wait in the tests: an event that has not come by
// then is not coming.
const WaitFor = 15 * time.Second

// Ctx is a context that ends after WaitFor, or with the test.
func Ctx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitFor)
	t.Cleanup(cancel)
	return ctx
}

// Dial connects a chat client over tr ("" is Socket.IO), closed when the
// test ends.
func Dial(t testing.TB, url string, tr client.Transport) *client.Client {
	t.Helper()
	c, err := client.Dial(Ctx(t), client.Options{URL: url, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// Expect reads the next message event and compares it.
func Expect(t testing.TB, c *client.Client, want string) {
	t.Helper()
	got, err := c.NextMessage(Ctx(t))
	if err != nil {
		t.Fatalf("waiting for %q: %v", want, err)
	}
	if got != want {
		t.Fatalf("got message %q, want %q", got, want)
	}
}
