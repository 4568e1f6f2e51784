package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
)

// rawSocketIO opens /socket.io/ and reads the open packet, nothing more.
func rawSocketIO(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctxT(t), strings.Replace(url, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if _, p, err := c.Read(ctxT(t)); err != nil || p[0] != '0' {
		t.Fatalf("open packet: %q, %v", p, err)
	}
	return c
}

// closeOf reads until the server closes and returns its close frame.
func closeOf(t *testing.T, c *websocket.Conn) websocket.CloseError {
	t.Helper()
	for {
		_, _, err := c.Read(ctxT(t))
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		return ce
	}
}

// TestBadInputIsRefusedAndOthersKeepChatting sends each kind of bad input
// and checks its specific answer, then that a healthy user still chats.
func TestBadInputIsRefusedAndOthersKeepChatting(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", MaxPayload: 64 << 10})
	healthy := joinAs(t, n1.URL(), client.SocketIO, "H")
	stillChatting := func(t *testing.T) {
		t.Helper()
		emit(t, healthy, "message", t.Name())
		expect(t, healthy, "H: "+t.Name())
	}

	closes := []struct {
		name       string
		send       func(t *testing.T) *websocket.Conn
		wantCode   websocket.StatusCode
		wantReason string
	}{
		{"garbage engine.io packet", func(t *testing.T) *websocket.Conn {
			c := rawSocketIO(t, n1.URL())
			c.Write(ctxT(t), websocket.MessageText, []byte("hello?"))
			return c
		}, websocket.StatusProtocolError, `engine.io: malformed packet "hello?"`},
		{"garbage socket.io packet", func(t *testing.T) *websocket.Conn {
			c := rawSocketIO(t, n1.URL())
			c.Write(ctxT(t), websocket.MessageText, []byte(`42["message",`))
			return c
		}, websocket.StatusProtocolError, "is not JSON"},
		{"event before connect", func(t *testing.T) *websocket.Conn {
			c := rawSocketIO(t, n1.URL())
			c.Write(ctxT(t), websocket.MessageText, []byte(`42["message","hi"]`))
			return c
		}, websocket.StatusPolicyViolation, "event before connect: send 40 first"},
		{"binary frame", func(t *testing.T) *websocket.Conn {
			c := rawSocketIO(t, n1.URL())
			c.Write(ctxT(t), websocket.MessageBinary, []byte{1, 2, 3})
			return c
		}, websocket.StatusUnsupportedData, "binary frames are not supported"},
		{"1 MiB frame", func(t *testing.T) *websocket.Conn {
			c := rawSocketIO(t, n1.URL())
			c.Write(ctxT(t), websocket.MessageText, []byte("40"))
			c.Write(ctxT(t), websocket.MessageText, []byte(`42["message","`+strings.Repeat("x", 1<<20)+`"]`))
			return c
		}, websocket.StatusMessageTooBig, ""},
		{"invalid UTF-8 in a socket.io text frame", func(t *testing.T) *websocket.Conn {
			c := rawSocketIO(t, n1.URL())
			c.Write(ctxT(t), websocket.MessageText, []byte("40"))
			c.Write(ctxT(t), websocket.MessageText, []byte("42[\"message\",\"caf\xc3\"]"))
			return c
		}, websocket.StatusInvalidFramePayloadData, "invalid UTF-8"},
		{"invalid UTF-8 in a /ws text frame", func(t *testing.T) *websocket.Conn {
			c, _, err := websocket.Dial(ctxT(t), strings.Replace(n1.URL(), "http", "ws", 1)+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.CloseNow() })
			c.Write(ctxT(t), websocket.MessageText, []byte("{\"event\":\"message\",\"data\":\"\xff\xfe\"}"))
			return c
		}, websocket.StatusInvalidFramePayloadData, "invalid UTF-8"},
	}
	for _, tt := range closes {
		t.Run(tt.name, func(t *testing.T) {
			ce := closeOf(t, tt.send(t))
			if ce.Code != tt.wantCode || !strings.Contains(ce.Reason, tt.wantReason) {
				t.Fatalf("got close %d %q, want %d containing %q", ce.Code, ce.Reason, tt.wantCode, tt.wantReason)
			}
			stillChatting(t)
		})
	}

	t.Run("not JSON on /ws", func(t *testing.T) {
		c := dial(t, n1.URL(), client.JSON)
		expect(t, c, node.TextWelcome)
		c.Conn().Write(ctxT(t), websocket.MessageText, []byte("hello"))
		ev, err := c.Next(ctxT(t))
		if err != nil || ev.Name != "error" || !strings.HasPrefix(ev.Text, `invalid JSON "hello"`) {
			t.Fatalf("got %+v, %v, want an error event about invalid JSON", ev, err)
		}
		emit(t, c, "nonsense", "x")
		ev, _ = c.Next(ctxT(t))
		if ev.Name != "error" || !strings.Contains(ev.Text, `unknown event "nonsense"`) {
			t.Fatalf("got %+v, want an error event about the unknown event", ev)
		}
		emit(t, c, "message", "same connection") // it was not dropped
		expect(t, c, "Failed to send the message. Specify a username first.")
		stillChatting(t)
	})

	t.Run("foreign origin", func(t *testing.T) {
		_, err := client.Dial(ctxT(t), client.Options{URL: n1.URL(), Header: http.Header{"Origin": {"http://evil.example"}}})
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("got %v, want the handshake refused with 403", err)
		}
		stillChatting(t)
	})

	t.Run("unsupported engine.io version", func(t *testing.T) {
		resp, err := http.Get(n1.URL() + "/socket.io/?EIO=3&transport=websocket")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Code    int
			Message string
		}
		json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != 400 || body.Code != 5 || body.Message != "Unsupported protocol version" {
			t.Fatalf("got %d %+v, want 400 code 5", resp.StatusCode, body)
		}
	})
}

func TestAllowedOrigins(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", AllowedOrigins: []string{"*.example.com"}})
	c, err := client.Dial(ctxT(t), client.Options{URL: n1.URL(), Header: http.Header{"Origin": {"https://chat.example.com"}}})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	c.Close()
	// The node's own origin (as a page served by it sends) is always fine.
	c, err = client.Dial(ctxT(t), client.Options{URL: n1.URL(), Header: http.Header{"Origin": {n1.URL()}}})
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	c.Close()
}

func TestHealthAndNodeHeader(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	joinAs(t, n1.URL(), client.SocketIO, "A")
	for _, path := range []string{"/healthz", "/", "/chat.js"} {
		resp, err := http.Get(n1.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Lab-Node") != "node-1" {
			t.Fatalf("GET %s: %d X-Lab-Node=%q, want 200 node-1", path, resp.StatusCode, resp.Header.Get("X-Lab-Node"))
		}
		if path == "/healthz" && !strings.Contains(string(b), `"sessions":1`) {
			t.Fatalf("/healthz: %s, want sessions 1", b)
		}
		if path == "/" && strings.Contains(string(b), "http") && strings.Contains(string(b), "<script src=\"http") {
			t.Fatal("the page loads a script from another origin")
		}
	}
}

func TestEchoMode(t *testing.T) {
	n, err := node.Start(context.Background(), node.Config{Name: "echo-1", Mode: node.ModeEcho})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c, _, err := websocket.Dial(ctxT(t), strings.Replace(n.URL(), "http", "ws", 1)+"/anything", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, m := range []struct {
		typ websocket.MessageType
		p   string
	}{{websocket.MessageText, "hello"}, {websocket.MessageBinary, "\x00\x01"}} {
		c.Write(ctxT(t), m.typ, []byte(m.p))
		typ, p, err := c.Read(ctxT(t))
		if err != nil || typ != m.typ || string(p) != m.p {
			t.Fatalf("echo: got %v %q %v, want %v %q", typ, p, err, m.typ, m.p)
		}
	}
	read := make(chan error, 1)
	go func() { _, _, err := c.Read(ctxT(t)); read <- err }()
	if err := n.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("echo session on stop: %v, want 1001", err)
	}
}

// TestUsernamesThatHideOrMisleadAreRefused checks that a name which would
// show as nothing, break a line or reorder the text around it is refused
// with a reason, on both transports, and that the user stays unnamed.
func TestUsernamesThatHideOrMisleadAreRefused(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	for _, tr := range []client.Transport{client.SocketIO, client.JSON} {
		for _, tt := range []struct {
			name, username, want string
		}{
			{"empty", "", "Failed to set the username: it is empty."},
			{"only spaces", "   ", "Failed to set the username: it is only spaces."},
			{"newline", "ali\nce", "Failed to set the username: it contains the control character U+000A at position 4; use letters, digits, punctuation and spaces."},
			{"NUL", "\x00", "Failed to set the username: it contains the control character U+0000 at position 1; use letters, digits, punctuation and spaces."},
			{"escape", "a\x1b[31m", "Failed to set the username: it contains the control character U+001B at position 2; use letters, digits, punctuation and spaces."},
			{"C1 control", "a\u0085", "Failed to set the username: it contains the control character U+0085 at position 2; use letters, digits, punctuation and spaces."},
			{"right-to-left override", "evil\u202egnp.exe", "Failed to set the username: it contains the bidirectional control U+202E, which reorders how the text around it is shown; use letters, digits, punctuation and spaces."},
			{"left-to-right isolate", "\u2066bob", "Failed to set the username: it contains the bidirectional control U+2066, which reorders how the text around it is shown; use letters, digits, punctuation and spaces."},
		} {
			t.Run(string(tr)+"/"+tt.name, func(t *testing.T) {
				c := dial(t, n1.URL(), tr)
				expect(t, c, node.TextWelcome)
				emit(t, c, "set_username", tt.username)
				expect(t, c, tt.want)
				emit(t, c, "message", "hi")
				expect(t, c, node.TextNoUsername)
			})
		}
	}
	t.Run("a name in another script is fine", func(t *testing.T) {
		c := joinAs(t, n1.URL(), client.SocketIO, "Zoë 李 שלום")
		emit(t, c, "message", "hi")
		expect(t, c, "Zoë 李 שלום: hi")
	})
}
