package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/events"
	"github.com/wslab/wslab/lab"
)

// waitConns waits for n balancer-side events of kind and returns their
// close reasons.
func waitConns(t *testing.T, sub *events.Subscription, kind events.Kind, n int) []string {
	t.Helper()
	var reasons []string
	deadline := time.After(15 * time.Second)
	for len(reasons) < n {
		select {
		case e := <-sub.C():
			if e.Kind == kind && e.Backend != "" {
				reasons = append(reasons, e.Reason)
			}
		case <-deadline:
			t.Fatalf("got %d %s events, want %d", len(reasons), kind, n)
		}
	}
	return reasons
}

// The dashboard's test clients can be stopped: DELETE /api/testers closes
// each as a closed tab does and answers once they are gone.
func TestTestClientsCanBeStopped(t *testing.T) {
	l := startLab(t, lab.Config{Nodes: 2})
	sub := l.Events.Subscribe(1000)
	defer sub.Close()
	if code, body := call(t, l, "POST", "/api/testers?count=3", "", nil); code != http.StatusOK {
		t.Fatalf("POST /api/testers: got %d %s", code, body)
	}
	waitConns(t, sub, events.ConnOpened, 3)

	code, body := call(t, l, "DELETE", "/api/testers?count=1", "", nil)
	var got struct{ Stopped, Testers int }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Stopped != 1 || got.Testers != 2 {
		t.Fatalf("DELETE /api/testers?count=1: got %d %s, want 200, 1 stopped, 2 left", code, body)
	}
	code, body = call(t, l, "DELETE", "/api/testers", "", nil)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Stopped != 2 || got.Testers != 0 {
		t.Fatalf("DELETE /api/testers: got %d %s, want 200, 2 stopped, none left", code, body)
	}
	// Each leaves politely: a Socket.IO disconnect and a close frame, which
	// the node may answer with its own first.
	for _, r := range waitConns(t, sub, events.ConnClosed, 3) {
		if r != "client_close_frame" && r != "backend_close_frame" {
			t.Fatalf("a stopped tester's connection closed with %s, want a close frame (no cut)", r)
		}
	}
	if code, body := call(t, l, "DELETE", "/api/testers?count=0", "", nil); code != http.StatusBadRequest || !strings.Contains(body, `count \"0\"`) {
		t.Fatalf("DELETE /api/testers?count=0: got %d %s, want 400 naming the count", code, body)
	}
	if code, body := call(t, l, "GET", "/api/status", "", nil); code != http.StatusOK || !strings.Contains(body, `"testers": 0`) {
		t.Fatalf("status after stopping: got %d %s, want testers 0", code, body)
	}
}
