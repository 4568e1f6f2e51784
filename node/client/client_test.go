package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/wslab/wslab/node/client"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fakeServer answers a Socket.IO connect (40) with the frames given, in
// order, then waits for the client to leave.
func fakeServer(t *testing.T, answer ...string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		c.Write(ctx, websocket.MessageText, []byte(`0{"sid":"eio1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
		if _, p, err := c.Read(ctx); err != nil || string(p) != "40" {
			return
		}
		for _, a := range answer {
			c.Write(ctx, websocket.MessageText, []byte(a))
		}
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestEventsBeforeTheConnectReplyAreDeliveredAfterIt plays a python-socketio
// server, whose connect handler emits before the CONNECT reply goes out:
// socket.io-client buffers such events and delivers them after "connect",
// in order, and so must this client.
func TestEventsBeforeTheConnectReplyAreDeliveredAfterIt(t *testing.T) {
	url := fakeServer(t,
		`42["node","flask-1"]`,
		`2`, // a ping on the way is answered, not delivered
		`42["message","Welcome to the chatroom!"]`,
		`40{"sid":"sio1"}`,
		`42["message","after connect"]`,
	)
	c, err := client.Dial(ctxT(t), client.Options{URL: url})
	if err != nil {
		t.Fatalf("got %v, want the connect to succeed", err)
	}
	defer c.CloseNow()
	if c.SID != "sio1" {
		t.Fatalf("got SID %q, want sio1", c.SID)
	}
	for _, want := range []client.Event{
		{Name: "node", Text: "flask-1"},
		{Name: "message", Text: "Welcome to the chatroom!"},
		{Name: "message", Text: "after connect"},
	} {
		got, err := c.Next(ctxT(t))
		if err != nil || got.Name != want.Name || got.Text != want.Text {
			t.Fatalf("got %+v, %v, want %+v", got, err, want)
		}
	}
}

// TestARefusedConnectSaysWhy checks that a CONNECT_ERROR (44) ends Dial with
// the server's reason.
func TestARefusedConnectSaysWhy(t *testing.T) {
	url := fakeServer(t, `42["message","early"]`, `44{"message":"Not authorized"}`)
	_, err := client.Dial(ctxT(t), client.Options{URL: url})
	if err == nil || !strings.Contains(err.Error(), `server refused the socket.io connect: Not authorized`) {
		t.Fatalf("got %v, want the server's refusal", err)
	}
}
