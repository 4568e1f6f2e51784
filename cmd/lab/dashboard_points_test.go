package main_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/fsnotify/fsnotify"

	"github.com/wslab/wslab/balancer"
	"github.com/wslab/wslab/internal/browsertest"
)

// The dashboard points of issue 20, one test each, on page content; any
// console error fails them (browsertest).

// openDashboard starts lab up with fast health checks and args, and opens
// its dashboard once it is live.
func openDashboard(t *testing.T, args ...string) (*upLab, *browsertest.Page) {
	t.Helper()
	b := browsertest.New(t)
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	u := startUpForPage(t, append([]string{"--config", cfg}, args...)...)
	p := b.Open("dashboard", u.admin+"/")
	p.WaitFor(`document.getElementById("stream").textContent === "live"`)
	p.WaitFor(`document.querySelectorAll("#cards .card.healthy").length === 2`)
	return u, p
}

// button is the JavaScript for a card's button.
func button(node, action string) string {
	return `document.querySelector("#card-` + node + ` button[data-action=` + action + `]")`
}

// enabled lists the card's buttons that are enabled, in order.
func enabled(p *browsertest.Page, node string) string {
	return browsertest.Eval[string](p, `Array.from(document.querySelectorAll("#card-`+node+` .buttons button")).filter(function (b) { return !b.disabled; }).map(function (b) { return b.dataset.action; }).join(" ")`)
}

func TestDashboardNodeButtonsAreEnabledOnlyWhenTheyApply(t *testing.T) {
	_, p := openDashboard(t)
	if got := enabled(p, "node-1"); got != "kill stop hang slow restart" {
		t.Fatalf("a running node: got %q enabled, want every fault but start", got)
	}
	if got := browsertest.Eval[string](p, button("node-1", "start")+`.title`); got != "node-1 is running with no fault" {
		t.Fatalf("start's title on a running node: got %q, want why it is disabled", got)
	}
	browsertest.ClickIn(p, "#card-node-1", "kill")
	p.WaitFor(button("node-1", "kill") + `.disabled`)
	if got := enabled(p, "node-1"); got != "start" {
		t.Fatalf("a killed node: got %q enabled, want start only", got)
	}
	if got := browsertest.Eval[string](p, button("node-1", "stop")+`.title`); got != "node-1 is down: start it first" {
		t.Fatalf("stop's title on a killed node: got %q", got)
	}
	browsertest.ClickIn(p, "#card-node-1", "start")
	p.WaitFor(button("node-1", "start") + `.disabled`)
	browsertest.ClickIn(p, "#card-node-2", "hang")
	p.WaitFor(button("node-2", "hang") + `.disabled`)
	if got := enabled(p, "node-2"); got != "kill stop slow start restart" {
		t.Fatalf("a hung node: got %q enabled, want all but hang", got)
	}
	p.Screenshot("testdata/screenshots", "dashboard-buttons")
}

func TestDashboardSlowsANodeThroughAFormNotAPrompt(t *testing.T) {
	_, p := openDashboard(t)
	browsertest.Eval[bool](p, `(window.prompt = function () { window.prompted = true; return "2s"; }, true)`)
	form := `document.querySelector("#card-node-1 form.slow")`
	if !browsertest.Eval[bool](p, form+`.hidden`) {
		t.Fatal("the slow form shows before slow is clicked")
	}
	browsertest.ClickIn(p, "#card-node-1 .buttons", "slow")
	p.WaitFor(`!` + form + `.hidden && ` + form + `.querySelector("input").value === "2s"`)
	browsertest.Eval[bool](p, `(`+form+`.querySelector("input").value = "fast", true)`)
	browsertest.ClickIn(p, "#card-node-1 form.slow", "Apply")
	p.WaitFor(form + `.querySelector(".slow-error").textContent === '"fast" is not a duration: write it like 2s or 500ms (0 clears)'`)
	browsertest.Eval[bool](p, `(`+form+`.querySelector("input").value = "250ms", true)`)
	browsertest.ClickIn(p, "#card-node-1 form.slow", "Apply")
	p.WaitFor(form + `.hidden`)
	p.WaitFor(`document.querySelector("#card-node-1 .meta").textContent.includes("slow 250ms")`)
	p.WaitFor(`!` + button("node-1", "start") + `.disabled`) // start clears it
	if browsertest.Eval[bool](p, `!!window.prompted`) {
		t.Fatal("window.prompt was called, want the card's form only")
	}
	p.Screenshot("testdata/screenshots", "dashboard-slow")
}

func TestDashboardLegendSaysWhatTheColoursOfTheTimelineMean(t *testing.T) {
	_, p := openDashboard(t)
	legend := browsertest.Eval[string](p, `Array.from(document.querySelectorAll("#legend .legend-item")).map(function (i) { return i.className + ": " + i.textContent; }).join("\n")`)
	want := "legend-item bad: faults, nodes down, unhealthy, failed dials, rejected configs, Redis unreachable\n" +
		"legend-item good: recoveries: faults cleared, nodes started, healthy again, configs applied, Redis back\n" +
		"legend-item plain: connections, health checks, deregistration lag, draining"
	if legend != want {
		t.Fatalf("legend: got\n%s\nwant\n%s", legend, want)
	}
	browsertest.ClickIn(p, "#card-node-1", "kill")
	line := func(text string) string {
		return `Array.from(document.querySelectorAll("#timeline li")).find(function (li) { return li.textContent.includes(` + "`" + text + "`" + `); })`
	}
	p.WaitFor(line("node-1  fault: kill") + `?.className === "bad"`)
	p.WaitFor(line("node-1  stopped listening: killed") + `?.className === "bad"`)
	browsertest.ClickIn(p, "#card-node-1", "start")
	p.WaitFor(line("node-1  started, listening on") + `?.className === "good"`)
	p.WaitFor(line("config generation 1 applied") + `?.className === "good"`)
	p.Screenshot("testdata/screenshots", "dashboard-legend")
}

func TestDashboardOverviewLineNamesListenerProfilePolicyAndStickiness(t *testing.T) {
	u, p := openDashboard(t, "--profile", "aws-alb", "--policy", "source_hash")
	text := func(id string) string {
		return browsertest.Eval[string](p, `document.getElementById("`+id+`").textContent`)
	}
	want := map[string]string{"listener": u.balancer[len("http://"):], "profile": "aws-alb", "policy": "source_hash",
		"sticky": "by client address", "healthy": "2 of 2 healthy", "generation": "1"}
	for id, w := range want {
		if got := text(id); got != w {
			t.Errorf("overview %s: got %q, want %q", id, got, w)
		}
	}
	if !browsertest.Eval[bool](p, `document.getElementById("o-tls").hidden`) {
		t.Error("overview shows a TLS listener the lab does not have")
	}
	browsertest.ClickIn(p, "#card-node-1", "kill")
	p.WaitFor(`document.getElementById("healthy").textContent === "1 of 2 healthy"`)
	p.Screenshot("testdata/screenshots", "dashboard-overview")
}

// From the form a problem shows beside its field without a line number;
// from the YAML editor it shows with the editor's line, and a click
// selects that line.
func TestDashboardConfigErrorsPointAtTheirFieldAndLine(t *testing.T) {
	_, p := openDashboard(t)
	browsertest.SetValue(p, "f-dereg", "-1s")
	p.Click("apply-form")
	p.WaitFor(`document.querySelector('#config-form .field-error[data-field="server_group.deregistration_delay"]').textContent === "-1s is out of range 0s-3600s"`)
	if got := browsertest.Eval[string](p, `document.getElementById("config-form").textContent`); !regexpMatch(`rejected: generation 1 keeps serving`, got) || regexpMatch(`line \d`, got) {
		t.Fatalf("form after a rejected value: got %q, want rejected and no line number", got)
	}
	p.Click("raw") // opens the YAML editor
	browsertest.SetValue(p, "config-yaml", "listener:\n  idle_timeout: 30s\nserver_group:\n  policy: fastest\n")
	p.Click("apply-yaml")
	p.WaitFor(`document.querySelector("#yaml-errors li")?.textContent.startsWith("line 4: server_group.policy: ")`)
	browsertest.Eval[bool](p, `(document.querySelector("#yaml-errors li").click(), true)`)
	sel := browsertest.Eval[string](p, `(function () { var t = document.getElementById("config-yaml"); return t.value.slice(t.selectionStart, t.selectionEnd); })()`)
	if sel != "  policy: fastest" {
		t.Fatalf("clicking the problem selected %q, want line 4, %q", sel, "  policy: fastest")
	}
	p.Screenshot("testdata/screenshots", "dashboard-config-errors")
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// stat is the text of a card's figure.
func stat(p *browsertest.Page, node, name string) string {
	return browsertest.Eval[string](p, `document.querySelector('#card-`+node+` dd[data-stat="`+name+`"]').textContent`)
}

// TestDashboardCardsShowSessionsRateTrafficWeightAndTimeInState: each
// card says what its numbers are (sessions now, max and total; rate;
// bytes in and out; weight; time in state; failures, each explained on
// hover), and the connections section breaks closed tunnels down by
// reason.
func TestDashboardCardsShowSessionsRateTrafficWeightAndTimeInState(t *testing.T) {
	_, p := openDashboard(t)
	labels := browsertest.Eval[string](p, `Array.from(document.querySelectorAll("#card-node-1 dl.stats dt")).map(function (d) { return d.textContent; }).join(", ")`)
	if labels != "sessions, rate, traffic, weight, in state, failures, closed, answer" {
		t.Fatalf("card figures: got %q", labels)
	}
	if tip := browsertest.Eval[string](p, `document.querySelector('#card-node-1 dd[data-stat="failures"]').title`); !regexpMatch(`dials to it that failed`, tip) {
		t.Fatalf("failures' explanation: got %q", tip)
	}
	p.Click("open-testers")
	p.WaitFor(`document.getElementById("conn-total").textContent === "3"`)
	p.WaitFor(`/^[12] now · max [12] · [12] total$/.test(document.querySelector('#card-node-1 dd[data-stat="sessions"]').textContent)`)
	p.WaitFor(`/^in [1-9]\d* B · out [1-9]/.test(document.querySelector('#card-node-1 dd[data-stat="traffic"]').textContent)`)
	if got := stat(p, "node-1", "weight"); got != "1" {
		t.Fatalf("weight: got %q, want 1", got)
	}
	p.WaitFor(`/^healthy for (≥ )?\d+s$/.test(document.querySelector('#card-node-1 dd[data-stat="in state"]').textContent)`)
	browsertest.ClickIn(p, "#card-node-1", "kill")
	// The health event gives the time exactly: no "≥".
	p.WaitFor(`/^unhealthy for \d+s$/.test(document.querySelector('#card-node-1 dd[data-stat="in state"]').textContent)`)
	p.WaitFor(`/closed since start: .*backend_(fin|reset) [1-9]/.test(document.getElementById("closed").textContent)`)
	p.WaitFor(`/^[1-9]\d*\/s · max [1-9]\d*\/s$/.test(document.querySelector('#card-node-2 dd[data-stat="rate"]').textContent) || /max [1-9]/.test(document.querySelector('#card-node-2 dd[data-stat="rate"]').textContent)`)
	p.Screenshot("testdata/screenshots", "dashboard-cards")
}

// TestDashboardChartsConnectionsWithAxes: the connections over the last
// five minutes, a line per backend, with the count on one axis, the time
// on the other and a legend; each card's sparkline says its scale.
func TestDashboardChartsConnectionsWithAxes(t *testing.T) {
	_, p := openDashboard(t)
	p.Click("open-testers")
	p.WaitFor(`document.getElementById("conn-total").textContent === "3"`)
	p.WaitFor(`document.querySelectorAll("#chart polyline.series").length === 2`)
	p.WaitFor(`document.querySelector('#chart polyline[data-backend="node-1"]').getAttribute("points").split(" ").length >= 2`)
	got := browsertest.Eval[string](p, `[
		Array.from(document.querySelectorAll("#chart .tick.y")).map(function (e) { return e.textContent; }).join(" "),
		Array.from(document.querySelectorAll("#chart .tick.x")).map(function (e) { return e.textContent; }).join(" "),
		document.getElementById("chart-legend").textContent
	].join(" | ")`)
	if got != "0 1 2 3 4 | now −1 min −2 min −3 min −4 min −5 min | node-1node-2" {
		t.Fatalf("chart axes and legend: got %q", got)
	}
	p.WaitFor(`/^open connections, last 60 s · top [12]$/.test(document.querySelector("#card-node-1 .spark-scale").textContent)`)
	p.Screenshot("testdata/screenshots", "dashboard-chart")
}

// TestDashboardExportsTheBackendsAsCSV: "Export CSV" downloads the cards'
// figures, a row per backend, with the upgrades each answered and their
// mean answer time, and its closed tunnels in a column per close reason.
func TestDashboardExportsTheBackendsAsCSV(t *testing.T) {
	_, p := openDashboard(t)
	dir := t.TempDir()
	p.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
		return err
	}))
	p.Click("open-testers")
	p.WaitFor(`document.getElementById("conn-total").textContent === "3"`)
	browsertest.ClickIn(p, "#card-node-1", "kill")
	p.WaitFor(`/^backend_(fin|reset) [12]( · backend_(fin|reset) 1)?$/.test(document.querySelector('#card-node-1 dd[data-stat="closed"]').textContent)`)
	p.WaitFor(`/\nnode-1,unhealthy,1,0,[12],[12],.*,[12],/.test(decodeURIComponent(document.getElementById("export").href))`)
	w := watchDownloads(t, dir)
	p.Click("export")
	rows := readCSV(t, w, filepath.Join(dir, "wslab-backends.csv"))
	want := []string{"backend", "state", "weight", "active", "max", "total", "rate_per_s", "max_rate_per_s", "bytes_in", "bytes_out", "failures", "state_since", "upgrades", "answer_ms_mean"}
	reasons := balancer.CloseReasons()
	slices.Sort(reasons)
	for _, r := range reasons {
		want = append(want, "closed_"+r)
	}
	if len(rows) != 3 || !slices.Equal(rows[0], want) {
		t.Fatalf("CSV: got %q, want a header %q and a row per backend", rows, want)
	}
	row := map[string]map[string]string{}
	for _, r := range rows[1:] {
		row[r[0]] = map[string]string{}
		for i, h := range rows[0] {
			row[r[0]][h] = r[i]
		}
	}
	n1, n2 := row["node-1"], row["node-2"]
	if n1 == nil || n2 == nil || n1["state"] != "unhealthy" || n2["state"] != "healthy" || !regexpMatch(`^\d{4}-\d\d-\d\dT`, n1["state_since"]) {
		t.Fatalf("CSV rows: got %q, want node-1 unhealthy and node-2 healthy, each with its state's start", rows[1:])
	}
	if closed := atoi(n1["closed_backend_fin"]) + atoi(n1["closed_backend_reset"]); closed != atoi(n1["total"]) || closed == 0 {
		t.Errorf("node-1's closed tunnels: got backend_fin %s + backend_reset %s, want its %s tunnels, killed", n1["closed_backend_fin"], n1["closed_backend_reset"], n1["total"])
	}
	for _, r := range reasons {
		if n2["closed_"+r] != "0" {
			t.Errorf("node-2's closed_%s: got %s, want 0 (node-1 was killed, not node-2)", r, n2["closed_"+r])
		}
	}
	// The answer time is the card's, unrounded: the mean of the upgrades
	// it answered.
	card := stat(p, "node-1", "answer")
	if n1["upgrades"] != n1["total"] || !regexpMatch(`^\d+\.\d\d$`, n1["answer_ms_mean"]) || !strings.HasSuffix(card, " mean of "+n1["upgrades"]+" upgrades") && !strings.HasSuffix(card, " mean of 1 upgrade") {
		t.Errorf("node-1's upgrades and answer time: got %s and %s ms, want its %s tunnels' and the card's %q", n1["upgrades"], n1["answer_ms_mean"], n1["total"], card)
	}
	if ms, _ := strconv.ParseFloat(n1["answer_ms_mean"], 64); !strings.HasPrefix(card, msText(ms)) {
		t.Errorf("node-1's answer time: CSV %s ms, card %q: want the same figure", n1["answer_ms_mean"], card)
	}
}

// msText is the card's way of writing a mean answer time (app.js msText).
func msText(ms float64) string {
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	}
	return strconv.Itoa(int(math.Round(ms))) + " ms"
}

// watchDownloads watches dir, where the browser saves downloads: call
// it before the click that downloads.
func watchDownloads(t *testing.T, dir string) *fsnotify.Watcher {
	t.Helper()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	return w
}

// readCSV waits until the browser has written the download at path (a
// CSV ends with a newline) and reads it.
func readCSV(t *testing.T, w *fsnotify.Watcher, path string) [][]string {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		if b, err := os.ReadFile(path); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
			if err != nil {
				t.Fatalf("%s: %v\n%s", path, err, b)
			}
			return rows
		}
		select {
		case <-w.Events:
		case err := <-w.Errors:
			t.Fatalf("watching the downloads: %v", err)
		case <-timeout:
			t.Fatalf("no download at %s after %s", path, waitFor)
		}
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
