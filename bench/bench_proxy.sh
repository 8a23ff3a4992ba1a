#!/usr/bin/env bash
# The capture proxy against a direct connection and against the best plain reverse proxies,
# same load generator, same upstream, same run (issue 8): wrk (keep-alive) POSTing 1 KiB bodies
# to a private nginx (1 worker) answering 1 KiB, directly, through `eventception proxy --local`
# (captures to /dev/null), through HAProxy and through nginx proxy_pass with upstream keepalive
# (neither captures anything), each with 1 and with 2 threads/workers.
# For every mode it prints req/s, the ratio to direct, p50/p99, the added p99 and the CPU time
# per request of wrk, of the upstream nginx and of the proxy (utime+stime from /proc, all threads).
# Targets: added p99 < 1 ms, ratio >= 0.80; ours within ~1.3x of HAProxy's CPU per request.
# Usage: bench/bench_proxy.sh [BUILD_DIR] [SECONDS] [CONNECTIONS] [MODES]
#   MODES: space-separated subset of "direct ours1 haproxy1 nginx1 ours2 haproxy2 nginx2"
#   (direct always runs first). EC_BENCH_ROUNDS=N repeats the whole sequence N times and adds
#   the median over the rounds. EC_BENCH_PERF=1 also prints `perf stat` of each proxy
#   (task-clock, context switches, syscalls); EC_BENCH_PERF_RECORD=FILE also writes a `perf record -g` profile of it.
set -euo pipefail
build=${1:-build}
secs=${2:-10}
conns=${3:-16}
modes=${4:-"ours1 haproxy1 nginx1 ours2 haproxy2 nginx2"}
bin=$(cd "$build" && pwd)/eventception
for tool in wrk nginx haproxy python3; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 1; }
done
run=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$run"/*.pid; do [ -f "$f" ] && kill -QUIT "$(cat "$f")" 2>/dev/null || true; done
  sleep 0.2
  rm -rf "$run"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
# nginx worker pids of a master (comma-separated).
workers() { pgrep -P "$(cat "$1")" | paste -sd, -; }

# --- the upstream: nginx, one worker, answering 1 KiB of JSON ---
up=$(free_port)
body=$(head -c 1024 /dev/zero | tr '\0' 'x')
mkdir -p "$run/logs" "$run/tmp"
cat > "$run/upstream.conf" <<CONF
worker_processes 1;
pid $run/upstream.pid;
error_log $run/logs/upstream.log warn;
events { worker_connections 4096; }
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
nginx -e "$run/logs/upstream.log" -p "$run" -c "$run/upstream.conf"
wait_port "$up"

declare -A url proc
url[direct]="http://127.0.0.1:$up/"
proc[direct]=""

# --- the peers and ours, started only when asked for ---
start_ours() {  # THREADS
  local p; p=$(free_port)
  "$bin" proxy --listen "127.0.0.1:$p" --upstream "http://127.0.0.1:$up" --local --threads "$1" \
    > /dev/null 2> "$run/ours$1.log" &
  pids+=($!)
  wait_port "$p"
  url[ours$1]="http://127.0.0.1:$p/"; proc[ours$1]=$!
}
start_haproxy() {  # THREADS
  local p; p=$(free_port)
  cat > "$run/haproxy$1.cfg" <<CONF
global
  nbthread $1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$p
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$up
CONF
  haproxy -f "$run/haproxy$1.cfg" -D -p "$run/haproxy$1.pid"
  wait_port "$p"
  url[haproxy$1]="http://127.0.0.1:$p/"; proc[haproxy$1]=$(cat "$run/haproxy$1.pid")
}
start_nginx_proxy() {  # WORKERS
  local p; p=$(free_port)
  cat > "$run/nginx$1.conf" <<CONF
worker_processes $1;
pid $run/nginx$1.pid;
error_log $run/logs/nginx$1.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $run/tmp;
  proxy_temp_path $run/tmp;
  upstream api { server 127.0.0.1:$up; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$p;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  nginx -e "$run/logs/nginx$1.log" -p "$run" -c "$run/nginx$1.conf"
  wait_port "$p"
  url[nginx$1]="http://127.0.0.1:$p/"; proc[nginx$1]=$(workers "$run/nginx$1.pid")
}
for m in $modes; do
  case $m in
    ours[12]) start_ours "${m#ours}" ;;
    haproxy[12]) start_haproxy "${m#haproxy}" ;;
    nginx[12]) start_nginx_proxy "${m#nginx}" ;;
    *) echo "unknown mode $m" >&2; exit 2 ;;
  esac
done

cat > "$run/post.lua" <<LUA
wrk.method = "POST"
wrk.body = string.rep("y", 1024)
wrk.headers["Content-Type"] = "text/plain"
LUA

# Runs wrk against one mode and prints one line of figures (python does the bookkeeping:
# /proc/<pid>/stat utime+stime of the upstream worker and of every proxy process, and wrk's
# own CPU from getrusage of its child).
measure() {  # MODE
  local m=$1
  python3 - "$m" "${url[$m]}" "$(workers "$run/upstream.pid")" "${proc[$m]}" "$conns" "$secs" \
      "$run/post.lua" <<'PY'
import os, re, resource, subprocess, sys
mode, target, up_pids, px_pids, conns, secs, script = sys.argv[1:8]
hz = os.sysconf("SC_CLK_TCK")
def ticks(pids):
    total = 0
    for p in filter(None, pids.split(",")):
        f = open(f"/proc/{p}/stat").read()
        fields = f[f.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (all threads)
    return total
u0, p0 = ticks(up_pids), ticks(px_pids)
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency", "-s", script, target],
                     capture_output=True, text=True, check=True).stdout
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
u1, p1 = ticks(up_pids), ticks(px_pids)
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u]
p = dict((k, ms(v, u)) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
n = float(re.search(r"(\d+) requests in", out).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
wrk_us = ((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)) * 1e6 / n
up_us = (u1 - u0) * 1e6 / hz / n
px_us = (p1 - p0) * 1e6 / hz / n if px_pids else 0.0
print(mode, rps, p["50"], p["99"], wrk_us, up_us, px_us, "errors:" + errs.group(0).replace(" ", "_") if errs else "")
PY
}

echo "wrk -t1 -c$conns -d${secs}s, POST 1 KiB -> 1 KiB, keep-alive; upstream nginx 1 worker; $(uptime)"
results="$run/results"
rounds=${EC_BENCH_ROUNDS:-1}
: > "$results"
for round in $(seq "$rounds"); do
  for m in direct $modes; do
    wrk -t1 -c"$conns" -d1s -s "$run/post.lua" "${url[$m]}" > /dev/null  # warm-up (connections, caches)
    if [ "${EC_BENCH_PERF:-0}" = 1 ] && [ "$m" != direct ] && command -v perf >/dev/null; then
      perf stat -e "${EC_BENCH_PERF_EVENTS:-task-clock,context-switches,raw_syscalls:sys_enter}" \
        -p "${proc[$m]}" -o "$run/perf.txt" -- sleep "$secs" > /dev/null 2>&1 &
      perf_pid=$!
      if [ -n "${EC_BENCH_PERF_RECORD:-}" ] && [ "$m" = ours1 ]; then  # a file name: also a call-graph profile
        perf record -g -p "${proc[$m]}" -o "$EC_BENCH_PERF_RECORD" -- sleep "$secs" > /dev/null 2>&1 &
        perf_pid="$perf_pid $!"
      fi
      echo "$round $(measure "$m")" >> "$results"
      wait $perf_pid || true
      echo "round $round $m perf stat: $(grep -E 'task-clock|context-switches|sys_enter' "$run/perf.txt" | awk '{printf "%s %s  ", $1, $2}')"
    else
      echo "$round $(measure "$m")" >> "$results"
    fi
  done
done
# One table per round (each mode against that round's direct run), then with several rounds
# the median of each column over the rounds (modes interleave, so load from outside hits all).
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rounds = {}
for r in rows:
    rounds.setdefault(r[0], []).append(r[1:])
def line(m, rps, ratio, p50, p99, add, w, u, p, extra=""):
    add_s = "" if add is None else f"{add:8.3f}"
    return (f"{m:<9} {rps:8.0f} {ratio:6.2f} {p50:7.3f} {p99:7.3f} {add_s:>8}  "
            f"{w:15.1f} {u:8.1f} {p:7.1f}{extra}")
head = (f"{'mode':<9} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'+p99 ms':>8}  "
        f"{'CPU us/req: wrk':>15} {'upstream':>8} {'proxy':>7}")
per_mode = {}
for k, rs in rounds.items():
    if len(rounds) > 1: print(f"round {k}")
    print(head)
    d = next(r for r in rs if r[0] == "direct")
    drps, d99 = float(d[1]), float(d[3])
    for r in rs:
        m, rps, p50, p99, w, u, p = r[0], *map(float, r[1:7])
        add = None if m == "direct" else p99 - d99
        print(line(m, rps, rps / drps, p50, p99, add, w, u, p, " " + r[7] if len(r) > 7 else ""))
        per_mode.setdefault(m, []).append((rps, rps / drps, p50, p99, add, w, u, p))
med = {}
if len(rounds) > 1:
    print(f"median of {len(rounds)} rounds")
    print(head)
for m, vals in per_mode.items():
    cols = list(zip(*vals))
    med[m] = [statistics.median(c) if c[0] is not None else None for c in cols]
    if len(rounds) > 1: print(line(m, *med[m]))
for t in "12":
    a, b = med.get(f"ours{t}"), med.get(f"haproxy{t}")
    if a and b and b[7] > 0:
        print(f"ours{t} CPU per request = {a[7] / b[7]:.2f}x haproxy{t}'s (target <= ~1.3x)")
print("targets: added p99 < 1 ms, ratio >= 0.80 (haproxy/nginx capture nothing: they are the ceiling)")
PY
for t in 1 2; do
  if [ -n "${proc[ours$t]:-}" ]; then
    kill -INT "${proc[ours$t]}"; wait "${proc[ours$t]}" 2>/dev/null || true
    echo "ours$t: $(tail -1 "$run/ours$t.log")"
  fi
done
