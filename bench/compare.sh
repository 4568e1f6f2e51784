#!/usr/bin/env bash
# Side-by-side benchmark: the same raw WebSocket echo backends reached
# directly, through wslab's balancer, through nginx and through HAProxy, in
# alternating rounds; medians and ratios go to BENCHMARKS.md.
#
#   bash bench/compare.sh [ROUNDS]      (default 3; takes ~2 min a round)
#   BASE=REV bash bench/compare.sh 5    also runs wslab built from git
#                                       revision REV, alternating with the
#                                       others: a before/after in one run
#
# Each proxy gets one core (GOMAXPROCS=1, worker_processes 1, nbthread 1);
# the load tool and each backend run with GOMAXPROCS=1 too. wslab runs with
# its idle timeout, health checks, events and introspection on.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
HOLD=${HOLD:-5000}
W=$(mktemp -d /tmp/wslab-bench.XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v haproxy >/dev/null || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

go build -o "$W/lab" ./cmd/lab
LAB="$W/lab"
if [ -n "${BASE:-}" ]; then
  echo "building wslab at $BASE for the before/after columns"
  git worktree add --detach "$W/base-src" "$BASE" >/dev/null 2>&1
  (cd "$W/base-src" && go build -o "$W/lab-base" ./cmd/lab)
  git worktree remove --force "$W/base-src"
fi
GOMAXPROCS=1 "$LAB" load echo-server --listen 127.0.0.1:19101 --name echo-1 >"$W/echo1.log" 2>&1 & PIDS+=($!)
GOMAXPROCS=1 "$LAB" load echo-server --listen 127.0.0.1:19102 --name echo-2 >"$W/echo2.log" 2>&1 & PIDS+=($!)

# The config sits in a folder of its own: lab balancer watches the folder
# of its config for edits, and log lines written beside it would each wake
# the watcher.
mkdir -p "$W/conf"
cat >"$W/conf/wslab.yaml" <<YAML
listener: {addr: 127.0.0.1:18080, idle_timeout: 60s}
server_group:
  policy: round_robin
  health_check: {path: /healthz}
  servers:
    - {name: echo-1, url: http://127.0.0.1:19101}
    - {name: echo-2, url: http://127.0.0.1:19102}
YAML

cat >"$W/nginx.conf" <<NGINX
worker_processes 1;
user root;
pid $W/nginx.pid;
error_log $W/nginx.err;
worker_rlimit_nofile 20000;
events { worker_connections 19000; }
http {
  access_log off;
  upstream echo { server 127.0.0.1:19101; server 127.0.0.1:19102; }
  server {
    listen 127.0.0.1:18081;
    location / {
      proxy_pass http://echo;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 60s;
      proxy_send_timeout 60s;
    }
  }
}
NGINX

cat >"$W/haproxy.cfg" <<HAP
global
  maxconn 9500
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout tunnel 60s
frontend fe
  bind 127.0.0.1:18082
  default_backend be
backend be
  balance roundrobin
  server e1 127.0.0.1:19101
  server e2 127.0.0.1:19102
HAP

mkdir -p "$W/conf-base"
sed 's/18080/18083/' "$W/conf/wslab.yaml" >"$W/conf-base/wslab.yaml"

declare -A URL=([direct]=ws://127.0.0.1:19101/ [wslab]=ws://127.0.0.1:18080/ [nginx]=ws://127.0.0.1:18081/ [haproxy]=ws://127.0.0.1:18082/ [wslab-base]=ws://127.0.0.1:18083/)
declare -A PID=()

# Every round starts the proxies anew, so the memory of held tunnels is
# measured in fresh processes (they keep what they once used).
start_proxies() {
  GOMAXPROCS=1 "$LAB" balancer --config "$W/conf/wslab.yaml" --admin 127.0.0.1:18091 >>"$W/wslab.log" 2>&1 &
  PID[wslab]=$!
  nginx -c "$W/nginx.conf" -p "$W" -g 'daemon off;' &
  PID[nginx]=$!
  haproxy -f "$W/haproxy.cfg" -db >>"$W/haproxy.log" 2>&1 &
  PID[haproxy]=$!
  PIDS+=("${PID[wslab]}" "${PID[nginx]}" "${PID[haproxy]}")
  if [ -n "${BASE:-}" ]; then
    GOMAXPROCS=1 "$W/lab-base" balancer --config "$W/conf-base/wslab.yaml" --admin 127.0.0.1:18092 >>"$W/wslab-base.log" 2>&1 &
    PID[wslab-base]=$!
    PIDS+=("${PID[wslab-base]}")
  fi
  sleep 1
}
stop_proxies() {
  for t in "${TARGETS[@]:1}"; do kill "${PID[$t]}" 2>/dev/null || true; wait "${PID[$t]}" 2>/dev/null || true; done
}
TARGETS=(direct wslab nginx haproxy)
[ -n "${BASE:-}" ] && TARGETS=(direct wslab wslab-base nginx haproxy)

# cpu_ticks sums the CPU time (user + system, in clock ticks) a proxy and
# its children have used so far.
cpu_ticks() {
  local pids
  pids=$(pgrep -P "$1" 2>/dev/null || true)
  for p in $1 $pids; do awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null; done | awk '{s+=$1} END {print s+0}'
}
# flood runs one flood and records the proxy's CPU time for it.
flood() {
  local t=$1 window=$2 round=$3 c0=0 c1=0
  [ "$t" != direct ] && c0=$(cpu_ticks "${PID[$t]}")
  run --mode flood --conns 50 --window "$window" --size 1024 --duration 5s --url "${URL[$t]}" >"$W/flood$window-$t-$round.json"
  [ "$t" != direct ] && c1=$(cpu_ticks "${PID[$t]}")
  echo "{\"cpu_ticks\": $((c1 - c0)), \"hz\": $(getconf CLK_TCK)}" >"$W/cpu$window-$t-$round.json"
}

# rss_kib sums the resident memory of a proxy (nginx: master and workers).
rss_kib() {
  local pids
  pids=$(pgrep -P "$1" 2>/dev/null || true)
  for p in $1 $pids; do awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s+=$1} END {print s+0}'
}

run() { GOMAXPROCS=1 "$LAB" load --json "$@" 2>/dev/null || true; }

for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS"
  start_proxies
  for t in "${TARGETS[@]}"; do
    # hold: open $HOLD idle connections (32 handshakes in flight), read the
    # proxy's RSS while they are held, then check each still answers.
    before=0; [ "$t" != direct ] && before=$(rss_kib "${PID[$t]}")
    GOMAXPROCS=1 "$LAB" load --json --mode hold --conns "$HOLD" --ramp 32 --duration 8s --url "${URL[$t]}" >"$W/hold-$t-$round.json" 2>"$W/hold-$t-$round.err" &
    lp=$!
    until grep -q "open $HOLD " "$W/hold-$t-$round.err" 2>/dev/null || ! kill -0 $lp 2>/dev/null; do sleep 0.2; done
    sleep 2
    after=0; [ "$t" != direct ] && after=$(rss_kib "${PID[$t]}")
    wait $lp || true
    echo "{\"before_kib\": $before, \"after_kib\": $after}" >"$W/rss-$t-$round.json"
    sleep 2 # let the proxy close them
  done
  for t in "${TARGETS[@]}"; do run --mode rtt --conns 50 --messages 400 --size 256 --url "${URL[$t]}" >"$W/rtt-$t-$round.json"; done
  for t in "${TARGETS[@]}"; do flood "$t" 16 "$round"; done
  for t in "${TARGETS[@]}"; do flood "$t" 256 "$round"; done
  stop_proxies
done

NGINX_V=$(nginx -v 2>&1 | sed 's/.*nginx\///')
HAPROXY_V=$(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}')
CMD="bash bench/compare.sh $ROUNDS"
[ -n "${BASE:-}" ] && CMD="BASE=$BASE $CMD"
python3 bench/summarize.py "$W" "$ROUNDS" "$HOLD" "$NGINX_V" "$HAPROXY_V" "$CMD" "${BASE:-}" > BENCHMARKS.md
cat BENCHMARKS.md
echo "raw results: $W"
