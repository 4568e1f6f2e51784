package node_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/quartz"
	"github.com/coder/websocket"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/node"
	"github.com/wslab/wslab/node/client"
)

// rawPoll is a hand-driven Engine.IO polling session, for tests that send
// what a real client would not.
type rawPoll struct {
	url string // .../socket.io/?EIO=4&transport=polling&sid=<sid>
	sid string
}

// answer is one HTTP response, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, body string, header http.Header) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// openPoll opens a polling session and checks the open packet.
func openPoll(t *testing.T, base string) *rawPoll {
	t.Helper()
	a := do(t, "GET", base+"/socket.io/?EIO=4&transport=polling", "", nil)
	var open struct {
		SID      string
		Upgrades []string
	}
	if a.status != 200 || !strings.HasPrefix(a.body, "0") || json.Unmarshal([]byte(a.body[1:]), &open) != nil {
		t.Fatalf("polling handshake: got %d %q, want 200 and an open packet", a.status, a.body)
	}
	if len(open.Upgrades) != 1 || open.Upgrades[0] != "websocket" {
		t.Fatalf("open packet upgrades: got %v, want [websocket]", open.Upgrades)
	}
	p := &rawPoll{url: base + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID, sid: open.SID}
	// Leave, so that the node's Close does not wait for a poll to hand the
	// close packet to.
	t.Cleanup(func() {
		if resp, err := http.Post(p.url, "text/plain;charset=UTF-8", strings.NewReader("1")); err == nil {
			resp.Body.Close()
		}
	})
	return p
}

func (p *rawPoll) get(t *testing.T) answer {
	t.Helper()
	return do(t, "GET", p.url, "", nil)
}

func (p *rawPoll) post(t *testing.T, body string) answer {
	t.Helper()
	return do(t, "POST", p.url, body, http.Header{"Content-Type": {"text/plain;charset=UTF-8"}})
}

// connect sends the Socket.IO connect and reads the reply and welcome.
func (p *rawPoll) connect(t *testing.T) {
	t.Helper()
	if a := p.post(t, "40"); a.status != 200 || a.body != "ok" {
		t.Fatalf("POST 40: got %d %q, want 200 ok", a.status, a.body)
	}
	var got string
	for !strings.Contains(got, node.TextWelcome) {
		a := p.get(t)
		if a.status != 200 {
			t.Fatalf("GET after connect: got %d %q", a.status, a.body)
		}
		got += a.body
	}
	if !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("after connect: got %q, want the connect reply first", got)
	}
}

// wantEngineError checks a refusal: status, the exact engine.io body, and
// a detail for people that mentions what went wrong.
func wantEngineError(t *testing.T, a answer, status, code int, message, detail string) {
	t.Helper()
	want, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, message})
	if a.status != status || a.body != string(want) {
		t.Fatalf("got %d %s, want %d %s", a.status, a.body, status, want)
	}
	if d := a.header.Get("X-Lab-Detail"); !strings.Contains(d, detail) {
		t.Fatalf("X-Lab-Detail: got %q, want it to mention %q", d, detail)
	}
}

// TestPollingChatsWithWebSocketUsersAcrossNodes: a polling user on one node
// and a WebSocket user on another see the same chat.
func TestPollingChatsWithWebSocketUsersAcrossNodes(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	a := joinAs(t, n1.URL(), client.Polling, "A")
	if a.Node() != "node-1" {
		t.Fatalf("X-Lab-Node of the polling handshake: got %q, want node-1", a.Node())
	}
	b := joinAs(t, n2.URL(), client.SocketIO, "B")
	emit(t, a, "message", "over polling")
	expect(t, a, "A: over polling")
	expect(t, b, "A: over polling")
	emit(t, b, "message", "over websocket")
	expect(t, b, "B: over websocket")
	expect(t, a, "B: over websocket")
	if err := a.Ping(ctxT(t)); err != nil {
		t.Fatalf("client ping over polling: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("polite close over polling: %v", err)
	}
	expect(t, b, "A left the chatroom.")
	if e := w.waitEvent(t, closedEvent(a.SID)); e.Reason != node.ReasonClientClosed {
		t.Fatalf("close reason: got %q, want %q", e.Reason, node.ReasonClientClosed)
	}
}

// TestPollOfAnotherNodesSessionIsUnknown is what a non-sticky balancer
// produces: the poll reaches a node that does not own the session, and the
// answer is a Socket.IO server's, byte for byte.
func TestPollOfAnotherNodesSessionIsUnknown(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	p := openPoll(t, n1.URL())
	foreign := &rawPoll{url: strings.Replace(p.url, n1.URL(), n2.URL(), 1), sid: p.sid}
	for _, method := range []string{"GET", "POST"} {
		a := do(t, method, foreign.url, "40", nil)
		wantEngineError(t, a, 400, 1, "Session ID unknown", "long-polling needs sticky sessions")
	}
	wantEngineError(t, do(t, "GET", strings.Replace(foreign.url, "polling", "websocket", 1), "", nil),
		400, 1, "Session ID unknown", "node node-2 has no such session")
	p.connect(t) // the owner still serves it
}

// TestPollingBadInputIsRefusedAndOthersKeepChatting sends each kind of bad
// polling input: each gets its own answer and ends only its own session.
func TestPollingBadInputIsRefusedAndOthersKeepChatting(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", MaxPayload: 1 << 10})
	ws := joinAs(t, n1.URL(), client.SocketIO, "W")
	polling := joinAs(t, n1.URL(), client.Polling, "P")
	stillChatting := func(t *testing.T) {
		t.Helper()
		emit(t, ws, "message", t.Name())
		expect(t, ws, "W: "+t.Name())
		expect(t, polling, "W: "+t.Name())
		emit(t, polling, "message", t.Name())
		expect(t, ws, "P: "+t.Name())
		expect(t, polling, "P: "+t.Name())
	}
	// gone checks that the session ended with reason and is unknown now.
	gone := func(t *testing.T, p *rawPoll, reason string) {
		t.Helper()
		e := w.waitEvent(t, func(e eventT) bool { return e.Kind == events.ConnClosed && e.Reason == reason })
		if e.Detail == "" {
			t.Fatalf("closed event %+v has no detail", e)
		}
		wantEngineError(t, p.get(t), 400, 1, "Session ID unknown", p.sid)
	}

	posts := []struct {
		name, body string
		detail     string
	}{
		{"empty body", "", "the body is empty"},
		{"empty packet between separators", "40\x1e\x1e2", "packet 2 of 3 is empty"},
		{"binary packet", "bAQID", "packet 1 is binary"},
		{"invalid UTF-8", "42[\"message\",\"caf\xc3\"]", "invalid UTF-8"},
		{"unknown engine.io packet type", "hello?", `malformed packet "hello?"`},
		{"garbage socket.io packet", `42["message",`, "is not JSON"},
		{"event before connect", `42["message","hi"]`, "event before connect"},
	}
	for _, tt := range posts {
		t.Run(tt.name, func(t *testing.T) {
			p := openPoll(t, n1.URL())
			wantEngineError(t, p.post(t, tt.body), 400, 3, "Bad request", tt.detail)
			gone(t, p, node.ReasonProtocolError)
			stillChatting(t)
		})
	}

	t.Run("oversized POST", func(t *testing.T) {
		p := openPoll(t, n1.URL())
		p.connect(t)
		a := p.post(t, `42["message","`+strings.Repeat("x", 2<<10)+`"]`)
		if a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "more than 1024 bytes") {
			t.Fatalf("got %d %q, want 413 naming the limit", a.status, a.body)
		}
		gone(t, p, node.ReasonTooBig)
		stillChatting(t)
	})

	t.Run("binary content type", func(t *testing.T) {
		p := openPoll(t, n1.URL())
		a := do(t, "POST", p.url, "\x04\x01", http.Header{"Content-Type": {"application/octet-stream"}})
		wantEngineError(t, a, 400, 3, "Bad request", "binary payload")
		gone(t, p, node.ReasonProtocolError)
		stillChatting(t)
	})

	t.Run("a second GET while one is pending", func(t *testing.T) {
		p := openPoll(t, n1.URL())
		p.connect(t) // the queue is empty now: the next GET waits
		first := make(chan answer, 1)
		go func() { first <- do(t, "GET", p.url, "", nil) }()
		// The second GET may come before the first is pending; then the
		// first is the second. Either way one is refused and one closed.
		second := p.get(t)
		answers := []answer{second, <-first}
		if answers[0].status == 200 {
			answers[0], answers[1] = answers[1], answers[0]
		}
		wantEngineError(t, answers[0], 400, 3, "Bad request", "a second GET while one is pending")
		if answers[1].status != 200 || answers[1].body != "1" {
			t.Fatalf("the pending GET: got %d %q, want 200 with the close packet 1", answers[1].status, answers[1].body)
		}
		gone(t, p, node.ReasonProtocolError)
		stillChatting(t)
	})

	t.Run("a second POST while one is being read", func(t *testing.T) {
		p := openPoll(t, n1.URL())
		p.connect(t)
		// The first POST asks to continue before its body: the node's
		// "100 Continue" says the handler is reading it.
		u, err := url.Parse(p.url)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		fmt.Fprintf(nc, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 18\r\nExpect: 100-continue\r\n\r\n", u.RequestURI(), u.Host)
		br := bufio.NewReader(nc)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("the first POST: got %q, %v, want 100 Continue", line, err)
		}
		wantEngineError(t, p.post(t, `42["message","x"]`), 400, 3, "Bad request", "a second POST while one is pending")
		gone(t, p, node.ReasonProtocolError)
		io.WriteString(nc, `42["message","hi"]`)
		if _, err := br.ReadString('\n'); err != nil { // the answer's status line (it ended already)
			t.Fatalf("the first POST got no answer: %v", err)
		}
		stillChatting(t)
	})

	t.Run("unknown sid", func(t *testing.T) {
		a := do(t, "GET", n1.URL()+"/socket.io/?EIO=4&transport=polling&sid=nope", "", nil)
		wantEngineError(t, a, 400, 1, "Session ID unknown", `sid "nope"`)
		stillChatting(t)
	})

	t.Run("handshake by POST", func(t *testing.T) {
		a := do(t, "POST", n1.URL()+"/socket.io/?EIO=4&transport=polling", "40", nil)
		wantEngineError(t, a, 400, 2, "Bad handshake method", "opens with GET")
		stillChatting(t)
	})

	t.Run("unknown transport", func(t *testing.T) {
		a := do(t, "GET", n1.URL()+"/socket.io/?EIO=4&transport=flash", "", nil)
		wantEngineError(t, a, 400, 0, "Transport unknown", `transport "flash"`)
		stillChatting(t)
	})
}

// TestPollingSessionThatStopsPollingExpires: a client that opens, joins and
// then never polls again misses its ping and is cut after ping interval +
// ping timeout on the node's clock, announced as left.
func TestPollingSessionThatStopsPollingExpires(t *testing.T) {
	w := newWorld(t)
	clk := quartz.NewMock(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", Clock: clk})
	b := joinAs(t, n1.URL(), client.SocketIO, "B")
	p := openPoll(t, n1.URL())
	p.connect(t)
	if a := p.post(t, `42["set_username","A"]`); a.status != 200 {
		t.Fatalf("set_username: got %d %q", a.status, a.body)
	}
	if a := p.get(t); !strings.Contains(a.body, "Your username is set to A") {
		t.Fatalf("got %q, want the username confirmed", a.body)
	}

	rearm := clk.Trap().AfterFunc("ping")
	defer rearm.Close()
	advance(t, clk, node.DefaultPingInterval) // both pinged; only B answers
	rearm.MustWait(ctxT(t)).MustRelease(ctxT(t))
	advance(t, clk, node.DefaultPingTimeout-time.Millisecond)
	if n1.Sessions() != 2 {
		t.Fatalf("sessions before the ping timeout: got %d, want 2", n1.Sessions())
	}
	advance(t, clk, time.Millisecond)
	e := w.waitEvent(t, func(e eventT) bool {
		return e.Kind == events.ConnClosed && e.Client != "" && e.Reason == node.ReasonPingTimeout
	})
	if e.Reason != node.ReasonPingTimeout {
		t.Fatalf("reason: got %q, want %q", e.Reason, node.ReasonPingTimeout)
	}
	expect(t, b, "A left the chatroom.")
	wantEngineError(t, p.get(t), 400, 1, "Session ID unknown", p.sid)
}

// TestPollingClientsLiveThroughFaultsAsWebSocketOnesDo: kill, stop and
// slow hit a polling user as they hit a WebSocket one.
func TestPollingClientsLiveThroughFaultsAsWebSocketOnesDo(t *testing.T) {
	t.Run("kill: the poll is cut, nobody is told", func(t *testing.T) {
		w := newWorld(t)
		n1 := w.startNode(t, node.Config{Name: "node-1"})
		n2 := w.startNode(t, node.Config{Name: "node-2"})
		b := joinAs(t, n2.URL(), client.SocketIO, "B")
		a := joinAs(t, n1.URL(), client.Polling, "A")
		if err := n1.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := waitClosed(t, a); err == nil || errors.Is(err, client.ErrServerClosed) {
			t.Fatalf("polling client after kill: got %v, want a cut connection, no close packet", err)
		}
		if e := w.waitEvent(t, closedEvent(a.SID)); e.Reason != node.ReasonKilled {
			t.Fatalf("close reason: got %q, want %q", e.Reason, node.ReasonKilled)
		}
		emit(t, b, "message", "still here")
		expect(t, b, "B: still here")
	})

	t.Run("stop: a close packet, and the leave is announced", func(t *testing.T) {
		w := newWorld(t)
		n1 := w.startNode(t, node.Config{Name: "node-1"})
		n2 := w.startNode(t, node.Config{Name: "node-2"})
		b := joinAs(t, n2.URL(), client.SocketIO, "B")
		a := joinAs(t, n1.URL(), client.Polling, "A")
		if err := n1.Stop(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := waitClosed(t, a); !errors.Is(err, client.ErrServerClosed) {
			t.Fatalf("polling client after stop: got %v, want the close packet", err)
		}
		if e := w.waitEvent(t, closedEvent(a.SID)); e.Reason != node.ReasonStopped {
			t.Fatalf("close reason: got %q, want %q", e.Reason, node.ReasonStopped)
		}
		expect(t, b, "A left the chatroom.")
	})

	t.Run("hang: a POST is not answered until start", func(t *testing.T) {
		w := newWorld(t)
		n1 := w.startNode(t, node.Config{Name: "node-1"})
		b := joinAs(t, n1.URL(), client.SocketIO, "B")
		a := joinAs(t, n1.URL(), client.Polling, "A")
		if err := n1.Hang(); err != nil {
			t.Fatal(err)
		}
		sent := make(chan error, 1)
		go func() { sent <- a.Emit(ctxT(t), "message", "stuck") }()
		// Proving a negative needs a bound: this would answer in a millisecond.
		select {
		case err := <-sent:
			t.Fatalf("a POST to a hung node was answered: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := n1.Start(); err != nil {
			t.Fatal(err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("the POST made during the hang: %v, want it answered after start", err)
		}
		expect(t, b, "A: stuck")
		expect(t, a, "A: stuck")
	})

	t.Run("slow: every message waits on the clock", func(t *testing.T) {
		w := newWorld(t)
		clk := quartz.NewMock(t)
		n1 := w.startNode(t, node.Config{Name: "node-1", Clock: clk})
		a := joinAs(t, n1.URL(), client.Polling, "A")
		trap := clk.Trap().NewTimer("slow")
		defer trap.Close()
		if err := n1.Slow(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		emit(t, a, "message", "hi")
		call := trap.MustWait(ctxT(t))
		if call.Duration != 5*time.Second {
			t.Fatalf("delivery delayed by %s, want 5s", call.Duration)
		}
		call.MustRelease(ctxT(t))
		advance(t, clk, 5*time.Second-time.Millisecond)
		if a.Pending() != 0 {
			t.Fatal("message delivered before its delay")
		}
		advance(t, clk, time.Millisecond)
		expect(t, a, "A: hi")
	})
}

// TestCrossOriginPollingFollowsAllowedOrigins: an allowed page origin gets
// its origin echoed with credentials (never "*"), a preflight is answered,
// and a foreign origin is refused as a WebSocket handshake is.
func TestCrossOriginPollingFollowsAllowedOrigins(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1", AllowedOrigins: []string{"localhost:3000"}, SessionCookie: "io"})
	handshake := n1.URL() + "/socket.io/?EIO=4&transport=polling"
	page := http.Header{"Origin": {"http://localhost:3000"}}

	a := do(t, "GET", handshake, "", page)
	if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || a.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("allowed origin: got %d ACAO=%q ACAC=%q, want 200, the origin echoed, credentials true",
			a.status, a.header.Get("Access-Control-Allow-Origin"), a.header.Get("Access-Control-Allow-Credentials"))
	}
	var open struct{ SID string }
	json.Unmarshal([]byte(a.body[1:]), &open)
	(&rawPoll{url: handshake + "&sid=" + open.SID}).post(t, "1") // leave
	if c := a.header.Get("Set-Cookie"); !strings.HasPrefix(c, "io="+open.SID+";") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("Set-Cookie: got %q, want io=<sid>; HttpOnly", c)
	}

	pre := do(t, "OPTIONS", handshake, "", http.Header{
		"Origin": {"http://localhost:3000"}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"},
	})
	if pre.status != 204 || !strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "POST") || pre.header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("preflight: got %d %v, want 204 allowing POST and content-type", pre.status, pre.header)
	}

	foreign := do(t, "GET", handshake, "", http.Header{"Origin": {"http://evil.example"}})
	wantEngineError(t, foreign, 403, 4, "Forbidden", "allowed_origins")
	if foreign.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a foreign origin got CORS headers")
	}
	same := do(t, "GET", handshake, "", http.Header{"Origin": {n1.URL()}})
	if same.status != 200 {
		t.Fatalf("same origin: got %d %s, want 200", same.status, same.body)
	}
	json.Unmarshal([]byte(same.body[1:]), &open)
	(&rawPoll{url: handshake + "&sid=" + open.SID}).post(t, "1") // leave
}

// TestUpgradeFromPollingToWebSocket walks the upgrade by hand: the probe,
// the noop that frees the pending poll, and the session carrying on over
// the WebSocket with its name, while polls for it are refused.
func TestUpgradeFromPollingToWebSocket(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	other := joinAs(t, n1.URL(), client.SocketIO, "O")
	p := openPoll(t, n1.URL())
	p.connect(t)
	if a := p.post(t, `42["set_username","A"]`); a.status != 200 {
		t.Fatalf("set_username: %d %q", a.status, a.body)
	}
	if a := p.get(t); !strings.Contains(a.body, "Your username is set to A") {
		t.Fatalf("got %q, want the username confirmed", a.body)
	}
	pending := make(chan answer, 1)
	go func() { pending <- do(t, "GET", p.url, "", nil) }()

	ws := dialRaw(t, strings.Replace(p.url, "transport=polling", "transport=websocket", 1))
	writeText(t, ws, "2probe")
	if got := readText(t, ws); got != "3probe" {
		t.Fatalf("probe answer: got %q, want 3probe", got)
	}
	if a := <-pending; a.status != 200 || a.body != "6" {
		t.Fatalf("the pending poll during the upgrade: got %d %q, want the noop 6", a.status, a.body)
	}
	writeText(t, ws, "5")
	writeText(t, ws, `42["message","upgraded"]`)
	if got := readText(t, ws); got != `42["message","A: upgraded"]` {
		t.Fatalf("after the upgrade: got %q, want A's message back", got)
	}
	expect(t, other, "A: upgraded")
	wantEngineError(t, p.get(t), 400, 3, "Bad request", "uses the websocket transport")
}

// TestPollingHandshakeAnswersWhileAnotherPollWaits: pending polls hold no
// lock another session needs.
func TestPollingHandshakeAnswersWhileAnotherPollWaits(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	var polls []*rawPoll
	done := make(chan answer, 3)
	for range 3 {
		p := openPoll(t, n1.URL())
		p.connect(t)
		polls = append(polls, p)
		go func() { done <- do(t, "GET", p.url, "", nil) }()
	}
	a := joinAs(t, n1.URL(), client.Polling, "A")
	emit(t, a, "message", "to everyone")
	for range polls {
		if got := <-done; !bytes.Contains([]byte(got.body), []byte("A: to everyone")) {
			t.Fatalf("a waiting poll: got %q, want the broadcast", got.body)
		}
	}
}

func dialRaw(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctxT(t), strings.Replace(url, "http", "ws", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func writeText(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.Write(ctxT(t), websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_, p, err := c.Read(ctxT(t))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(p)
}

// TestGoClientUpgradesFromPollingAsIoDoes: client.Upgrade opens on polling
// and moves to a WebSocket; the session, its name and its room carry on,
// and the node closes it with a close frame when it stops.
func TestGoClientUpgradesFromPollingAsIoDoes(t *testing.T) {
	w := newWorld(t)
	n1 := w.startNode(t, node.Config{Name: "node-1"})
	n2 := w.startNode(t, node.Config{Name: "node-2"})
	b := joinAs(t, n2.URL(), client.Polling, "B")
	a := joinAs(t, n1.URL(), client.Upgrade, "A")
	if a.Conn() == nil {
		t.Fatal("client.Upgrade has no WebSocket after Dial")
	}
	emit(t, a, "message", "after the upgrade")
	expect(t, a, "A: after the upgrade")
	expect(t, b, "A: after the upgrade")
	if err := n1.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := websocket.CloseStatus(waitClosed(t, a)); got != websocket.StatusGoingAway {
		t.Fatalf("close status of the upgraded session: got %d, want 1001", got)
	}
	expect(t, b, "A left the chatroom.")
}
