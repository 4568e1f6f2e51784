package balancer_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"

	"github.com/wslab/wslab/balancer/config"
)

// headerBackend records the handshake headers it sees, then echoes.
func headerBackend(t *testing.T) (*httptest.Server, chan http.Header) {
	seen := make(chan http.Header, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		seen <- h
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), typ, p)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func TestForwardedHeadersOverHTTPAndWSS(t *testing.T) {
	be, seen := headerBackend(t)
	r := start(t, config.Config{
		Listener:    config.Listener{TLS: &config.TLS{Addr: "127.0.0.1:0", SelfSigned: true}},
		ServerGroup: config.ServerGroup{Servers: []config.Server{{Name: "app", URL: be.URL}}, HealthCheck: noChecks()},
	}, nil)
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tt := range []struct {
		name, url, proto, port string
		client                 *http.Client
	}{
		{"ws", "ws://" + r.b.Addr(), "http", portOf(r.b.Addr()), nil},
		{"wss", "wss://" + r.b.TLSAddr(), "https", portOf(r.b.TLSAddr()), insecure},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := websocket.Dial(ctxT(t), tt.url+"/chat?room=1", &websocket.DialOptions{
				HTTPClient: tt.client,
				HTTPHeader: http.Header{"Origin": {"http://app.example"}, "X-Forwarded-For": {"203.0.113.9"}},
				Host:       "chat.example",
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			h := <-seen
			for k, want := range map[string]string{
				"Host":              "chat.example",
				"Origin":            "http://app.example",
				"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
				"X-Forwarded-Proto": tt.proto,
				"X-Forwarded-Port":  tt.port,
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			c.Write(ctxT(t), websocket.MessageText, []byte("over "+tt.name))
			if _, p, err := c.Read(ctxT(t)); err != nil || string(p) != "over "+tt.name {
				t.Fatalf("echo: %q, %v", p, err)
			}
		})
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// TestBytesBehindTheHandshakeAreKept: a client that sends its first frame
// in the same packet as the handshake still gets it echoed.
func TestBytesBehindTheHandshakeAreKept(t *testing.T) {
	nodes := echoNodes(t, 1)
	r := start(t, config.Config{ServerGroup: config.ServerGroup{Servers: servers(nodes), HealthCheck: noChecks()}}, nil)
	c, err := net.Dial("tcp", r.b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET /echo HTTP/1.1\r\nHost: " + r.b.Addr() + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	payload := []byte("early bird")
	frame := []byte{0x81, 0x80 | byte(len(payload)), 1, 2, 3, 4} // masked text frame
	for i, p := range payload {
		frame = append(frame, p^[]byte{1, 2, 3, 4}[i%4])
	}
	if _, err := c.Write(append([]byte(req), frame...)); err != nil { // one write
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, hdr[1]&0x7f)
	io.ReadFull(br, got)
	if string(got) != "early bird" {
		t.Fatalf("got %q back, want the frame sent behind the handshake", got)
	}
}
