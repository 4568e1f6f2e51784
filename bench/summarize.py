"""Turns bench/compare.sh's raw JSON into BENCHMARKS.md: medians and ratios."""
import json, os, platform, statistics, subprocess, sys, datetime

w, rounds, hold, nginx_v, haproxy_v, command = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
base = sys.argv[7] if len(sys.argv) > 7 else ""
targets = ["direct", "wslab"] + (["wslab-base"] if base else []) + ["nginx", "haproxy"]
proxies_of = [t for t in targets if t != "direct"]

def load(name):
    with open(os.path.join(w, name)) as f:
        return json.load(f)

def med(test, t, key):
    vals = [load(f"{test}-{t}-{r}.json")[key] for r in range(1, rounds + 1)]
    return statistics.median(vals)

def rss(t):
    vals = []
    for r in range(1, rounds + 1):
        d = load(f"rss-{t}-{r}.json")
        vals.append((d["after_kib"] - d["before_kib"]) / hold)
    return statistics.median(vals)

rows = []
def row(name, fmt, values, better, ratio=True):
    d = values["direct"]
    cells = []
    for t in targets:
        v = values[t]
        if v is None:
            cells.append("–")
            continue
        s = fmt(v)
        if ratio and t != "direct" and d:
            s += f" ({v / d:.2f}×)"
        cells.append(s)
    proxies = {t: values[t] for t in proxies_of}
    best = (max if better == "high" else min)(proxies, key=proxies.get)
    if len(set(proxies.values())) == 1:
        best = "tie"
    rows.append(f"| {name} | " + " | ".join(cells) + f" | {best} |")

fails = {t: sum(load(f"{x}-{t}-{r}.json")["failures"] for x in ("hold", "rtt", "flood16", "flood256") for r in range(1, rounds + 1)) for t in targets}
row(f"hold {hold} idle WebSockets: proxy RSS per connection", lambda v: f"{v:.1f} KiB",
    {"direct": None, **{t: rss(t) for t in proxies_of}}, "low", ratio=False)
row(f"handshakes/s while opening them (32 in flight)", lambda v: f"{v:,.0f}", {t: med("hold", t, "handshakes_per_sec") for t in targets}, "high")
row("echo round trip, 50 conns × 400 msgs of 256 B: p50", lambda v: f"{v/1000:,.0f} µs", {t: med("rtt", t, "p50_ns") for t in targets}, "low")
row("echo round trip: p99", lambda v: f"{v/1000:,.0f} µs", {t: med("rtt", t, "p99_ns") for t in targets}, "low")
row("flood, 50 conns, 1 KiB msgs, 16 in flight: msgs/s", lambda v: f"{v/1000:,.0f} k", {t: med("flood16", t, "msgs_per_sec") for t in targets}, "high")
row("flood, 50 conns, 1 KiB msgs, 256 in flight: msgs/s", lambda v: f"{v/1000:,.0f} k", {t: med("flood256", t, "msgs_per_sec") for t in targets}, "high")
def cpu_per_msg(window, t):
    vals = []
    for r in range(1, rounds + 1):
        c, f = load(f"cpu{window}-{t}-{r}.json"), load(f"flood{window}-{t}-{r}.json")
        if f["messages"]:
            vals.append(c["cpu_ticks"] / c["hz"] * 1e9 / f["messages"])
    return statistics.median(vals) if vals else None
for window in (16, 256):
    row(f"proxy CPU per message, flood with {window} in flight", lambda v: f"{v:,.0f} ns",
        {"direct": None, **{t: cpu_per_msg(window, t) for t in proxies_of}}, "low", ratio=False)
row("failures (all tests, all rounds)", lambda v: f"{v}", fails, "low", ratio=False)

go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"""# Benchmarks

Measured by `{command}` on {datetime.date.today()}: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()},
{go}, nginx {nginx_v}, HAProxy {haproxy_v}. Medians of {rounds} rounds in which the targets
alternate (direct, wslab, nginx, HAProxy, then again); ratios are to the direct connection.

Each round starts the proxies anew; the memory row is the growth of the proxy's resident set
(all its processes) while {hold} connections are held idle, divided by {hold}.

Set-up, the same for every target: two raw WebSocket echo backends (`lab load echo-server`,
GOMAXPROCS=1 each), the load tool `lab load` (GOMAXPROCS=1; its own minimal framing), every
proxy on one core — wslab's balancer with GOMAXPROCS=1 and its idle timeout (60 s), health
checks, events and per-connection introspection on; nginx with `worker_processes 1`; HAProxy
with `nbthread 1` — round robin over both backends, 60 s tunnel timeouts. Client, backends
and proxy share the machine's {os.cpu_count()} cores. Figures move 10–25 % between runs on these
VMs: compare within one run.

| test | """ + " | ".join({"direct": "direct", "wslab": "wslab", "wslab-base": f"wslab at {base}", "nginx": "nginx", "haproxy": "HAProxy"}[t] for t in targets) + """ | best proxy |
|---|""" + "---|" * (len(targets) + 1) + """
""" + "\n".join(rows) + "\n")
if base:
    # Before and after, each as a ratio to the real proxies measured in the
    # same rounds: the figure that must not move.
    print(f"\nwslab now against wslab at {base}, each as a ratio to nginx and HAProxy in the same rounds (for throughput higher is better, for CPU per message lower):\n")
    print("| test | now / nginx | before / nginx | now / HAProxy | before / HAProxy | now / before − 1 |")
    print("|---|---|---|---|---|---|")
    for name, get in [("handshakes/s", lambda t: med("hold", t, "handshakes_per_sec")),
                      ("flood 16 msgs/s", lambda t: med("flood16", t, "msgs_per_sec")),
                      ("flood 256 msgs/s", lambda t: med("flood256", t, "msgs_per_sec")),
                      ("CPU per message, flood 16", lambda t: cpu_per_msg(16, t)),
                      ("CPU per message, flood 256", lambda t: cpu_per_msg(256, t))]:
        now, before, ng, hp = get("wslab"), get("wslab-base"), get("nginx"), get("haproxy")
        print(f"| {name} | {now/ng:.2f} | {before/ng:.2f} | {now/hp:.2f} | {before/hp:.2f} | {(now/before - 1) * 100:+.1f} % |")
    print()
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
if os.path.exists(notes):
    print(open(notes).read())
