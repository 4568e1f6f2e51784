package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/admin"
	"github.com/wslab/wslab/lab"
)

// A user who opens the page or runs lab ctl events after a kill sees the
// kill: the admin API answers with the events it kept, worded.
func TestEventHistoryIsServedWithItsWords(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 1})
	if code, body := call(t, l, "POST", "/api/nodes/node-1/kill", "", nil); code != http.StatusOK {
		t.Fatalf("kill: got %d %s", code, body)
	}
	code, body := call(t, l, "GET", "/api/events?last=2", "", nil)
	var h admin.EventHistory
	if code != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil || len(h.Events) != 2 {
		t.Fatalf("GET /api/events?last=2: got %d %s, want 200 and two events", code, body)
	}
	code, body = call(t, l, "GET", "/api/events?since=5m", "", nil)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil {
		t.Fatalf("GET /api/events?since=5m: got %d %s, want 200 and the events", code, body)
	}
	var texts []string
	for _, e := range h.Events {
		texts = append(texts, string(e.Kind)+": "+e.Text)
	}
	all := strings.Join(texts, "\n")
	kill := strings.Index(all, "node.fault: fault: kill")
	stop := strings.Index(all, "node.stopped: stopped listening: killed, its connections dropped without a close frame")
	if kill < 0 || stop < kill {
		t.Fatalf("GET /api/events?since=5m: got\n%s\nwant the kill and the stop, worded", all)
	}
	for _, bad := range []string{"since=forever", "since=-5m", "last=0", "last=many"} {
		code, body := call(t, l, "GET", "/api/events?"+bad, "", nil)
		if code != http.StatusBadRequest || !strings.Contains(body, strings.Split(bad, "=")[0]+": ") {
			t.Errorf("GET /api/events?%s: got %d %s, want 400 naming the parameter", bad, code, body)
		}
	}
}

// Streamed with follow=1, the kept events come first, then new ones; a
// reconnect with Last-Event-ID gets only what came after it.
func TestEventStreamReplaysTheHistoryThenFollows(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 1})
	call(t, l, "POST", "/api/nodes/node-1/slow?delay=1ms", "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	read := func(lastID string) (*bufio.Scanner, func()) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", l.Admin.URL()+"/api/events?last=1&follow=1", nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return bufio.NewScanner(resp.Body), func() { resp.Body.Close() }
	}
	next := func(sc *bufio.Scanner) (id, data string) {
		t.Helper()
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				return id, v
			}
		}
		t.Fatalf("the stream ended: %v", sc.Err())
		return "", ""
	}
	sc, closeStream := read("")
	id, data := next(sc)
	if !strings.Contains(data, `"text":"fault: slow 1ms"`) {
		t.Fatalf("first event of the stream: got %s, want the slow fault from before it opened", data)
	}
	call(t, l, "POST", "/api/nodes/node-1/start", "", nil)
	if _, data := next(sc); !strings.Contains(data, `"text":"fault: start: faults cleared"`) {
		t.Fatalf("next event: got %s, want the start that followed", data)
	}
	closeStream()
	sc, closeStream = read(id)
	defer closeStream()
	if _, data := next(sc); !strings.Contains(data, "faults cleared") {
		t.Fatalf("after Last-Event-ID %s: got %s, want the event after it", id, data)
	}
}
