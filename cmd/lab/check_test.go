package main_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wslab/wslab/profiles"
)

// The second is what a user waits on an idle machine. It is measured as
// the CPU time the lab process spent (user + system, its start included),
// not as wall time: check neither sleeps nor waits for I/O, so on an idle
// machine the two agree, while on a loaded one (CI, other tests in
// parallel) wall time counts the time the process stood in the run queue.
func TestCheckPrintsOneRowPerProfileInUnderASecond(t *testing.T) {
	out, code, cpu := runOnceCPU(t, "check", "--heartbeat", "25s", "--lifetime", "2h")
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, out)
	}
	if cpu > time.Second {
		t.Errorf("lab check used %s of CPU, want under 1s", cpu)
	}
	t.Logf("lab check used %s of CPU", cpu)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`PROFILE\s+SURVIVES\s+CUT AT\s+BY\s+CLIENT SEES\s+SETTING TO CHANGE`),
		regexp.MustCompile(`(?m)^aws-alb\s+yes\s+-`),
		regexp.MustCompile(`(?m)^gcp-lb\s+no\s+30s\s+max_lifetime\s+FIN, no close frame \(browser: 1006\)\s+max_lifetime: raise it to 2h`),
		regexp.MustCompile(`(?m)^aws-nlb\s+yes`),
	} {
		if !want.MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
	if got := strings.Count(out, "\n"); got != len(profiles.List())+3 {
		t.Errorf("got %d lines, want the pattern, a blank line, the header and one per profile:\n%s", got, out)
	}
}

func TestCheckJSONSaysWhatCutsAClientThatOnlyPings(t *testing.T) {
	out, code := runOnce(t, "check", "--heartbeat", "50s", "--from", "client", "--ping", "--lifetime", "1h",
		"--profile", "aws-api-gateway,aws-alb", "--json")
	if code != 0 {
		t.Fatalf("exit %d, want 0: %s", code, out)
	}
	var rows []struct {
		Profile     string `json:"profile"`
		Survives    bool   `json:"survives"`
		CutAt       string `json:"cut_at"`
		By          string `json:"cut_by"`
		BrowserCode int    `json:"browser_close_code"`
		Change      string `json:"change"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want the 2 profiles asked for:\n%s", len(rows), out)
	}
	gw, alb := rows[0], rows[1]
	if gw.Survives || gw.CutAt != "10m" || gw.By != "idle_timeout" || gw.BrowserCode != 1001 || !strings.Contains(gw.Change, "send the heartbeat as a message") {
		t.Errorf("aws-api-gateway: got %+v, want cut at 10m by idle_timeout with a 1001, and advice to send messages", gw)
	}
	if !alb.Survives {
		t.Errorf("aws-alb: got %+v, want it to survive (pings count)", alb)
	}
}

func TestCheckAndUpRefuseBadFlagsNamingTheFlagAndTheFix(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--profile", "aws-elb"}, `--profile: unknown profile "aws-elb": known profiles: aws-alb`},
		{[]string{"up", "--profile", "aws-elb"}, `--profile: unknown profile "aws-elb": known profiles: aws-alb`},
		{[]string{"up", "--stickiness", "cookie"}, `--stickiness: "cookie" is not lb_cookie, app_cookie, source_ip or none`},
		{[]string{"check", "--from", "server"}, `--from "server" is not client, backend or both`},
		{[]string{"check", "--lifetime", "0s"}, `--lifetime 0s must be positive`},
	} {
		out, code := runOnce(t, tt.args...)
		if code != 2 || !strings.Contains(out, tt.want) {
			t.Errorf("lab %s: exit %d, %q; want exit 2 saying %q", strings.Join(tt.args, " "), code, out, tt.want)
		}
	}
}

func TestUpWithAProfileNamesItAndKeepsTheValuesTheUserSet(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	p := run(t, "up", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--node-port", "0", "--nodes", "1",
		"--config", cfg, "--profile", "aws-alb", "--idle-timeout", "90s")
	// The line says so, or waitLine fails the test when the wait is over.
	p.waitLine(`^  balancer\s+\S+\s+chat page \S+\s+\(profile aws-alb, round_robin, idle timeout 1m30s, generation 1\)`)
}
