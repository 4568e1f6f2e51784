package main_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wslab/wslab/profiles"
)

func TestProfileListShowsEveryProfileWithItsIdleTimeoutAndCut(t *testing.T) {
	out, code := runOnce(t, "profile", "list")
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, out)
	}
	for _, want := range []string{"NAME", "IDLE TIMEOUT", "LIFETIME CAP", "WHEN CUT",
		"aws-alb", "60s", "aws-api-gateway", "10m", "2h", "gcp-lb", "30s", "aws-nlb", "TCP reset", "caddy-default", "close frame 1001"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
	if got, want := strings.Count(out, "\n"), len(profiles.List())+1; got != want {
		t.Errorf("got %d lines, want %d (header + one per profile):\n%s", got, want, out)
	}
}

func TestProfileListJSONHasOneRowPerProfile(t *testing.T) {
	out, code := runOnce(t, "profile", "list", "--json")
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, out)
	}
	var rows []struct {
		Name        string `json:"name"`
		IdleTimeout string `json:"idle_timeout"`
		BrowserCode string `json:"browser_close_code"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rows) != len(profiles.List()) || rows[0].Name != "aws-alb" || rows[0].IdleTimeout != "60s" || rows[0].BrowserCode != "1006" {
		t.Errorf("got %+v, want %d rows starting with aws-alb 60s 1006", rows, len(profiles.List()))
	}
}

func TestProfileShowPrintsEachValueWithItsSource(t *testing.T) {
	out, code := runOnce(t, "profile", "show", "aws-alb")
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, out)
	}
	p, _ := profiles.Get("aws-alb")
	for _, f := range p.Fields() {
		for _, want := range []string{f.Label, f.Value, string(f.Source.Status) + ", read " + f.Source.Read + ": " + f.Source.URL} {
			if !strings.Contains(out, want) {
				t.Errorf("show output lacks %q (field %s)", want, f.Key)
			}
		}
	}
	for _, want := range []string{"1s-4000s", "HTTP 400", "fail open"} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q", want)
		}
	}
}

func TestProfileShowJSONCarriesTheSources(t *testing.T) {
	out, code := runOnce(t, "profile", "show", "heroku", "--json")
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, out)
	}
	var doc struct {
		Name   string           `json:"name"`
		Fields []profiles.Field `json:"fields"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if doc.Name != "heroku" || len(doc.Fields) == 0 {
		t.Fatalf("got %+v, want the heroku profile's fields", doc)
	}
	idle := doc.Fields[0]
	if idle.Key != "idle_timeout" || idle.Value != "55s" || idle.Source.Status != profiles.Documented || idle.Source.URL == "" {
		t.Errorf("got first field %+v, want idle_timeout 55s documented with a URL", idle)
	}
}

func TestAnUnknownProfileExits2AndListsTheNames(t *testing.T) {
	out, code := runOnce(t, "profile", "show", "aws-elb")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(out, `unknown profile "aws-elb"`) {
		t.Errorf("output %q does not name the bad profile", out)
	}
	for _, name := range profiles.Names() {
		if !strings.Contains(out, name) {
			t.Errorf("output %q does not list %s", out, name)
		}
	}
}

func TestProfileShowWithoutANameIsAUsageError(t *testing.T) {
	out, code := runOnce(t, "profile", "show")
	if code != 2 || !strings.Contains(out, "profile show needs 1 argument, got 0; usage: lab profile show NAME") {
		t.Errorf("got exit %d and %q, want exit 2 naming the missing argument", code, out)
	}
}
