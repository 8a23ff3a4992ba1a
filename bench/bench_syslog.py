#!/usr/bin/env python3
"""Syslog ingest: lines per CPU-second of `eventception serve --syslog-tcp` vs syslog-ng's.

Same input (the anchor's NDJSON exchanges, /work/shared/anchors/gen/gen.mjs), same sender
(one TCP connection, the whole file pushed with sendfile(2), LF framing), one run each, in
the same invocation:
  * syslog-ng 3.38: the anchor harness (../shared/anchors/pipeline/run_pipeline.py, mode
    `nofilter` = parse JSON and write a reshaped line per input line; `raw` = no parsing).
  * eventception: serve with the shop spec and a syslog TCP listener; t1 = every line is
    durable in the raw topic (eventception_ingested_total{source="capture"} = N). CPU = the
    whole serve process (utime + stime of all threads: listener, decode, append, and the
    pipeline runner working on the same records meanwhile).
Usage: bench/bench_syslog.py [--lines 200000] [--binary build-capture/eventception]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ANCHORS = os.path.join(ROOT, "..", "shared", "anchors")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingested(http_port):
    body = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5).read().decode()
    m = re.search(r'eventception_ingested_total\{source="capture"\} (\d+)', body)
    return int(m.group(1)) if m else 0


def run_ours(binary, path, lines, timeout):
    tmp = tempfile.mkdtemp(prefix="ec_bench_syslog_")
    log = open(os.path.join(tmp, "serve.log"), "w+")
    p = subprocess.Popen([binary, "serve", "--spec", os.path.join(ROOT, "examples/shop/openapi.yaml"),
                          "--data-dir", os.path.join(tmp, "data"), "--http", "127.0.0.1:0",
                          "--kafka", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        http = tcp = None
        deadline = time.time() + 30
        while time.time() < deadline and not (http and tcp):
            log.seek(0)
            text = log.read()
            m = re.search(r"HTTP listening on [^:]+:(\d+)", text)
            http = int(m.group(1)) if m else None
            m = re.search(r"Syslog listening on tcp [^:]+:(\d+)", text)
            tcp = int(m.group(1)) if m else None
            time.sleep(0.05)
        if not (http and tcp):
            raise RuntimeError("serve did not start: " + text)
        time.sleep(0.3)
        cpu0 = cpu_seconds(p.pid)
        t0 = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", tcp))
        with open(path, "rb") as f:
            s.sendfile(f)
        s.shutdown(socket.SHUT_WR)
        t_sent = time.perf_counter()
        n = 0
        while n < lines:
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"timeout: {n} of {lines} ingested")
            time.sleep(0.01)
            n = ingested(http)
        t1 = time.perf_counter()
        cpu1 = cpu_seconds(p.pid)
        if os.environ.get("EC_BENCH_THREADS"):  # each live thread's CPU (since the start)
            for tid in sorted(os.listdir(f"/proc/{p.pid}/task"), key=int):
                try:
                    with open(f"/proc/{p.pid}/task/{tid}/stat") as f:
                        st = f.read()
                except FileNotFoundError:
                    continue
                name = st[st.index("(") + 1:st.rindex(")")]
                fields = st.rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                if cpu >= 0.01:
                    print("  thread %s %-16s %.2f CPU-s" % (tid, name, cpu))
        s.close()
        return {"seconds": t1 - t0, "send_seconds": t_sent - t0, "lines_per_s": lines / (t1 - t0),
                "cpu_s": cpu1 - cpu0, "lines_per_cpu_s": lines / (cpu1 - cpu0), "ingested": n}
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_syslog_ng(path, lines, mode):
    # The anchor's own run function (its main() first waits for a quiet machine; we compare in
    # the same run instead, and print the load).
    sys.path.insert(0, os.path.join(ANCHORS, "pipeline"))
    import run_pipeline
    ns = argparse.Namespace(engine="syslog-ng", mode=mode, input=path, input_lines=lines, expect=lines,
                            port=free_port(), timeout=300, keep=False, conns=1)
    r = run_pipeline.one_run(ns, 0)
    return {"seconds": r["seconds"], "lines_per_s": r["lines_per_s"], "cpu_s": r["daemon_cpu_s"],
            "lines_per_cpu_s": lines / r["daemon_cpu_s"], "out_lines": r["out_lines"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=200000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build-capture", "eventception"))
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--no-syslog-ng", action="store_true", help="only ours (before/after comparisons)")
    args = ap.parse_args()
    path = f"/tmp/anchors/exchanges-{args.lines}.ndjson"
    if not os.path.exists(path):
        os.makedirs("/tmp/anchors", exist_ok=True)
        subprocess.run(["node", os.path.join(ANCHORS, "gen", "gen.mjs"), "ndjson", str(args.lines), path], check=True)
    print("load:", open("/proc/loadavg").read().strip())
    if args.no_syslog_ng:
        ours = run_ours(args.binary, path, args.lines, args.timeout)
        print(f"eventception syslog     {ours['lines_per_s']:10.0f} lines/s  {ours['cpu_s']:7.2f} CPU-s  "
              f"{ours['lines_per_cpu_s']:10.0f} lines/CPU-s")
        print("load:", open("/proc/loadavg").read().strip())
        return
    ng = run_syslog_ng(path, args.lines, "nofilter")
    ng_raw = run_syslog_ng(path, args.lines, "raw")
    ours = run_ours(args.binary, path, args.lines, args.timeout)
    for name, r in (("syslog-ng nofilter", ng), ("syslog-ng raw", ng_raw), ("eventception syslog", ours)):
        print(f"{name:22s} {r['lines_per_s']:10.0f} lines/s  {r['cpu_s']:7.2f} CPU-s  {r['lines_per_cpu_s']:10.0f} lines/CPU-s")
    print(f"ratio lines/CPU-s eventception / syslog-ng nofilter = {ours['lines_per_cpu_s'] / ng['lines_per_cpu_s']:.2f}x"
          f"  (/ raw = {ours['lines_per_cpu_s'] / ng_raw['lines_per_cpu_s']:.2f}x)")
    print("load:", open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
