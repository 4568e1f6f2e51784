package main_test

import (
	"strings"
	"testing"

	"github.com/wslab/wslab/internal/browsertest"
)

// The dashboard's overview (routes, stickiness), close reasons per backend
// and fault links; any console error fails them (browsertest).

// TestDashboardBreaksClosedTunnelsDownPerBackend: each card says why its
// own tunnels closed; a kill of node-1 shows on node-1's card only.
func TestDashboardBreaksClosedTunnelsDownPerBackend(t *testing.T) {
	_, p := openDashboard(t)
	if got := stat(p, "node-1", "closed"); got != "none yet" {
		t.Fatalf("node-1 closed before any tunnel: got %q, want none yet", got)
	}
	p.Click("open-testers")
	p.WaitFor(`document.getElementById("conn-total").textContent === "3"`)
	browsertest.ClickIn(p, "#card-node-1", "kill")
	// A kill closes each tunnel with a FIN or a reset, as the kernel
	// hangs up on it: one of each is as right as two of one.
	p.WaitFor(`/^backend_(fin|reset) [12]( · backend_(fin|reset) 1)?$/.test(document.querySelector('#card-node-1 dd[data-stat="closed"]').textContent)`)
	if got := stat(p, "node-2", "closed"); got != "none yet" {
		t.Fatalf("node-2 after node-1's kill: got %q, want none yet", got)
	}
	p.Click("stop-testers")
	// Test clients close as closed tabs do: a close frame from the client.
	p.WaitFor(`/^client_close_frame [1-9]\d*$/.test(document.querySelector('#card-node-2 dd[data-stat="closed"]').textContent)`)
	p.WaitFor(`/by close frame: .*client 10\d\d [1-9]/.test(document.getElementById("closed").textContent)`)
	p.Screenshot("testdata/screenshots", "dashboard-closed-per-backend")
}

// TestDashboardOverviewListsRoutesAndTheStickinessInForce: a row per
// entry point with its rule, the server group (policy, stickiness, idle
// timeout) and its servers with their addresses and state.
func TestDashboardOverviewListsRoutesAndTheStickinessInForce(t *testing.T) {
	u, p := openDashboard(t, "--stickiness", "lb_cookie", "--policy", "least_conn")
	if got := browsertest.Eval[string](p, `document.getElementById("sticky").textContent`); got != "lb_cookie (the balancer's cookie, 24h0m0s)" {
		t.Errorf("overview stickiness: got %q, want lb_cookie and its duration", got)
	}
	row := browsertest.Eval[string](p, `Array.from(document.querySelectorAll("#routes tbody tr td")).map(function (td) { return td.textContent; }).join(" | ")`)
	want := "http " + strings.TrimPrefix(u.balancer, "http://") + " | every path: WebSocket upgrades and plain HTTP | " +
		"server group · least_conn · stickiness lb_cookie (the balancer's cookie, 24h0m0s) · idle timeout 1m0s | " +
		"node-1 " + u.nodes[0] + " · healthy\nnode-2 " + u.nodes[1] + " · healthy"
	if row != want {
		t.Fatalf("routes: got\n%q\nwant\n%q", row, want)
	}
	browsertest.ClickIn(p, "#card-node-1", "kill")
	p.WaitFor(`document.querySelector("#routes td.servers").textContent.includes("node-1 ` + u.nodes[0] + ` · unhealthy")`)
	if !browsertest.Eval[bool](p, `document.getElementById("links").hidden && !document.getElementById("no-links").hidden`) {
		t.Error("a lab without links: want the links table hidden and the note that says how to get them")
	}
	p.Screenshot("testdata/screenshots", "dashboard-routes")
}

// link is the JavaScript for a link's row, or its form's row.
func link(name, row string) string {
	return `document.querySelector('#links tr.` + row + `[data-link="` + name + `"]')`
}

// TestDashboardSetsAndClearsTheFaultsOfALink: the links table lists every
// hop; a link's form sets latency, jitter and a black hole (a bad value is
// answered beside the form), the timeline says so, Clear takes them off,
// and only the client link can drop its NAT mappings.
func TestDashboardSetsAndClearsTheFaultsOfALink(t *testing.T) {
	_, p := openDashboard(t, "--links=127.0.0.1:0")
	p.WaitFor(`!document.getElementById("links").hidden`)
	names := browsertest.Eval[string](p, `Array.from(document.querySelectorAll("#links tr.link")).map(function (r) { return r.children[0].textContent + " " + r.children[6].textContent; }).join(", ")`)
	if names != "client (clients) none, node-1 none, node-2 none" {
		t.Fatalf("links: got %q, want client, node-1 and node-2 without faults", names)
	}
	if got := browsertest.Eval[string](p, `Array.from(`+link("node-1", "link")+`.querySelectorAll("button")).map(function (b) { return b.textContent + (b.disabled ? " (off)" : ""); }).join(", ")`); !strings.HasPrefix(got, "Faults…, Clear (off), Reset") || strings.Contains(got, "NAT") {
		t.Fatalf("node-1's buttons: got %q, want Faults…, Clear off with nothing to clear, Reset, and no NAT drop", got)
	}
	if !browsertest.Eval[bool](p, link("client", "link")+`.textContent.includes("NAT drop")`) {
		t.Fatal("the client link has no NAT drop button")
	}
	form := link("node-1", "link-form")
	browsertest.ClickIn(p, `#links tr.link[data-link="node-1"]`, "Faults…")
	p.WaitFor(`!` + form + `.hidden`)
	set := func(name, value string) {
		t.Helper()
		browsertest.Eval[bool](p, `(`+form+`.querySelector('[name="`+name+`"]').value = "`+value+`", true)`)
	}
	set("latency", "fast")
	browsertest.ClickIn(p, `#links tr.link-form[data-link="node-1"]`, "Apply")
	p.WaitFor(form + `.querySelector(".link-error").textContent === 'latency: "fast" is not a duration: write it like 300ms or 2s (0 or empty: none)'`)
	set("latency", "200ms")
	set("jitter", "20ms")
	set("direction", "up")
	browsertest.Eval[bool](p, `(`+form+`.querySelector('[name="black_hole"]').checked = true, true)`)
	browsertest.ClickIn(p, `#links tr.link-form[data-link="node-1"]`, "Apply")
	p.WaitFor(form + `.hidden`)
	p.WaitFor(link("node-1", "link") + `.children[6].textContent === "up latency 200ms±20ms, black hole"`)
	p.WaitFor(`Array.from(document.querySelectorAll("#timeline li.bad")).some(function (li) { return li.textContent.includes("link node-1") && li.textContent.includes("black hole"); })`)
	browsertest.ClickIn(p, `#links tr.link[data-link="node-1"]`, "Clear")
	p.WaitFor(link("node-1", "link") + `.children[6].textContent === "none"`)
	p.WaitFor(`Array.from(document.querySelectorAll("#timeline li.good")).some(function (li) { return li.textContent.includes("link node-1"); })`)
	p.Screenshot("testdata/screenshots", "dashboard-links")
}

// TestDashboardChartsTheTimeBackendsTakeToAnswerUpgrades: 100ms of
// latency each way on node-1's link shows as node-1 answering upgrades in
// 200ms or more, on the chart (axes in ms) and on its card; node-2 stays
// under that.
func TestDashboardChartsTheTimeBackendsTakeToAnswerUpgrades(t *testing.T) {
	u, p := openDashboard(t, "--links=127.0.0.1:0")
	if out, code := u.ctl(t, "link", "node-1", "latency", "100ms"); code != 0 {
		t.Fatalf("latency: exit %d, %q", code, out)
	}
	p.Click("open-testers")
	p.WaitFor(`document.getElementById("conn-total").textContent === "3"`)
	p.WaitFor(`Array.from(document.querySelectorAll('#chart-wait circle[data-backend="node-1"]')).some(function (c) { return +c.dataset.value >= 200; })`)
	p.WaitFor(`document.querySelectorAll('#chart-wait circle[data-backend="node-2"]').length > 0`)
	if got := browsertest.Eval[string](p, `Array.from(document.querySelectorAll('#chart-wait circle[data-backend="node-2"]')).map(function (c) { return c.dataset.value; }).join(" ")`); !regexpMatch(`^((1\d\d|\d{1,2}) ?)+$`, got) {
		t.Fatalf("node-2's answer times: got %q ms, want each under the 200 ms node-1's link adds", got)
	}
	ticks := browsertest.Eval[string](p, `Array.from(document.querySelectorAll("#chart-wait .tick")).map(function (e) { return e.textContent; }).join(" ")`)
	if !regexpMatch(`^0 ms \d+ ms \d+ ms \d+ ms \d+ ms now −1 min −2 min −3 min −4 min −5 min$`, ticks) {
		t.Fatalf("answer-time axes: got %q", ticks)
	}
	if got := stat(p, "node-1", "answer"); !regexpMatch(`^([2-9]\d\d|\d{4,}) ms mean of [1-9] upgrades?$`, got) {
		t.Fatalf("node-1's answer time: got %q, want 200 ms or more", got)
	}
	p.Screenshot("testdata/screenshots", "dashboard-answer-time")
}
