#!/usr/bin/env python3
"""End-to-end benchmark of `eventception serve`: shop traffic as NDJSON over HTTP ingest ->
events durable on their topics.

Starts the binary on free ports over a fresh temp data dir, generates N shop exchanges with
examples/shop/traffic.py (deterministic seed), posts them over ONE keep-alive connection in
NDJSON batches, and waits until the pipeline has processed every record
(eventception_processed_total == N on /metrics). Reports lines/s, lines per server CPU-second
(utime+stime of the server process), the server's peak RSS (VmHWM), and the ingest-to-topic
latency histogram's p50/p99 bucket bounds.

  bench/bench_server.py --binary build/eventception [--count 200000] [--batch 1000] [--runs 3]
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def proc_stats(pid):
    hwm = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return hwm, (int(fields[11]) + int(fields[12])) / tck


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def quantile_bound(text, q):
    buckets = [(float("inf") if le == "+Inf" else float(le), float(v)) for le, v in
               re.findall(r'^eventception_end_to_end_latency_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for le, c in buckets:
        if c >= q * total:
            return le
    return None


def run_once(args, lines):
    data_dir = tempfile.mkdtemp(prefix="ec_bench_")
    log_path = os.path.join(data_dir, "serve.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([args.binary, "serve", "--spec", os.path.join(ROOT, "examples/shop/openapi.yaml"),
                             "--data-dir", os.path.join(data_dir, "data"), "--http", "127.0.0.1:0",
                             "--kafka", "127.0.0.1:0"], stdout=log, stderr=log)
    try:
        port = None
        for _ in range(3000):
            m = re.search(r"HTTP listening on [^:]+:(\d+)", open(log_path).read())
            if m:
                port = int(m.group(1))
                break
            if proc.poll() is not None:
                sys.exit("server exited: " + open(log_path).read())
            time.sleep(0.01)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        bodies = ["\n".join(lines[i:i + args.batch]) + "\n" for i in range(0, len(lines), args.batch)]
        _, cpu0 = proc_stats(proc.pid)
        t0 = time.time()
        for body in bodies:
            while True:
                conn.request("POST", "/v1/exchanges", body=body, headers={"content-type": "application/x-ndjson"})
                r = conn.getresponse()
                r.read()
                if r.status == 429:
                    time.sleep(float(r.getheader("retry-after", "1")))
                    continue
                if r.status != 202:
                    sys.exit("ingest answered %d" % r.status)
                break
        t_ingest = time.time()
        mconn = http.client.HTTPConnection("127.0.0.1", port)
        while True:
            mconn.request("GET", "/metrics")
            text = mconn.getresponse().read().decode()
            if metric(text, "eventception_processed_total") >= len(lines):
                break
            time.sleep(0.005)
        t1 = time.time()
        hwm, cpu1 = proc_stats(proc.pid)
        return {"secs": t1 - t0, "ingest_secs": t_ingest - t0, "cpu": cpu1 - cpu0, "hwm": hwm,
                "p50": quantile_bound(text, 0.5), "p99": quantile_bound(text, 0.99),
                "emitted": sum(float(v) for v in re.findall(r"^eventception_emitted_total\{[^}]*\} (\S+)$", text, re.M))}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/eventception"))
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples/shop/traffic.py"), "--count", str(args.count),
                          "--out", "-"], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    avg = sum(len(l) + 1 for l in lines) / len(lines)
    print("input: %d shop exchanges, %.0f bytes/line, NDJSON batches of %d, one connection" % (len(lines), avg, args.batch))
    for i in range(args.runs):
        r = run_once(args, lines)
        print("run %d: %.0f lines/s end to end (ingest alone %.0f lines/s), %.0f lines per server CPU-second, "
              "peak RSS %.1f MiB, ingest->topic latency p50 <= %s s, p99 <= %s s, %d events"
              % (i + 1, len(lines) / r["secs"], len(lines) / r["ingest_secs"], len(lines) / r["cpu"] if r["cpu"] else 0,
                 r["hwm"], r["p50"], r["p99"], r["emitted"]))


if __name__ == "__main__":
    main()
