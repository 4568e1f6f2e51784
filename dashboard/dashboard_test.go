package dashboard_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/wslab/wslab/dashboard"
	"github.com/wslab/wslab/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The page listens to the event stream by kind (EventSource delivers a
// named event only to a listener of that name): a kind missing from
// app.js never reaches the timeline.
func TestThePageListensToEveryEventKind(t *testing.T) {
	rec := httptest.NewRecorder()
	dashboard.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/app.js", nil))
	js, _ := io.ReadAll(rec.Result().Body)
	_, list, ok := strings.Cut(string(js), "var kinds = [")
	list, _, _ = strings.Cut(list, "]")
	if rec.Code != 200 || !ok {
		t.Fatalf("GET /app.js: got %d and no kinds list", rec.Code)
	}
	for _, k := range events.Kinds() {
		if !strings.Contains(list, `"`+string(k)+`"`) {
			t.Errorf("app.js's kinds: got no %q, want every events.Kinds()", k)
		}
	}
}
