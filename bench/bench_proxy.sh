#!/usr/bin/env bash
# The capture proxy against a direct connection, same load generator, same run (issue 8):
# wrk (keep-alive) POSTing 1 KiB bodies to a private nginx answering 1 KiB, directly and
# through `eventception proxy --local` (captures to /dev/null). Prints p50/p99 and requests/s,
# the added p99 and the throughput ratio. Targets: added p99 < 1 ms, ratio >= 0.80.
# Usage: bench/bench_proxy.sh [BUILD_DIR] [SECONDS] [CONNECTIONS]
set -euo pipefail
build=${1:-build}
secs=${2:-10}
conns=${3:-16}
bin=$(cd "$build" && pwd)/eventception
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx" >&2; exit 1; }
run=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$run/nginx.pid" ] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

up=$(free_port)
body=$(head -c 1024 /dev/zero | tr '\0' 'x')
mkdir -p "$run/logs" "$run/tmp"
cat > "$run/nginx.conf" <<CONF
worker_processes 1;
pid $run/nginx.pid;
error_log $run/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $run/tmp;
  server {
    listen 127.0.0.1:$up;
    keepalive_requests 1000000;
    location / { default_type application/json; return 200 '{"pad":"$body"}'; }
  }
}
CONF
nginx -e "$run/logs/error.log" -p "$run" -c "$run/nginx.conf"

px=$(free_port)
"$bin" proxy --listen "127.0.0.1:$px" --upstream "http://127.0.0.1:$up" --local --threads 1 \
  > /dev/null 2> "$run/proxy.log" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$run/proxy.log" && break; sleep 0.1; done

cat > "$run/post.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("y", 1024)
wrk.headers["Content-Type"] = "text/plain"
LUA

measure() {  # URL -> "p50_ms p99_ms rps"
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$run/post.lua" "$1" > "$run/wrk.out"
  python3 - "$run/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
p = dict((k, ms(v, u)) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", t, re.M))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(p["50"], p["99"], rps)
PY
}
wrk -t1 -c"$conns" -d1s -s "$run/post.lua" "http://127.0.0.1:$up/" > /dev/null  # warm-up
read -r d50 d99 drps < <(measure "http://127.0.0.1:$up/")
read -r p50 p99 prps < <(measure "http://127.0.0.1:$px/")
python3 - "$d50" "$d99" "$drps" "$p50" "$p99" "$prps" "$secs" "$conns" <<'PY'
import sys
d50, d99, drps, p50, p99, prps = map(float, sys.argv[1:7])
print(f"wrk -t1 -c{sys.argv[8]} -d{sys.argv[7]}s, POST 1 KiB -> 1 KiB, keep-alive")
print(f"direct : p50 {d50:.3f} ms  p99 {d99:.3f} ms  {drps:.0f} req/s")
print(f"proxied: p50 {p50:.3f} ms  p99 {p99:.3f} ms  {prps:.0f} req/s")
print(f"added p99 {p99 - d99:.3f} ms (target < 1 ms); throughput ratio {prps / drps:.2f} (target >= 0.80)")
PY
kill -INT "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
tail -1 "$run/proxy.log"
