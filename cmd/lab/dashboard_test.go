package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wslab/wslab/internal/browsertest"
)

// TestDashboard drives the dashboard of lab up --nodes 3 in Chromium: three
// healthy cards, six test clients spread 2/2/2, a kill turns a card
// unhealthy and empties it while the timeline shows the kill and the
// reconnects, a bad config shows its error beside the field, a good one
// bumps the generation while open connections keep theirs. Any console
// error fails the test.
func TestDashboard(t *testing.T) {
	b := browsertest.New(t)
	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	writeFile(t, cfg, fastChecks)
	u := startUpForPage(t, "--nodes", "3", "--config", cfg)
	p := b.Open("dashboard", u.admin+"/")
	p.WaitFor(`document.querySelectorAll("#cards .card.healthy").length === 3`)
	p.WaitFor(`document.getElementById("stream").textContent === "live"`)

	p.Click("open-testers")
	p.WaitFor(`document.getElementById("testers").textContent === "3 test clients"`)
	p.Click("open-testers")
	active := `["node-1","node-2","node-3"].map(function (n) { return document.getElementById("card-" + n).dataset.active; }).join("/")`
	p.WaitFor(active + ` === "2/2/2"`)
	p.WaitFor(`/^\d+s$/.test(document.querySelector("#conns td.age").textContent)`)
	p.WaitFor(`/^\d+s \/ 1m0s$/.test(document.querySelector("#conns td.idle").textContent)`)
	p.WaitFor(`document.querySelector("#conns td.backlog").textContent === "0 B"`)
	p.Screenshot("testdata/screenshots", "dashboard-2-2-2")

	browsertest.ClickIn(p, "#card-node-2", "kill")
	p.WaitFor(`document.getElementById("card-node-2").className === "card unhealthy"`)
	p.WaitFor(`document.getElementById("card-node-2").dataset.active === "0"`)
	p.WaitText("timeline", "fault: kill")
	p.WaitText("timeline", "closed: BACKEND_")
	// The two testers of node-2 reconnect to the survivors: 6 connections again.
	p.WaitFor(`document.getElementById("conn-total").textContent === "6"`)
	p.Screenshot("testdata/screenshots", "dashboard-after-kill")

	browsertest.SetValue(p, "f-idle", "5000s")
	p.Click("apply-form")
	p.WaitFor(`document.querySelector('.field-error[data-field="listener.idle_timeout"]').textContent.includes("out of range")`)
	if g := browsertest.Eval[string](p, `document.getElementById("generation").textContent`); g != "1" {
		t.Fatalf("generation %s after a rejected config, want 1", g)
	}
	browsertest.SetValue(p, "f-idle", "45s")
	p.Click("apply-form")
	p.WaitFor(`document.getElementById("generation").textContent === "2"`)
	p.WaitFor(`document.getElementById("config-result").textContent === "generation 2 applied"`)
	p.WaitFor(`document.querySelector('.field-error[data-field="listener.idle_timeout"]').textContent === ""`)
	// Connections opened before the reload keep their generation.
	p.WaitFor(`Array.from(document.querySelectorAll("#conns .gen")).some(function (g) { return g.textContent === "gen 1"; })`)
	p.Screenshot("testdata/screenshots", "dashboard-generation-2")
	// The page closes before the lab stops (cleanups run last first).
}

// TestDashboardWith2000Connections: with 2,000 connections held open the
// dashboard shows the total and the per-node aggregate, draws at most 50
// rows, and still answers a click.
func TestDashboardWith2000Connections(t *testing.T) {
	b := browsertest.New(t)
	u := startUpForPage(t)
	hold := run(t, "load", "--url", u.balancer+"/ws", "--mode", "hold", "--conns", "2000", "--ramp", "64", "--duration", "60s")
	hold.waitLine(`open 2000 `)
	p := b.Open("dashboard", u.admin+"/")
	p.WaitFor(`document.getElementById("conn-total").textContent === "2000"`)
	p.WaitFor(`document.getElementById("card-node-1").dataset.active === "1000" && document.getElementById("card-node-2").dataset.active === "1000"`)
	if rows := browsertest.Eval[int](p, `document.querySelectorAll("#conns tbody tr").length`); rows != 50 {
		t.Fatalf("%d connection rows drawn, want the 50 oldest", rows)
	}
	p.WaitFor(`document.getElementById("conn-more").textContent.startsWith("… and 1950 more")`)
	p.Click("open-testers")
	p.WaitFor(`document.getElementById("conn-total").textContent === "2003"`)
	p.Screenshot("testdata/screenshots", "dashboard-2000")
}

// TestDashboardShowsWhatHappenedBeforeItOpened: the timeline starts with
// the events the lab kept, worded as the terminal words them, not empty
// and not "node-1 node.stopped killed".
func TestDashboardShowsWhatHappenedBeforeItOpened(t *testing.T) {
	b := browsertest.New(t)
	u := startUpForPage(t)
	if out, code := u.ctl(t, "node", "node-1", "kill"); code != 0 {
		t.Fatalf("kill: exit %d, %q", code, out)
	}
	p := b.Open("dashboard", u.admin+"/")
	p.WaitText("timeline", "node-1  stopped listening: killed, its connections dropped without a close frame")
	p.WaitText("timeline", "node-1  fault: kill")
	p.WaitText("timeline", "balancer  config generation 1 applied")
	if text := browsertest.Eval[string](p, `document.getElementById("timeline").textContent`); strings.Contains(text, "node.stopped") || strings.Contains(text, "node.fault") {
		t.Fatalf("timeline: got %q, want no raw kinds", text)
	}
	if out, code := u.ctl(t, "node", "node-1", "start"); code != 0 {
		t.Fatalf("start: exit %d, %q", code, out)
	}
	p.WaitText("timeline", "node-1  started, listening on")
	p.Screenshot("testdata/screenshots", "dashboard-history")
}

// TestDashboardStopsItsTestClients: "Stop test clients" is enabled only
// while some are open, and closes them all.
func TestDashboardStopsItsTestClients(t *testing.T) {
	b := browsertest.New(t)
	u := startUpForPage(t)
	p := b.Open("dashboard", u.admin+"/")
	p.WaitFor(`document.getElementById("stream").textContent === "live"`)
	if !browsertest.Eval[bool](p, `document.getElementById("stop-testers").disabled`) {
		t.Fatal("stop button enabled with no test clients open, want disabled")
	}
	p.Click("open-testers")
	p.WaitFor(`document.getElementById("testers").textContent === "3 test clients"`)
	p.WaitFor(`document.getElementById("conn-total").textContent === "3"`)
	p.WaitFor(`!document.getElementById("stop-testers").disabled`)
	p.Click("stop-testers")
	p.WaitText("timeline", "stopped 3 test clients")
	p.WaitFor(`document.getElementById("testers").textContent === ""`)
	p.WaitFor(`document.getElementById("conn-total").textContent === "0"`)
	p.WaitFor(`document.getElementById("stop-testers").disabled`)
	if st := u.status(t); st.Testers != 0 {
		t.Fatalf("status after stop: got %d testers, want 0", st.Testers)
	}
	p.Screenshot("testdata/screenshots", "dashboard-testers-stopped")
}
