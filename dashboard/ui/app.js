// The wslab dashboard: reads /api/status and the /api/events stream and
// draws the lab. Everything a user or a node sent is shown with textContent,
// never as HTML. With thousands of connections it draws aggregates and the
// oldest rows only.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  // What index.html's boot script began: the first status request.
  var boot = window.wslabBoot || { tokenKey: "wslab-admin-token", rows: 50 };
  var status = null, config = null;
  var history = {};            // backend -> active counts, one per second
  var waits = {};              // backend -> mean ms to answer an upgrade, one per second (null: no upgrade)
  var ROWS = boot.rows, SAMPLES = 60, CHART_SAMPLES = 300, TIMELINE = 200;
  var kinds = ["conn.opened", "conn.closed", "node.started", "node.stopped", "node.fault",
    "store.error", "store.recovered", "backend.health", "backend.check", "backend.drain",
    "backend.failure", "config.applied", "config.rejected", "store.restored", "group.health",
    "sticky.repick", "link.fault", "backend.lag", "request.timeout"]; // every events.Kinds(): dashboard_test.go checks
  var openedAt = Date.now();

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // The admin token, when the lab has one: index.html's boot script took
  // it from the URL's fragment and keeps it for this tab.
  var TOKEN_KEY = boot.tokenKey;
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  var told = false;
  function unauthorized() {
    if (told) return;
    told = true;
    note("this lab's admin API needs its token: open the dashboard URL lab up printed (it ends in #token=…)", "bad");
  }

  function send(path, opts) {
    opts = opts || {};
    opts.headers = opts.headers || {};
    if (token()) opts.headers.Authorization = "Bearer " + token();
    return fetch(path, opts).then(function (r) {
      if (r.status === 401) unauthorized();
      return r;
    });
  }

  function api(method, path, body, type) {
    var opts = { method: method, headers: {} };
    if (body !== undefined) { opts.body = body; opts.headers["Content-Type"] = type || "application/json"; }
    return send(path, opts).then(answer);
  }
  // answer is a response's JSON, or the error it says.
  function answer(r) {
    return r.text().then(function (t) { return parsed(r, t); });
  }
  function parsed(r, t) {
    var data = {};
    try { data = JSON.parse(t); } catch (e) { data = { text: t }; }
    if (!r.ok) { var err = new Error(data.error || r.statusText); err.body = data; throw err; }
    return data;
  }
  // firstStatus is the status index.html's boot script asked for (and
  // read) as the page began to load; asked again if that failed.
  function firstStatus() {
    var asked = boot.status || Promise.resolve(null);
    boot.status = null;
    return asked.then(function (r) {
      if (!r) return api("GET", "/api/status?limit=" + ROWS);
      if (r.status === 401) unauthorized();
      return parsed(r, r.text);
    });
  }

  function dur(ns) {
    var s = ns / 1e9;
    if (s < 60) return s.toFixed(0) + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + Math.floor(s % 60) + "s";
    return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m";
  }
  function parseDur(v) {   // Go durations: "60s", "1m0s", "1.5ms", "3µs" -> ns
    var re = /(\d+(?:\.\d+)?)(h|ms|m|s|µs|us|ns)/g, m, ns = 0, f = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, "µs": 1e3, us: 1e3, ns: 1 };
    while ((m = re.exec(v)) !== null) ns += parseFloat(m[1]) * f[m[2]];
    return ns;
  }

  // ---- updates ----
  // Everything live reaches the page through update(), at most once every
  // UPDATE_MS: events wait in a queue and the status is fetched once, so
  // a burst of a thousand connections costs two redraws a second, not a
  // thousand.
  var UPDATE_MS = 500, lastUpdate = 0, updateTimer = null, inFlight = false, again = false, queued = [];
  window.wslabUpdates = 0; // how many times the page was redrawn: tests read it
  // When this script began (ms from navigation start, as every mark
  // here); wslabShown: when the first status was put into the page;
  // wslabDrawn: when the frame that shows it was painted. Tests read them.
  window.wslabStart = performance.now();
  function refresh() {
    if (updateTimer) return;
    updateTimer = setTimeout(update, Math.max(0, lastUpdate + UPDATE_MS - Date.now()));
  }
  function update() {
    updateTimer = null;
    lastUpdate = Date.now();
    window.wslabUpdates++;
    flushEvents();
    if (inFlight) { again = true; return; }
    inFlight = true;
    var first = !status;
    // The status is drawn as soon as it comes; the links do not hold it up.
    Promise.all([
      (first ? firstStatus() : api("GET", "/api/status?limit=" + ROWS)).then(function (st) {
        status = st;
        // The first status is the charts' first sample: what happens
        // before the first tick of the clock is a change against it.
        if (first) sample();
        var t = performance.now();
        render();
        if (!window.wslabShown) { window.wslabShown = performance.now(); window.wslabRenderMs = window.wslabShown - t; }
      }, function () {}),
      first ? null : api("GET", "/api/links").then(renderLinks, function () {})
    ]).then(function () {
      inFlight = false;
      if (first) afterFirstPaint(rest);
      if (again) { again = false; refresh(); }
    });
  }
  // afterFirstPaint calls f once the browser has painted what is drawn:
  // a frame's callback runs before its paint, a task queued from it after.
  function afterFirstPaint(f) {
    requestAnimationFrame(function () {
      setTimeout(function () { window.wslabDrawn = window.wslabDrawn || performance.now(); f(); }, 0);
    });
  }
  // rest is what the first draw does not wait for: the links, the config
  // (a balancer's only), the history and the live events. Asked for
  // after it, so that they do not compete with it for the lab's answer
  // and the page's own time.
  var started = false;
  function rest() {
    if (started) return;
    started = true;
    api("GET", "/api/links").then(renderLinks, function () {});
    loadConfig();
    stream();
    setInterval(function () { sample(); refresh(); }, 1000);
  }

  function render() {
    var b = status.balancer;
    renderFrontDoor(status.proxy);
    if (!b) return;
    $("listener").textContent = b.listener;
    $("o-tls").hidden = !b.tls_listener;
    $("tls").textContent = b.tls_listener || "";
    $("profile").textContent = b.profile || "none";
    $("policy").textContent = b.policy;
    $("sticky").textContent = sticky(b);
    $("sticky").title = b.stickiness && b.stickiness.type !== "none" ? "since start: " + b.stickiness.hits + " followed · " +
      b.stickiness.repicks + " picked again · " + b.stickiness.new + " new cookies" : "";
    var healthy = b.backends.filter(function (be) { return be.state === "healthy"; }).length;
    $("healthy").textContent = healthy + " of " + b.backends.length + " healthy";
    $("healthy").className = healthy === b.backends.length ? "" : "warn";
    $("idle-timeout").textContent = b.idle_timeout;
    $("generation").textContent = b.generation;
    $("testers").textContent = status.testers ? status.testers + " test clients" : "";
    $("stop-testers").disabled = !status.testers;
    $("stop-testers").title = status.testers ? "close them as closed tabs do" : "no test clients are open";
    renderCards(b);
    renderRoutes(b);
    renderConns(b);
    renderClosed(b);
    renderChart();
    exportCSV(b);
  }

  function renderCards(b) {
    var cards = $("cards");
    var nodes = {};
    (status.nodes || []).forEach(function (n) { nodes[n.name] = n; });
    b.backends.forEach(function (be) {
      var id = "card-" + be.name, card = $(id);
      if (!card) {
        card = el("div", "card");
        card.id = id;
        var h = el("h3");
        h.appendChild(el("span", "name", be.name));
        h.appendChild(el("span", "state"));
        card.appendChild(h);
        card.appendChild(el("div", "active"));
        var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.setAttribute("viewBox", "0 0 " + SAMPLES + " 30");
        svg.setAttribute("preserveAspectRatio", "none");
        svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
        card.appendChild(svg);
        card.appendChild(el("div", "spark-scale"));
        card.appendChild(statsList());
        card.appendChild(el("div", "meta"));
        var buttons = el("div", "buttons");
        [["kill", "danger"], ["stop", "danger"], ["hang", "danger"], ["slow", "quiet"], ["start", ""], ["restart", "quiet"]].forEach(function (a) {
          var btn = el("button", a[1], a[0]);
          btn.type = "button";
          btn.dataset.action = a[0];
          btn.addEventListener("click", function () {
            if (a[0] === "slow") slowForm(card, be.name).toggle();
            else fault(be.name, a[0]);
          });
          buttons.appendChild(btn);
        });
        card.appendChild(buttons);
        card.appendChild(slowForm(card, be.name).form);
        cards.appendChild(card);
      }
      card.className = "card " + be.state;
      card.dataset.active = be.active;
      card.querySelector(".state").textContent = be.state;
      card.querySelector(".active").textContent = be.active;
      var n = nodes[be.name], meta = "";
      renderStats(card, be);
      card.querySelectorAll(".buttons button").forEach(function (btn) {
        var why = notApplicable(btn.dataset.action, be.name, n);
        btn.disabled = why !== "";
        btn.title = why || ACTIONS[btn.dataset.action];
      });
      if (n) {
        meta += "node " + (n.listening ? "listening" : "down");
        if (!n.kind || n.kind === "chat") meta += " · " + n.sessions + " chat sessions";
        if (n.kind === "command") meta += " · pid " + n.pid + " (" + n.processes + " processes)";
        if (n.kind === "url") meta += " · runs elsewhere";
        if (n.stopping) meta += " · stopping: health 503, serving out its stop grace";
        if (n.hung) meta += " · hung";
        if (n.slow_ns) meta += " · slow " + goDur(n.slow_ns);
        if (n.redis === "unreachable") meta += " · REDIS UNREACHABLE";
      }
      if (be.last_check) meta += (meta ? " · " : "") + "check: " + be.last_check;
      card.querySelector(".meta").textContent = meta;
      var h = (history[be.name] || []).slice(-SAMPLES), top = Math.max.apply(null, h.concat([1]));
      card.querySelector("polyline").setAttribute("points", h.map(function (v, i) {
        return (SAMPLES - h.length + i) + "," + (29 - 27 * v / top).toFixed(1);
      }).join(" "));
      card.querySelector(".spark-scale").textContent = "open connections, last 60 s · top " + top;
    });
  }

  // ---- per-backend figures, as HAProxy's stats page has them ----
  // Max and rate are what this page saw (sampled every second); time in
  // state comes from the health events when the page has them (its
  // history included), else from when the page first saw the state ("≥").
  var peak = {}, rate = {}, maxRate = {}, prevTotal = {}, since = {}, healthAt = {}, prevWait = {};
  var STATS = [
    ["sessions", "open now · the most this page saw · all since the lab started"],
    ["rate", "new connections a second, now · the most this page saw"],
    ["traffic", "in: bytes from clients to the backend · out: bytes from the backend to clients"],
    ["weight", "its share of new connections under a weighted policy"],
    ["in state", "how long it has been in its state"],
    ["failures", "dials to it that failed (refused, timed out): passive failures since the lab started"],
    ["closed", "its tunnels closed since the lab started, by why (README: close reasons)"],
    ["answer", "the time it took to answer a WebSocket upgrade with 101, from the request sent: the mean since the lab started"]
  ];
  function statsList() {
    var dl = el("dl", "stats");
    STATS.forEach(function (r) {
      var dt = el("dt", "", r[0]);
      dt.title = r[1];
      dl.appendChild(dt);
      var dd = el("dd");
      dd.dataset.stat = r[0];
      dd.title = r[1];
      dl.appendChild(dd);
    });
    return dl;
  }
  function renderStats(card, be) {
    peak[be.name] = Math.max(peak[be.name] || 0, be.active);
    var s = since[be.name], h = healthAt[be.name];
    if (h && h.state === be.state && (!s || s.state !== be.state || !s.exact)) {
      s = since[be.name] = { state: be.state, t: h.t, exact: true };
    } else if (!s || s.state !== be.state) {
      s = since[be.name] = { state: be.state, t: s ? new Date() : new Date(openedAt), exact: !!s };
    }
    var set = function (k, v) { card.querySelector('dd[data-stat="' + k + '"]').textContent = v; };
    set("sessions", be.active + " now · max " + peak[be.name] + " · " + be.total + " total");
    set("rate", (rate[be.name] || 0) + "/s · max " + (maxRate[be.name] || 0) + "/s");
    set("traffic", "in " + size(be.bytes_up) + " · out " + size(be.bytes_down));
    set("weight", String(be.weight));
    set("in state", be.state + " for " + (s.exact ? "" : "≥ ") + dur(Math.max(0, Date.now() - s.t) * 1e6));
    set("failures", String(be.failures));
    set("closed", closedText(be.closed) || "none yet");
    set("answer", be.upgrades ? msText(parseDur(be.upgrade_wait) / be.upgrades) + " mean of " + be.upgrades + (be.upgrades === 1 ? " upgrade" : " upgrades") : "no upgrades yet");
  }
  function sampleRates(b) {
    b.backends.forEach(function (be) {
      if (prevTotal[be.name] !== undefined) {
        rate[be.name] = Math.max(0, be.total - prevTotal[be.name]);
        maxRate[be.name] = Math.max(maxRate[be.name] || 0, rate[be.name]);
      }
      prevTotal[be.name] = be.total;
      // The mean answer time of the second's upgrades: the change of the
      // summed wait over the change of the count.
      var w = { n: be.upgrades, ns: parseDur(be.upgrade_wait) }, p = prevWait[be.name], ms = null;
      if (p && w.n > p.n) ms = Math.round((w.ns - p.ns) / (w.n - p.n) / 1e6);
      prevWait[be.name] = w;
      var h = waits[be.name] = waits[be.name] || [];
      h.push(ms);
      if (h.length > CHART_SAMPLES) h.shift();
    });
  }
  // The charts: each backend's open connections, and the time it took to
  // answer WebSocket upgrades, over the last five minutes (one sample a
  // second), with their axes and a legend.
  var COLORS = ["#0056b3", "#b54708", "#1a7f37", "#6941c6", "#c11574", "#0e7090", "#b42318", "#5b6675"];
  function renderChart() {
    var names = Object.keys(history).sort();
    drawChart($("chart"), names, history, String, true);
    drawChart($("chart-wait"), names, waits, function (v) { return +v.toFixed(2) + " ms"; }, false);
    [$("chart-legend"), $("chart-wait-legend")].forEach(function (legend) {
      legend.textContent = "";
      names.forEach(function (n, i) {
        var item = el("span", "legend-item"), sw = el("i", "swatch");
        sw.style.background = COLORS[i % COLORS.length];
        item.appendChild(sw);
        item.appendChild(document.createTextNode(n));
        legend.appendChild(item);
      });
    });
  }
  // niceStep is the round step at or above v: 1, 1.5, 2, 2.5, 3, 4, 5, 6
  // or 8 times a power of ten; a whole number for counts, at least 1.
  function niceStep(v, counts) {
    var p = Math.pow(10, Math.floor(Math.log10(Math.max(v, 1e-9)))), steps = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10];
    for (var i = 0; i < steps.length; i++) {
      var s = steps[i] * p;
      if (s >= v - 1e-9) return counts ? Math.max(1, Math.ceil(s)) : s;
    }
    return 10 * p;
  }
  // drawChart draws series[name] (numbers; null where there is none) on
  // svg: four even steps up to a round top, minutes back to now. A line
  // joins the samples that follow each other; unless they are counts
  // (a sample every second, no gaps), a dot marks each.
  function drawChart(svg, names, series, tick, counts) {
    var W = 600, H = 170, L = 48, R = 10, T = 10, B = 20, ns = "http://www.w3.org/2000/svg";
    var add = function (tag, attrs, text) {
      var e = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    };
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var top = 1;
    names.forEach(function (n) { (series[n] || []).forEach(function (v) { if (v !== null) top = Math.max(top, v); }); });
    top = 4 * niceStep(top / 4, counts); // four even steps
    var x = function (i) { return L + (W - L - R) * i / (CHART_SAMPLES - 1); };
    var y = function (v) { return T + (H - T - B) * (1 - v / top); };
    for (var k = 0; k <= 4; k++) {
      var v = top * k / 4;
      add("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), "class": "grid" });
      add("text", { x: L - 5, y: y(v) + 4, "text-anchor": "end", "class": "tick y" }, tick(v));
    }
    for (var m = 0; m <= 5; m++) {
      add("text", { x: x(CHART_SAMPLES - 1 - m * 60), y: H - 5, "text-anchor": m === 5 ? "start" : "middle", "class": "tick x" }, m ? "−" + m + " min" : "now");
    }
    names.forEach(function (n, i) {
      var h = series[n] || [], color = COLORS[i % COLORS.length], run = [];
      var flush = function () {
        if (run.length > 1) add("polyline", { "data-backend": n, stroke: color, "class": "series", points: run.join(" ") });
        run = [];
      };
      h.forEach(function (v, j) {
        if (v === null) { flush(); return; }
        var px = x(CHART_SAMPLES - h.length + j).toFixed(1), py = y(v).toFixed(1);
        run.push(px + "," + py);
        if (!counts) add("circle", { "data-backend": n, "data-value": v, cx: px, cy: py, r: 1.6, fill: color, "class": "point" });
      });
      flush();
    });
  }

  // exportCSV puts the backends' figures, as the cards show them, behind
  // the "Export CSV" link (HAProxy's stats page exports the same way):
  // the upgrades answered and their mean answer time, and a column per
  // close reason (the status lists every reason, zeros included).
  function csvCell(v) { v = String(v); return /[",\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }
  function exportCSV(b) {
    var reasons = b.backends.length ? Object.keys(b.backends[0].closed || {}).sort() : [];
    var rows = [["backend", "state", "weight", "active", "max", "total", "rate_per_s", "max_rate_per_s", "bytes_in", "bytes_out", "failures", "state_since",
      "upgrades", "answer_ms_mean"].concat(reasons.map(function (r) { return "closed_" + r; }))];
    b.backends.forEach(function (be) {
      var s = since[be.name];
      rows.push([be.name, be.state, be.weight, be.active, peak[be.name] || 0, be.total, rate[be.name] || 0, maxRate[be.name] || 0,
        be.bytes_up, be.bytes_down, be.failures, s ? new Date(s.t).toISOString() : "",
        be.upgrades, be.upgrades ? (parseDur(be.upgrade_wait) / be.upgrades / 1e6).toFixed(2) : ""]
        .concat(reasons.map(function (r) { return (be.closed || {})[r] || 0; })));
    });
    $("export").href = "data:text/csv;charset=utf-8," + encodeURIComponent(rows.map(function (r) { return r.map(csvCell).join(","); }).join("\n") + "\n");
  }

  // closedText is counts of closed tunnels by reason, the most first.
  function closedText(closed) {
    closed = closed || {};
    return Object.keys(closed).filter(function (k) { return closed[k] > 0; })
      .sort(function (x, y) { return closed[y] - closed[x] || (x < y ? -1 : 1); })
      .map(function (k) { return k + " " + closed[k]; }).join(" · ");
  }
  function renderClosed(b) {
    var t = closedText(b.closed), codes = closedText(b.close_codes);
    $("closed").textContent = (t ? "closed since start: " + t : "") + (codes ? " · by close frame: " + codes : "");
  }

  // sticky says what keeps a client on one backend: server_group.stickiness,
  // else the source_hash policy, else nothing.
  function sticky(b) {
    var s = b.stickiness || { type: "none" };
    if (s.type === "lb_cookie") return "lb_cookie (the balancer's cookie, " + s.duration + ")";
    if (s.type === "app_cookie") return "app_cookie (follows " + s.cookie_name + ")";
    if (s.type === "source_ip") return "source_ip";
    return b.policy === "source_hash" ? "by client address" : "none";
  }

  // ---- the front door: nginx, HAProxy or Caddy in the balancer's place ----
  // Which program, its version, where it listens, its pid, the config it
  // reads, the reloads applied, and its own figures for its servers where
  // it has them (HAProxy); else why it has none.
  var FRONT_DOOR = [
    ["proxy", "the program at the front door"],
    ["version", "as the program says it (nginx -v, haproxy -v, caddy version)"],
    ["listen", "its front door: where clients connect"],
    ["pid", "its main process"],
    ["config", "the file it reads"],
    ["reloads", "configs applied since it started (PUT /api/config, lab ctl reload, an edit of --config)"],
    ["policy", "the server group's policy the lab gave it"],
    ["idle timeout", "the idle timeout the lab gave it"],
    ["warnings", "what it cannot do as the lab's config asks"]
  ];
  function renderFrontDoor(p) {
    $("front-door").hidden = !p;
    if (!p) return;
    var dl = $("fd-figures");
    if (!dl.children.length) {
      FRONT_DOOR.forEach(function (r) {
        var dt = el("dt", "", r[0]), dd = el("dd");
        dt.title = dd.title = r[1];
        dd.dataset.stat = r[0];
        dl.appendChild(dt);
        dl.appendChild(dd);
      });
    }
    var addr = p.url.replace(/^https?:\/\//, "");
    var set = function (k, v) { dl.querySelector('dd[data-stat="' + k + '"]').textContent = v; };
    set("proxy", p.kind);
    set("version", p.version || "unknown: it did not say");
    set("listen", addr);
    set("pid", String(p.pid));
    set("config", p.config + (p.own ? " (your own, with the nodes filled in)" : " (written by the lab)"));
    set("reloads", (p.generation - 1) + " applied · generation " + p.generation);
    set("policy", p.own ? "as your config says" : p.policy);
    set("idle timeout", p.own ? "as your config says" : dur(p.idle_timeout || 0));
    set("warnings", (p.warnings || []).join(" · ") || "none");
    $("listener").textContent = addr;
    $("profile").textContent = "none";
    $("sticky").textContent = p.own ? "your config's" : "none";
    $("policy").textContent = p.own ? "your config's" : p.policy;
    $("idle-timeout").textContent = p.own ? "your config's" : dur(p.idle_timeout || 0);
    $("generation").textContent = p.generation;
    var servers = p.servers || [];
    $("fd-servers").hidden = !servers.length;
    var tbody = $("fd-servers").querySelector("tbody");
    tbody.textContent = "";
    servers.forEach(function (sv) {
      var tr = el("tr");
      tr.dataset.server = sv.name;
      [sv.name, sv.status, sv.weight, sv.current, sv.total, sv.check || "", dur(sv.downtime * 1e9)].forEach(function (v) { tr.appendChild(el("td", "", String(v))); });
      tbody.appendChild(tr);
    });
    $("healthy").textContent = servers.length ? servers.filter(function (sv) { return /^UP/.test(sv.status); }).length + " of " + servers.length + " up (its own checks)" : "its own checks";
    $("fd-note").textContent = p.figures || "";
  }

  // ---- overview: routes, as Traefik lists its routers ----
  function renderRoutes(b) {
    var tbody = $("routes").querySelector("tbody");
    tbody.textContent = "";
    var servers = b.backends.map(function (be) { return be.name + (be.url ? " " + be.url : " (removed)") + " · " + be.state; }).join("\n");
    var service = "server group · " + b.policy + " · stickiness " + sticky(b) + " · idle timeout " + b.idle_timeout;
    var entries = [["http " + b.listener, "every path: WebSocket upgrades and plain HTTP"]];
    if (b.tls_listener) entries.push(["https " + b.tls_listener, "every path, TLS ended here (wss)"]);
    entries.forEach(function (e) {
      var tr = el("tr");
      tr.appendChild(el("td", "", e[0]));
      tr.appendChild(el("td", "", e[1]));
      tr.appendChild(el("td", "", service));
      tr.appendChild(el("td", "servers", servers));
      tbody.appendChild(tr);
    });
  }

  // What each node button does, and when it does not apply.
  var ACTIONS = {
    kill: "crash: connections dropped, no close frame",
    stop: "graceful: close frames 1001, users leave",
    hang: "accepts connections, answers nothing",
    slow: "delay every outgoing message",
    start: "back in service, faults cleared",
    restart: "stop gracefully, then start"
  };
  function notApplicable(action, name, n) {
    if (!n) return name + " is not a node of this lab: the balancer only routes to it";
    // What a node's kind cannot do is refused by the API; say so here.
    if (n.faults && n.faults.indexOf(action) < 0) return name + " is a " + n.kind + " node: " + action + " is not possible";
    var faulty = n.hung || n.slow_ns > 0;
    switch (action) {
      case "start": return !n.listening || faulty ? "" : name + " is running with no fault";
      case "hang": if (n.hung) return name + " is hung already"; break;
    }
    return n.listening ? "" : name + " is down: start it first";
  }

  // slowForm is the card's small form for "slow": a delay, Apply, Cancel,
  // and the API's answer to a bad delay beside the field.
  function slowForm(card, name) {
    var form = card.querySelector("form.slow");
    if (!form) {
      form = el("form", "slow");
      form.hidden = true;
      var label = el("label", "", "delay ");
      var input = el("input", "slow-delay");
      input.name = "delay";
      input.value = "2s";
      input.size = 6;
      label.appendChild(input);
      form.appendChild(label);
      var ok = el("button", "", "Apply");
      ok.type = "submit";
      form.appendChild(ok);
      var cancel = el("button", "quiet", "Cancel");
      cancel.type = "button";
      cancel.addEventListener("click", function () { form.hidden = true; });
      form.appendChild(cancel);
      form.appendChild(el("span", "field-error slow-error"));
      form.appendChild(el("div", "muted", "every message " + name + " sends waits this long; 0 clears"));
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var err = form.querySelector(".slow-error");
        err.textContent = "";
        // As lab ctl does, a delay that is not a duration is answered here,
        // without a request the browser would log as failed.
        if (!isDuration(input.value)) {
          err.textContent = JSON.stringify(input.value) + " is not a duration: write it like 2s or 500ms (0 clears)";
          return;
        }
        api("POST", "/api/nodes/" + encodeURIComponent(name) + "/slow?delay=" + encodeURIComponent(input.value))
          .then(function () { form.hidden = true; refresh(); }, function (e) { err.textContent = e.message; });
      });
    }
    return {
      form: form,
      toggle: function () {
        form.hidden = !form.hidden;
        if (!form.hidden) { form.querySelector(".slow-error").textContent = ""; form.querySelector("input").focus(); }
      }
    };
  }

  function msText(ns) { return ns < 1e7 ? (ns / 1e6).toFixed(2) + " ms" : Math.round(ns / 1e6) + " ms"; }
  function isDuration(v) { return /^(0|(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+)$/.test(v.trim()); }

  function goDur(ns) {   // as Go writes a duration: 250ms, 2s, 1m30s
    if (ns < 1e6) return (ns / 1e3) + "µs";
    if (ns < 1e9) return (ns / 1e6) + "ms";
    var s = ns / 1e9;
    if (s < 60) return s + "s";
    return Math.floor(s / 60) + "m" + (s % 60 ? (s % 60) + "s" : "");
  }

  function size(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / (1024 * 1024)).toFixed(1) + " MiB";
  }

  function renderConns(b) {
    $("conn-total").textContent = status.connections_total;
    var summary = $("conn-summary");
    summary.textContent = "";
    var by = {};
    b.backends.forEach(function (be) { by[be.name] = be.active; });
    Object.keys(by).forEach(function (k) { summary.appendChild(el("span", "", k + ": " + by[k])); });
    var tbody = $("conns").querySelector("tbody"), rows = document.createDocumentFragment();
    b.connections.forEach(function (c) {
      var tr = el("tr");
      tr.dataset.conn = c.id;
      tr.appendChild(el("td", "", c.id));
      tr.appendChild(el("td", "", c.client));
      tr.appendChild(el("td", "", c.backend));
      var g = el("td");
      g.appendChild(el("span", "gen", "gen " + c.generation));
      tr.appendChild(g);
      tr.appendChild(el("td", "age", dur(parseDur(c.age))));
      var idle = el("td", "idle"), bar = el("span", "idlebar"), fill = el("i");
      var idleNS = parseDur(c.idle), timeout = parseDur(c.idle_timeout);
      fill.style.width = Math.min(100, 100 * idleNS / timeout).toFixed(0) + "%";
      bar.appendChild(fill);
      idle.appendChild(bar);
      idle.appendChild(document.createTextNode(dur(idleNS) + " / " + c.idle_timeout));
      tr.appendChild(idle);
      // Bytes the balancer holds for a peer that reads slower than the
      // other end sends: a slow consumer.
      tr.appendChild(el("td", c.backlog_bytes > 0 ? "backlog behind" : "backlog", size(c.backlog_bytes || 0)));
      rows.appendChild(tr);
    });
    tbody.textContent = "";
    tbody.appendChild(rows);
    var more = status.connections_total - b.connections.length;
    $("conn-more").textContent = more > 0 ? "… and " + more + " more (the oldest " + b.connections.length + " are listed)" : "";
  }

  function sample() {
    if (!status || !status.balancer) return;
    sampleRates(status.balancer);
    status.balancer.backends.forEach(function (be) {
      var h = history[be.name] = history[be.name] || [];
      h.push(be.active);
      if (h.length > CHART_SAMPLES) h.shift();
    });
  }

  // ---- fault links, as Toxiproxy has them ----
  // A row per link with its counters and faults in words, and a form that
  // changes the faults (PATCH: the fields sent, the rest kept). The rows
  // and forms are made once, so a redraw never takes what is being typed.
  function renderLinks(links) {
    $("links").hidden = !links.length;
    $("no-links").hidden = !!links.length;
    var tbody = $("links").querySelector("tbody");
    links.forEach(function (k) {
      var tr = tbody.querySelector('tr.link[data-link="' + k.name + '"]');
      if (!tr) {
        tr = linkRow(k);
        tbody.appendChild(tr);
        tbody.appendChild(linkForm(k));
      }
      var cells = tr.children;
      cells[2].textContent = k.open;
      cells[3].textContent = k.connections;
      cells[4].textContent = "in " + size(k.bytes_up) + " · out " + size(k.bytes_down);
      cells[5].textContent = size(k.dropped_up + k.dropped_down);
      cells[6].textContent = k.summary;
      cells[6].className = k.summary === "none" ? "faults" : "faults on";
      tr.querySelector('button[data-action="clear"]').disabled = k.summary === "none";
      tr.querySelector('button[data-action="clear"]').title = k.summary === "none" ? "no faults to clear" : "clear every fault of " + k.name;
      tr.querySelector('button[data-action="reset"]').disabled = !k.open;
      tr.querySelector('button[data-action="reset"]').title = k.open ? "RST both ends of its open connections" : "no open connections";
    });
  }
  function linkRow(k) {
    var tr = el("tr", "link");
    tr.dataset.link = k.name;
    tr.appendChild(el("td", "", k.name + (k.client_side ? " (clients)" : "")));
    tr.appendChild(el("td", "", k.listen + " → " + k.upstream));
    for (var i = 0; i < 5; i++) tr.appendChild(el("td"));
    var td = el("td", "buttons");
    var acts = [["faults", "", "change its faults: latency, bandwidth, black hole, reset, slow close"],
      ["clear", "quiet", ""], ["reset", "danger", ""]];
    if (k.client_side) acts.push(["nat-drop", "danger", "the NAT forgets every open mapping: connections go silently half-open"]);
    acts.forEach(function (a) {
      var btn = el("button", a[1], a[0] === "faults" ? "Faults…" : a[0] === "nat-drop" ? "NAT drop" : a[0][0].toUpperCase() + a[0].slice(1));
      btn.type = "button";
      btn.dataset.action = a[0];
      if (a[2]) btn.title = a[2];
      btn.addEventListener("click", function () { linkAction(k.name, a[0]); });
      td.appendChild(btn);
    });
    tr.appendChild(td);
    return tr;
  }
  function linkAction(name, action) {
    var form = $("links").querySelector('tr.link-form[data-link="' + name + '"]');
    if (action === "faults") { form.hidden = !form.hidden; form.querySelector(".link-error").textContent = ""; return; }
    var req = action === "clear" ? api("DELETE", "/api/links/" + encodeURIComponent(name) + "/faults")
      : api("POST", "/api/links/" + encodeURIComponent(name) + "/" + action);
    req.then(refresh, function (e) { note(name + " " + action + ": " + e.message, "bad"); });
  }
  // LINK_FIELDS are the form's inputs: [name, label, placeholder, help].
  var LINK_FIELDS = [
    ["latency", "latency", "0s", "each chunk waits this long (e.g. 300ms)"],
    ["jitter", "± jitter", "0s", "spread the latency over latency±jitter; not above the latency"],
    ["bandwidth", "bandwidth", "0", "bytes a second passed on; 0 is no cap"],
    ["slow_close", "slow close", "0s", "hold each FIN this long before passing it on"]
  ];
  function linkForm(k) {
    var tr = el("tr", "link-form"), td = el("td"), form = el("form", "link-faults");
    tr.dataset.link = k.name;
    tr.hidden = true;
    td.colSpan = 8;
    var dir = el("select");
    dir.name = "direction";
    [["both", "both ways"], ["up", "up: client → upstream"], ["down", "down: upstream → client"]].forEach(function (o) {
      var opt = el("option", "", o[1]);
      opt.value = o[0];
      dir.appendChild(opt);
    });
    form.appendChild(dir);
    LINK_FIELDS.forEach(function (f) {
      var label = el("label", "", f[1] + " "), input = el("input");
      input.name = f[0];
      input.placeholder = f[2];
      input.title = f[3];
      input.size = 7;
      label.appendChild(input);
      form.appendChild(label);
    });
    [["black_hole", "black hole", "accept, read, pass nothing on and answer nothing"],
      ["reset_new", "reset new connections", "answer each new connection with a RST"]].forEach(function (f) {
      var label = el("label"), box = el("input");
      box.type = "checkbox";
      box.name = f[0];
      label.title = f[2];
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + f[1]));
      form.appendChild(label);
    });
    var ok = el("button", "", "Apply");
    ok.type = "submit";
    form.appendChild(ok);
    var cancel = el("button", "quiet", "Cancel");
    cancel.type = "button";
    cancel.addEventListener("click", function () { tr.hidden = true; });
    form.appendChild(cancel);
    if (k.client_side) form.appendChild(moveControl(k.name));
    form.appendChild(el("span", "field-error link-error"));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = linkBody(form);
      var err = form.querySelector(".link-error");
      if (typeof body === "string") { err.textContent = body; return; }
      err.textContent = "";
      api("PATCH", "/api/links/" + encodeURIComponent(k.name) + "/faults", JSON.stringify(body))
        .then(function () { tr.hidden = true; refresh(); }, function (e) { err.textContent = e.message; });
    });
    td.appendChild(form);
    tr.appendChild(td);
    return tr;
  }
  // linkBody is the form as a PATCH of faultlink.Faults, or what is wrong
  // with a field: caught here, as lab ctl link does, without a request the
  // browser would log as failed. The API checks the rest (jitter ≤ latency).
  function linkBody(form) {
    var v = function (n) { return form.elements[n].value.trim(); };
    for (var i = 0; i < LINK_FIELDS.length; i++) {
      var f = LINK_FIELDS[i][0];
      if (f === "bandwidth") {
        if (v(f) && !/^\d+$/.test(v(f))) return "bandwidth: " + JSON.stringify(v(f)) + " is not a number of bytes a second: write it like 65536 (0 or empty: no cap)";
      } else if (v(f) && !isDuration(v(f))) {
        return f.replace("_", " ") + ": " + JSON.stringify(v(f)) + " is not a duration: write it like 300ms or 2s (0 or empty: none)";
      }
    }
    var d = { latency: v("latency") || "0s", jitter: v("jitter") || "0s", bandwidth: parseInt(v("bandwidth") || "0", 10) };
    var body = { black_hole: form.elements.black_hole.checked, reset_new: form.elements.reset_new.checked, slow_close: v("slow_close") || "0s" };
    var which = form.elements.direction.value;
    if (which !== "down") body.up = d;
    if (which !== "up") body.down = d;
    return body;
  }
  // moveControl moves the client to another address (client link): new
  // connections come from it, open ones are left behind.
  function moveControl(name) {
    var span = el("span", "move"), input = el("input");
    input.name = "source_ip";
    input.placeholder = "127.0.0.2";
    input.size = 10;
    input.title = "the address clients come from next; empty: the default";
    var label = el("label", "", "client address ");
    label.appendChild(input);
    span.appendChild(label);
    var btn = el("button", "quiet", "Move");
    btn.type = "button";
    btn.title = "new connections come from this address; open ones are left behind, as a real address change leaves them";
    btn.addEventListener("click", function () {
      api("POST", "/api/links/" + encodeURIComponent(name) + "/move", JSON.stringify({ source_ip: input.value.trim() }))
        .then(function (r) { note(name + " moved to " + (input.value.trim() || "its default address") + ": " + r.left_behind + " connections left behind"); refresh(); },
          function (e) { span.parentNode.querySelector(".link-error").textContent = e.message; });
    });
    span.appendChild(btn);
    return span;
  }

  // ---- actions ----
  function fault(name, action) {
    api("POST", "/api/nodes/" + encodeURIComponent(name) + "/" + action)
      .then(refresh, function (e) { note(name + " " + action + ": " + e.message, "bad"); });
  }

  $("add-node").addEventListener("click", function () {
    api("POST", "/api/nodes").then(refresh, function (e) { note("add node: " + e.message, "bad"); });
  });
  $("open-testers").addEventListener("click", function () {
    api("POST", "/api/testers?count=3").then(refresh, function (e) { note("test clients: " + e.message, "bad"); });
  });
  $("stop-testers").addEventListener("click", function () {
    $("stop-testers").disabled = true;
    api("DELETE", "/api/testers").then(function (r) {
      note("stopped " + r.stopped + " test clients");
      refresh();
    }, function (e) { note("stop test clients: " + e.message, "bad"); refresh(); });
  });

  // ---- config ----
  // loadConfig fills the form and the editor with the balancer's config;
  // a lab with a proxy in its place has none to show (GET /api/config is
  // the built-in balancer's).
  function loadConfig() {
    if (status && !status.balancer) return;
    api("GET", "/api/config").then(function (c) {
      config = c;
      $("f-idle").value = c.listener.idle_timeout;
      $("f-policy").value = c.server_group.policy;
      $("f-dereg").value = c.server_group.deregistration_delay;
      $("f-interval").value = c.server_group.health_check.interval;
    });
    send("/api/config?format=yaml").then(function (r) { return r.text(); }).then(function (t) { $("config-yaml").value = t; });
  }

  function clearErrors() {
    document.querySelectorAll(".field-error").forEach(function (s) { s.textContent = ""; });
    $("yaml-errors").textContent = "";
    $("form-errors").textContent = "";
    $("config-result").textContent = "";
  }

  // showProblems shows where each problem is. From the form, beside its
  // field when the form has it, without the line (the form sent a
  // document nobody sees); what no field shows goes under the form. From
  // the YAML editor, in the list under it with the line of the editor's
  // text, which selects that line when clicked.
  function showProblems(problems, fromForm) {
    problems.forEach(function (p) {
      var m = /^(?:line (\d+): )?([a-z_.\[\]0-9]+): (.*)$/.exec(p);
      var span = fromForm && m && document.querySelector('#config-form .field-error[data-field="' + m[2] + '"]');
      if (span) { span.textContent = m[3]; return; }
      if (fromForm) { $("form-errors").appendChild(el("li", "", p.replace(/^line \d+: /, ""))); return; }
      var li = el("li", "", p);
      var line = m && m[1] ? parseInt(m[1], 10) : (/^line (\d+)/.exec(p) || [])[1];
      if (line) {
        li.className = "goto";
        li.title = "select line " + line + " in the editor";
        li.addEventListener("click", function () { selectLine($("config-yaml"), parseInt(line, 10)); });
      }
      $("yaml-errors").appendChild(li);
    });
    if (!fromForm) $("raw").open = true;
  }
  function selectLine(ta, n) {
    var lines = ta.value.split("\n"), start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    ta.focus();
    ta.setSelectionRange(start, start + (lines[n - 1] || "").length);
  }

  function applied(r) {
    $("config-result").textContent = "generation " + r.generation + " applied";
    loadConfig();
    refresh();
  }
  function rejected(fromForm) {
    return function (e) {
      $("config-result").textContent = "rejected: generation " + ((e.body && e.body.generation) || "?") + " keeps serving";
      showProblems((e.body && e.body.problems) || [e.message], fromForm);
    };
  }

  $("config-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearErrors();
    var c = JSON.parse(JSON.stringify(config));
    c.listener.idle_timeout = $("f-idle").value;
    c.server_group.policy = $("f-policy").value;
    c.server_group.deregistration_delay = $("f-dereg").value;
    c.server_group.health_check.interval = $("f-interval").value;
    apply(JSON.stringify(c), "application/json", true);
  });
  $("apply-yaml").addEventListener("click", function () {
    clearErrors();
    apply($("config-yaml").value, "application/yaml", false);
  });

  // apply validates first, so a bad edit is answered with its problems and
  // nothing is sent to the balancer.
  function apply(body, type, fromForm) {
    var no = rejected(fromForm);
    api("POST", "/api/config/validate", body, type).then(function (v) {
      if (!v.valid) {
        no({ body: { generation: status && status.balancer.generation, problems: v.problems } });
        return;
      }
      api("PUT", "/api/config", body, type).then(applied, no);
    }, no);
  }

  // ---- events ----
  // The lab words its events in one place (events.Event.Text); the API
  // sends that sentence as "text".
  function describe(e) { return e.text || e.kind; }
  // TONES colour the timeline; the legend under its title is drawn from
  // the same table, so the two cannot disagree.
  var TONES = [
    { cls: "bad", label: "faults, nodes down, unhealthy, failed dials, rejected configs, Redis unreachable",
      is: function (e) {
        return (e.kind === "node.fault" && !/^start/.test(e.detail || "")) || e.kind === "node.stopped" ||
          (e.kind === "link.fault" && e.reason !== "cleared") ||
          e.kind === "config.rejected" || e.kind === "store.error" || e.kind === "backend.failure" ||
          (e.kind === "backend.health" && e.reason === "unhealthy") || (e.kind === "group.health" && e.reason === "all_unhealthy");
      } },
    { cls: "good", label: "recoveries: faults cleared, nodes started, healthy again, configs applied, Redis back",
      is: function (e) {
        return (e.kind === "node.fault" && /^start/.test(e.detail || "")) || e.kind === "node.started" ||
          (e.kind === "link.fault" && e.reason === "cleared") ||
          e.kind === "config.applied" || e.kind === "store.recovered" || e.kind === "store.restored" ||
          (e.kind === "backend.health" && e.reason === "healthy") || (e.kind === "group.health" && e.reason === "recovered");
      } },
    { cls: "plain", label: "connections, health checks, deregistration lag, draining", is: function () { return true; } }
  ];
  function tone(e) {
    for (var i = 0; i < TONES.length; i++) if (TONES[i].is(e)) return TONES[i].cls;
    return "plain";
  }
  TONES.forEach(function (t) {
    var item = el("span", "legend-item " + t.cls);
    item.appendChild(el("i", "swatch"));
    item.appendChild(document.createTextNode(t.label));
    $("legend").appendChild(item);
  });
  function note(text, cls) { addLine(new Date(), "dashboard", text, cls); }
  function line(time, source, text, cls) {
    var li = el("li", cls);
    li.appendChild(el("span", "t", time.toTimeString().slice(0, 8)));
    li.appendChild(document.createTextNode(source + "  " + text));
    return li;
  }
  function addLine(time, source, text, cls) {
    var tl = $("timeline");
    tl.insertBefore(line(time, source, text, cls), tl.firstChild);
    while (tl.children.length > TIMELINE) tl.removeChild(tl.lastChild);
  }
  function onEvent(msg) {
    var e = JSON.parse(msg.data);
    if (e.kind === "config.applied" && new Date(e.time) >= openedAt) loadConfig(); // not for the history
    queued.push(e);
    refresh();
  }
  // flushEvents adds the queued events to the timeline in one go, newest
  // on top; of a burst only the last TIMELINE can show.
  function flushEvents() {
    var checks = $("show-checks").checked;
    var show = queued.filter(function (e) { return checks || e.kind !== "backend.check"; }).slice(-TIMELINE);
    queued.forEach(function (e) {
      if (e.kind === "backend.health") healthAt[e.backend] = { state: e.reason, t: new Date(e.time) };
    });
    queued = [];
    if (!show.length) return;
    var frag = document.createDocumentFragment();
    for (var i = show.length - 1; i >= 0; i--) frag.appendChild(line(new Date(show[i].time), show[i].source, describe(show[i]), tone(show[i])));
    var tl = $("timeline");
    tl.insertBefore(frag, tl.firstChild);
    while (tl.children.length > TIMELINE) tl.removeChild(tl.lastChild);
  }

  function stream() {
    // The last TIMELINE events the lab kept come first, then live ones; a
    // reconnect sends Last-Event-ID and gets only what it missed.
    // EventSource cannot send headers: the token goes in the query.
    var es = new EventSource("/api/events?last=" + TIMELINE + (token() ? "&access_token=" + encodeURIComponent(token()) : ""));
    kinds.forEach(function (k) { es.addEventListener(k, onEvent); });
    es.onopen = function () { $("stream").textContent = "live"; $("stream").className = "up"; refresh(); };
    es.onerror = function () { $("stream").textContent = "reconnecting…"; $("stream").className = "down"; };
  }

  update(); // the first draw waits for no timer, and rest() for it
})();
