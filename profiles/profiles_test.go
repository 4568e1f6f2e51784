package profiles_test

import (
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/profiles"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var readDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// checkSource reports what is wrong with one field's source.
func checkSource(t *testing.T, where string, s profiles.Source) {
	t.Helper()
	u, err := url.Parse(s.URL)
	if s.URL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		t.Errorf("%s: source URL %q is not an http(s) address", where, s.URL)
	}
	if !readDate.MatchString(s.Read) {
		t.Errorf("%s: read date %q, want YYYY-MM-DD", where, s.Read)
	}
	switch s.Status {
	case profiles.Documented, profiles.Observed, profiles.Assumed:
	default:
		t.Errorf("%s: status %q, want documented, observed or assumed", where, s.Status)
	}
	if s.Status != profiles.Documented && strings.TrimSpace(s.Note) == "" {
		t.Errorf("%s: %s value has no note saying how it was measured or what was assumed", where, s.Status)
	}
}

// walkValues calls f for every sourced field of v (a Profile or a nested
// struct of Values), named by its Go path.
func walkValues(v reflect.Value, path string, f func(string, profiles.Source)) {
	if src := v.FieldByName("Source"); src.IsValid() && src.Type() == reflect.TypeFor[profiles.Source]() {
		f(path, src.Interface().(profiles.Source))
		return
	}
	for i := range v.NumField() {
		fv, ft := v.Field(i), v.Type().Field(i)
		if fv.Kind() == reflect.Struct {
			walkValues(fv, path+"."+ft.Name, f)
		}
	}
}

func TestEveryFieldOfEveryProfileHasASource(t *testing.T) {
	for _, p := range profiles.List() {
		n := 0
		walkValues(reflect.ValueOf(p), p.Name, func(path string, s profiles.Source) {
			n++
			checkSource(t, path, s)
		})
		if n < 20 {
			t.Errorf("%s: found %d sourced fields, want every field of Profile (at least 20)", p.Name, n)
		}
		for _, f := range p.Fields() {
			if f.Value == "" {
				t.Errorf("%s.%s: empty value, want a value or \"none\"", p.Name, f.Key)
			}
			checkSource(t, p.Name+"."+f.Key, f.Source)
		}
	}
}

func TestProfileNamesAreUniqueAndCoverTheIssue(t *testing.T) {
	want := []string{"aws-alb", "ali-alb", "gcp-lb", "cloudflare", "aws-nlb", "nginx-default",
		"haproxy-default", "caddy-default", "azure-app-gateway", "heroku", "aws-api-gateway"}
	got := profiles.Names()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got names %v, want %v", got, want)
	}
	seen := map[string]bool{}
	for _, p := range profiles.List() {
		if seen[p.Name] {
			t.Errorf("profile name %q appears twice", p.Name)
		}
		seen[p.Name] = true
		if p.Title == "" || p.Vendor == "" {
			t.Errorf("%s: title %q vendor %q, want both set", p.Name, p.Title, p.Vendor)
		}
	}
}

func TestGetReturnsTheProfileByName(t *testing.T) {
	p, err := profiles.Get("heroku")
	if err != nil || p.Name != "heroku" {
		t.Fatalf("Get(heroku): got %q, %v; want the heroku profile", p.Name, err)
	}
}

func TestGetNamesTheKnownProfilesWhenTheNameIsUnknown(t *testing.T) {
	_, err := profiles.Get("aws-elb")
	if !errors.Is(err, profiles.ErrUnknown) {
		t.Fatalf("got %v, want ErrUnknown", err)
	}
	for _, name := range profiles.Names() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
	_, err = profiles.Get("AWS-ALB")
	if err == nil || !strings.Contains(err.Error(), `did you mean "aws-alb"`) {
		t.Errorf("got %v, want a hint naming aws-alb", err)
	}
}

func TestAChangedProfileDoesNotChangeTheTable(t *testing.T) {
	p, _ := profiles.Get("aws-alb")
	p.IdleTimeout.V = time.Hour
	again, _ := profiles.Get("aws-alb")
	if again.IdleTimeout.V != 60*time.Second {
		t.Errorf("got idle timeout %v after changing a copy, want 60s", again.IdleTimeout.V)
	}
}

func TestTheBrowserCloseCodeFollowsTheCut(t *testing.T) {
	tests := []struct {
		name string
		cut  profiles.Cut
		want int
	}{
		{"a close frame reports its own code", profiles.Cut{Kind: profiles.CloseFrame, Code: 1001}, 1001},
		{"a FIN without a close frame is abnormal", profiles.Cut{Kind: profiles.FIN}, 1006},
		{"a reset is abnormal", profiles.Cut{Kind: profiles.Reset}, 1006},
		{"a connection never cut has no code", profiles.Cut{Kind: profiles.NeverCut}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cut.BrowserCode(); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDurationsReadAsPeopleWriteThem(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "none"}, {profiles.Forever, "until the connections end"}, {60 * time.Second, "60s"},
		{350 * time.Second, "350s"}, {300 * time.Second, "300s"}, {4 * time.Minute, "240s"}, {10 * time.Minute, "10m"},
		{6000 * time.Second, "6000s"}, {2 * time.Hour, "2h"}, {1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		if got := profiles.Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}
