package client_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/node/client"
)

// TestANamespacedClientEmitsWithArgumentsAndGetsItsAck plays a Socket.IO
// server with a namespace of its own: the client connects to /orders on a
// path of the app's, sends an event with two arguments asking for an ack,
// gets the ack's arguments back, and sees only its namespace's events.
func TestANamespacedClientEmitsWithArgumentsAndGetsItsAck(t *testing.T) {
	gotQuery := make(chan url.Values, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/app/socket/" {
			http.NotFound(w, r)
			return
		}
		gotQuery <- r.URL.Query()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		c.Write(ctx, websocket.MessageText, []byte(`0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
		if _, p, err := c.Read(ctx); err != nil || string(p) != "40/orders," {
			t.Errorf("got connect %q, %v, want 40/orders,", p, err)
			return
		}
		c.Write(ctx, websocket.MessageText, []byte(`40/orders,{"sid":"s1"}`))
		_, p, err := c.Read(ctx)
		if err != nil || string(p) != `42/orders,0["place",{"item":"tea"},2]` {
			t.Errorf("got %q, %v, want the event with ack id 0", p, err)
			return
		}
		c.Write(ctx, websocket.MessageText, []byte(`42["elsewhere","main namespace"]`))
		c.Write(ctx, websocket.MessageText, []byte(`43/orders,0[{"ok":true,"id":7}]`))
		c.Write(ctx, websocket.MessageText, []byte(`42/orders,["placed",{"id":7},"tea"]`))
		c.Read(ctx) // until the client leaves
	}))
	t.Cleanup(srv.Close)
	c, err := client.Dial(ctxT(t), client.Options{URL: srv.URL, Path: "/app/socket/", Namespace: "/orders", Query: url.Values{"token": {"abc"}}})
	if err != nil {
		t.Fatalf("got %v, want the connect to /orders to succeed", err)
	}
	defer c.CloseNow()
	if q := <-gotQuery; q.Get("token") != "abc" || q.Get("EIO") != "4" {
		t.Fatalf("got query %v, want token=abc and EIO=4", q)
	}
	if c.SID != "s1" {
		t.Fatalf("got SID %q, want s1", c.SID)
	}
	ack, err := c.EmitAck(ctxT(t), "place", json.RawMessage(`{"item":"tea"}`), json.RawMessage(`2`))
	if err != nil {
		t.Fatalf("got %v, want the ack", err)
	}
	if b, _ := json.Marshal(ack); string(b) != `[{"ok":true,"id":7}]` {
		t.Fatalf("got ack %s, want [{\"ok\":true,\"id\":7}]", b)
	}
	ev, err := c.Next(ctxT(t))
	if err != nil || ev.Name != "placed" || ev.Args != `[{"id":7},"tea"]` {
		t.Fatalf("got %+v, %v, want placed with its two arguments (and not the main namespace's event)", ev, err)
	}
}

// TestAPlainClientSendsAndReceivesTextAndBinaryFramesOnItsSubprotocol
// checks the plain WebSocket client against an echo server that picks a
// subprotocol.
func TestAPlainClientSendsAndReceivesTextAndBinaryFramesOnItsSubprotocol(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"echo.v2"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Write(r.Context(), websocket.MessageText, []byte("path "+r.URL.RequestURI()))
		for {
			typ, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, p)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := client.Dial(ctxT(t), client.Options{URL: srv.URL, Transport: client.Plain, Path: "/echo", Query: url.Values{"room": {"a"}}, Subprotocols: []string{"echo.v1", "echo.v2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol != "echo.v2" {
		t.Fatalf("got subprotocol %q, want echo.v2", c.Subprotocol)
	}
	want := []client.Event{{Name: "text", Text: "path /echo?room=a"}, {Name: "text", Text: "hi"}, {Name: "binary", Text: "\x00\x01"}}
	if err := c.Send(ctxT(t), false, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctxT(t), true, []byte{0, 1}); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		got, err := c.Next(ctxT(t))
		if err != nil || got != w {
			t.Fatalf("got %+v, %v, want %+v", got, err, w)
		}
	}
	if err := c.EmitArgs(ctxT(t), "x"); err == nil || !strings.Contains(err.Error(), "no Socket.IO events") {
		t.Fatalf("got %v, want a plain client to refuse Socket.IO events", err)
	}
}
