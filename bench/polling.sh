#!/usr/bin/env bash
# Socket.IO chat through `lab up --stickiness lb_cookie`: the WebSocket
# transport against HTTP long-polling, in alternating runs on one lab;
# prints each run's figures, then the medians and the polling/WebSocket
# ratios for BENCHMARKS.md.
#
#   bash bench/polling.sh [ROUNDS]      (default 5; ~45 s a round)
#
# A round is four `lab load --mode chat` runs of 10 users for 5 s each:
# "light" (each user says something every 200 ms: 50 messages/s, 500
# deliveries/s, far below what either transport carries: latency) and
# "heavy" (every 5 ms: more than either carries, so messages/s is the
# most the chat moved), WebSocket then polling. The lab (balancer, two
# nodes, embedded Redis) and the load tool share the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
W=$(mktemp -d /tmp/wslab-polling.XXXX)
go build -o "$W/lab" ./cmd/lab
"$W/lab" up --listen 127.0.0.1:0 --admin 127.0.0.1:0 --node-port 0 --stickiness lb_cookie >"$W/up.log" 2>&1 &
up=$!
trap 'kill -INT $up 2>/dev/null; wait $up 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'Events:' "$W/up.log" && break; sleep 0.1; done
B=$(grep -o 'balancer  http://[0-9.:]*' "$W/up.log" | awk '{print $2}')
[ -n "$B" ] || { cat "$W/up.log"; exit 1; }
for r in $(seq "$ROUNDS"); do
  for load in light heavy; do
    iv=200ms
    [ $load = heavy ] && iv=5ms
    for tr in websocket polling; do
      "$W/lab" load --url "$B" --mode chat --transport $tr --conns 10 --interval $iv --duration 5s --json 2>/dev/null |
        python3 -c "
import json, sys
d = json.load(sys.stdin)
print(json.dumps({'round': $r, 'load': '$load', 'transport': '$tr', 'msgs_per_sec': round(d['msgs_per_sec']),
                  'p50_ms': d['p50_ns'] / 1e6, 'p99_ms': d['p99_ns'] / 1e6, 'sent': d['chat']['sent'],
                  'lost': d['chat']['lost'], 'drops': d['chat']['drops'], 'failures': d['failures']}))" | tee -a "$W/runs.jsonl"
    done
  done
done
python3 - "$W/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = lambda load, tr, k: statistics.median(r[k] for r in runs if r['load'] == load and r['transport'] == tr)
total = lambda load, tr, k: sum(r[k] for r in runs if r['load'] == load and r['transport'] == tr)
print(f"medians of {max(r['round'] for r in runs)} rounds")
for load in ('light', 'heavy'):
    for k in ('msgs_per_sec', 'p50_ms', 'p99_ms'):
        ws, po = med(load, 'websocket', k), med(load, 'polling', k)
        print(f"{load:5} {k:12} websocket {ws:10.1f}  polling {po:10.1f}  polling/websocket {po / ws:.2f}")
    for tr in ('websocket', 'polling'):
        print(f"{load:5} {tr:9} lost {total(load, tr, 'lost')}, users dropped {total(load, tr, 'drops')}, failed connects {total(load, tr, 'failures')}")
PY
