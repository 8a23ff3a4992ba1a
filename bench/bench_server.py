#!/usr/bin/env python3
"""End-to-end benchmark of `eventception serve`: shop traffic as NDJSON over HTTP ingest ->
events durable on their topics.

Starts the binary on free ports over a fresh temp data dir, generates N shop exchanges with
examples/shop/traffic.py (deterministic seed), posts them over ONE keep-alive connection in
NDJSON batches, and waits until the pipeline has processed every record
(eventception_processed_total == N on /metrics). Reports lines/s, lines per server CPU-second
(utime+stime of the server process), the server's peak RSS (VmHWM), and the ingest-to-topic
latency histogram's p50/p99 bucket bounds.

Then, in the same server, a second phase sends `count` further exchanges paced at half the
end-to-end rate just measured (NDJSON requests of --paced-batch lines, evenly spaced, each sent at
its due time on whichever of --paced-connections (4) connections is free: an open loop, so a
slower answer does not lower the load sent; the "sent" figure says what was achieved) and reports
the ingest->topic latency (raw append to outputs durable, the server's histogram, this phase
only) as p50/p99 bucket bounds, and where records wait in this phase: the pipeline pass's phases
(eventception_pipeline_pass_seconds: queue = the oldest record's wait for the pass to start,
process, commit = the pass's transaction, state = the changelog state checkpoint after it) and
ingest's durable append (eventception_ingest_append_seconds). EC_BENCH_SERVE_LOG=FILE keeps the
server's output.

--trace DIR: the server runs with EC_TRACE_PASSES=DIR/run<N>.trace (one line per pass, durable
append, fdatasync, zero-fill and roll: src/log/trace.h) and this script writes DIR/run<N>.posts
(one line per request: start and end in wall-clock microseconds, lines, phase) and copies the
RocksDB LOG files of the state store and the dedupe index there;
bench/trace_passes.py DIR/run<N> lines them up and lists the slow records of the half-rate phase.

EC_BENCH_THREADS=1 prints each server thread's CPU and context switches (voluntary: it blocked;
involuntary: preempted) after the first phase and again, as `END`
lines, after the half-rate phase (RocksDB's flushes and compactions mostly come late). The
generated traffic is cached in ~/.cache/eventception-bench (keyed by count and traffic.py's hash).

Last, syslog-ng 3.38 (the anchor harness, ../shared/anchors/pipeline/run_pipeline.py, mode
`nofilter`: parse each JSON line, write a reshaped line) gets the same shop lines over one TCP
connection, and the ratio of lines per CPU-second (ours / syslog-ng's) is printed; then its `raw`
mode (no parsing: each line from the socket to a file) on the same lines, for scale.

--annotations events|ingest serves a copy of the shop spec with part of its x-eventception taken
out, to show what each part of the work costs: `events` drops the changelog resources (the
`resources` map and each operation's `resource`), `ingest` drops every event and resource and
keeps only the source and the redaction, so the run measures ingest, the durable append, the
dedupe index and the pipeline's read and match, and no output at all.

  bench/bench_server.py --binary build/eventception [--count 200000] [--batch 1000] [--runs 3]
                        [--paced-batch 100] [--paced-rate 0] [--no-syslog-ng]
                        [--annotations all|events|ingest]
"""
import argparse
import atexit
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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


LATENCY = "eventception_end_to_end_latency_seconds"
# Where the records wait: the pipeline pass's phases and ingest's durable append.
PHASES = [("queue", 'eventception_pipeline_pass_seconds', 'phase="queue",'),
          ("process", 'eventception_pipeline_pass_seconds', 'phase="process",'),
          ("commit", 'eventception_pipeline_pass_seconds', 'phase="commit",'),
          ("state", 'eventception_pipeline_pass_seconds', 'phase="state",'),
          ("ingest append", 'eventception_ingest_append_seconds', '')]


def latency_buckets(text, name=LATENCY, labels=""):
    return [(float("inf") if le == "+Inf" else float(le), float(v)) for le, v in
            re.findall(r'^' + name + r'_bucket\{' + re.escape(labels) + r'le="([^"]+)"\} (\S+)$', text, re.M)]


def quantile_bound(text, q, since=None, name=LATENCY, labels=""):
    """Upper bound of the histogram bucket holding quantile q (of the observations after `since`,
    an earlier latency_buckets() snapshot, when given)."""
    buckets = latency_buckets(text, name, labels)
    if since:
        base = dict(since)
        buckets = [(le, c - base.get(le, 0.0)) for le, c in buckets]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for le, c in buckets:
        if c >= q * total:
            return le
    return None


def post(conn, body, posts=None, phase=""):
    while True:
        t0 = time.time()
        conn.request("POST", "/v1/exchanges", body=body, headers={"content-type": "application/x-ndjson"})
        r = conn.getresponse()
        answer = r.read()
        if posts is not None:
            posts.append((int(t0 * 1e6), int(time.time() * 1e6), body.count("\n"), phase, r.status))
        if r.status == 429:
            time.sleep(float(r.getheader("retry-after", "1")))
            continue
        if r.status != 202:
            sys.exit("ingest answered %d" % r.status)
        return json.loads(answer)["accepted"]


def metrics_text(port):
    mconn = http.client.HTTPConnection("127.0.0.1", port)
    mconn.request("GET", "/metrics")
    return mconn.getresponse().read().decode()


def wait_processed(port, n):
    mconn = http.client.HTTPConnection("127.0.0.1", port)
    while True:
        mconn.request("GET", "/metrics")
        text = mconn.getresponse().read().decode()
        if metric(text, "eventception_processed_total") >= n:
            return text
        time.sleep(0.005)


def run_once(args, lines, run_no=1):
    data_dir = tempfile.mkdtemp(prefix="ec_bench_")
    log_path = os.path.join(data_dir, "serve.log")
    log = open(log_path, "w")
    env = dict(os.environ)
    trace_base = None
    posts = None
    if args.trace:
        os.makedirs(args.trace, exist_ok=True)
        trace_base = os.path.join(args.trace, "run%d" % run_no)
        if os.path.exists(trace_base + ".trace"):
            os.unlink(trace_base + ".trace")
        env["EC_TRACE_PASSES"] = trace_base + ".trace"
        posts = []
    proc = subprocess.Popen([args.binary, "serve", "--spec", args.spec,
                             "--data-dir", os.path.join(data_dir, "data"), "--http", "127.0.0.1:0",
                             "--kafka", "127.0.0.1:0"] + (["--config", args.config] if args.config else []),
                            stdout=log, stderr=log, env=env)
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
        first, second = lines[:args.count], lines[args.count:]
        bodies = ["\n".join(first[i:i + args.batch]) + "\n" for i in range(0, len(first), args.batch)]
        _, cpu0 = proc_stats(proc.pid)
        t0 = time.time()
        accepted = 0
        for body in bodies:
            accepted += post(conn, body, posts, "full")
        t_ingest = time.time()
        text = wait_processed(port, accepted)
        t1 = time.time()
        hwm, cpu1 = proc_stats(proc.pid)
        if os.environ.get("EC_BENCH_THREADS"):
            print_threads(proc.pid, "")
        result = {"secs": t1 - t0, "ingest_secs": t_ingest - t0, "cpu": cpu1 - cpu0, "hwm": hwm,
                  "p50": quantile_bound(text, 0.5), "p99": quantile_bound(text, 0.99),
                  "emitted": sum(float(v) for v in re.findall(r"^eventception_emitted_total\{[^}]*\} (\S+)$", text, re.M))}
        if second:
            # Paced phase: half the end-to-end rate just measured, evenly spaced small requests.
            # --paced-rate: a fixed offered load, so that A/B pairs compare at the same rate (half
            # of each run's own end-to-end rate varies with the machine's load and the binary).
            rate = args.paced_rate if args.paced_rate > 0 else 0.5 * len(first) / (t1 - t0)
            before = latency_buckets(text)
            phases_before = {p: latency_buckets(text, n, l) for p, n, l in PHASES}
            interval = args.paced_batch / rate
            # Open loop: each request goes at its due time on whichever of --paced-connections
            # connections is free, as a gateway's workers would send. One connection that waits
            # for each 202 before sending the next falls behind as soon as a 202 takes longer
            # than the interval, and then measures a lower load than asked (the records sent
            # late are timed from when they were sent: coordinated omission). "sent" below
            # says what was achieved.
            start = time.time()
            chunks = [second[i:i + args.paced_batch] for i in range(0, len(second), args.paced_batch)]
            next_chunk = [0]
            counts = [0, 0]  # accepted, sent
            lock = threading.Lock()
            failures = []

            def paced_sender():
                try:
                    send_paced()
                except BaseException as e:  # post's sys.exit too: the main thread exits with it
                    failures.append(e)

            def send_paced():
                c = http.client.HTTPConnection("127.0.0.1", port)
                while True:
                    with lock:
                        k = next_chunk[0]
                        next_chunk[0] += 1
                    if k >= len(chunks):
                        return
                    delay = start + k * interval - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    n = post(c, "\n".join(chunks[k]) + "\n", posts, "half")
                    with lock:
                        counts[0] += n
                        counts[1] += len(chunks[k])

            senders = [threading.Thread(target=paced_sender) for _ in range(max(1, args.paced_connections))]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
            if failures:
                sys.exit("half-rate phase: %s" % failures[0])
            accepted += counts[0]
            sent = counts[1]
            t_sent = time.time()
            text = wait_processed(port, accepted)
            hwm, _ = proc_stats(proc.pid)
            if os.environ.get("EC_BENCH_THREADS"):
                # Again over the whole run: RocksDB's flushes and compactions of the lines of
                # both phases mostly happen after the first phase was counted.
                print("  -- threads at the end of the half-rate phase (whole run, both phases):")
                print_threads(proc.pid, "END ")
                print("  END process %.3f CPU-s (since it started)" % proc_stats(proc.pid)[1])
            result.update({"paced_rate": rate, "paced_achieved": sent / (t_sent - start),
                           "paced_p50": quantile_bound(text, 0.5, before),
                           "paced_p99": quantile_bound(text, 0.99, before), "hwm": hwm,
                           "phases": ["%s p50 <= %s p99 <= %s" % (p, quantile_bound(text, 0.5, phases_before[p], n, l),
                                                                  quantile_bound(text, 0.99, phases_before[p], n, l))
                                      for p, n, l in PHASES]})
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        if os.environ.get("EC_BENCH_SERVE_LOG"):  # keep the server's output (e.g. for a trace)
            shutil.copy(log_path, os.environ["EC_BENCH_SERVE_LOG"])
        if trace_base:
            with open(trace_base + ".posts", "w") as f:
                for p in posts:
                    f.write("%d %d %d %s %d\n" % p)
            # RocksDB's own logs (flushes, compactions, write stalls) of both databases.
            for root, _, files in os.walk(os.path.join(data_dir, "data")):
                for name in files:
                    if name == "LOG":
                        tag = os.path.relpath(root, os.path.join(data_dir, "data")).replace(os.sep, "_")
                        shutil.copy(os.path.join(root, name), "%s.rocksdb.%s.LOG" % (trace_base, tag))
        shutil.rmtree(data_dir, ignore_errors=True)


def print_threads(pid, tag):
    """Prints each thread's CPU so far (EC_BENCH_THREADS=1)."""
    tck = os.sysconf("SC_CLK_TCK")
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st.rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / tck
        # schedstat's run time is in ns (stat's is in clock ticks, 10 ms): small
        # per-thread differences (the 16 sync threads) need it.
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                cpu = int(f.read().split()[0]) / 1e9
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            pass
        # Context switches so far: voluntary (the thread blocked: a futex wait, an fdatasync)
        # and involuntary (preempted); a wake-up across the two CPUs costs an IPI in this VM.
        vcs = ics = 0
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vcs = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        ics = int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
        if cpu >= 0.001:
            print("  %sthread %s %-16s %.3f CPU-s, switches %d voluntary %d involuntary" % (tag, tid, name, cpu, vcs, ics))


def shop_traffic(total):
    """traffic.py's lines for `total` exchanges (fixed seed, so always the same), cached under
    ~/.cache/eventception-bench keyed by the count and traffic.py's own hash: generating
    400,000 lines takes minutes on a loaded 2-core machine."""
    script = os.path.join(ROOT, "examples/shop/traffic.py")
    with open(script, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache_dir = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "eventception-bench")
    cache = os.path.join(cache_dir, "shop-%d-%s.ndjson" % (total, digest))
    if os.path.exists(cache):
        with open(cache) as f:
            return f.read()
    out = subprocess.run([sys.executable, script, "--count", str(total), "--out", "-"],
                         check=True, capture_output=True, text=True).stdout
    try:
        os.makedirs(cache_dir, exist_ok=True)
        with open(cache + ".tmp", "w") as f:
            f.write(out)
        os.replace(cache + ".tmp", cache)
    except OSError:
        pass  # a read-only home: just not cached
    return out


def shop_spec(annotations):
    """The shop spec's path, or a copy's with part of its x-eventception taken out (see above)."""
    path = os.path.join(ROOT, "examples/shop/openapi.yaml")
    if annotations == "all":
        return path
    import yaml  # only here: the default run needs no YAML module
    with open(path) as f:
        spec = yaml.safe_load(f)
    top = spec["x-eventception"]
    spec["x-eventception"] = {k: v for k, v in top.items() if k in ("source", "redact")}
    for operations in spec["paths"].values():
        for op in operations.values():
            x = op.get("x-eventception") if isinstance(op, dict) else None
            if x is None:
                continue
            x.pop("resource", None)
            if annotations == "ingest":
                x.pop("events", None)
            if not x:
                del op["x-eventception"]
    out = os.path.join(tempfile.gettempdir(), "ec_bench_server_shop_%s_%d.yaml" % (annotations, os.getpid()))
    with open(out, "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    atexit.register(os.unlink, out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/eventception"))
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--paced-batch", type=int, default=100,
                    help="lines per request in the half-rate latency phase (0 = skip the phase)")
    ap.add_argument("--paced-connections", type=int, default=4,
                    help="connections the half-rate phase sends on, each request at its due time on a "
                         "free one (open loop); 1 = one connection waiting for each answer")
    ap.add_argument("--paced-rate", type=float, default=0,
                    help="lines/s of the latency phase (default 0: half the run's end-to-end rate)")
    ap.add_argument("--no-syslog-ng", action="store_true", help="skip the syslog-ng comparison")
    ap.add_argument("--trace", metavar="DIR", help="trace each run into DIR (see above)")
    ap.add_argument("--config", metavar="FILE", help="passed to serve as --config FILE")
    ap.add_argument("--annotations", choices=["all", "events", "ingest"], default="all",
                    help="serve the shop spec whole (all), without its changelog resources (events), or "
                         "with only its source and redaction (ingest); see above")
    args = ap.parse_args()
    args.spec = shop_spec(args.annotations)
    total = args.count * 2 if args.paced_batch > 0 else args.count
    out = shop_traffic(total)
    lines = out.splitlines()
    first = lines[:args.count]
    avg = sum(len(l) + 1 for l in first) / len(first)
    print("load:", open("/proc/loadavg").read().strip())
    print("input: %d shop exchanges, %.0f bytes/line, NDJSON batches of %d, one connection" % (len(first), avg, args.batch))
    best = 0.0
    for i in range(args.runs):
        r = run_once(args, lines, i + 1)
        best = max(best, len(first) / r["cpu"] if r["cpu"] else 0)
        print("run %d: %.0f lines/s end to end (ingest alone %.0f lines/s), %.0f lines per server CPU-second, "
              "peak RSS %.1f MiB, ingest->topic latency p50 <= %s s, p99 <= %s s, %d events"
              % (i + 1, len(first) / r["secs"], len(first) / r["ingest_secs"], len(first) / r["cpu"] if r["cpu"] else 0,
                 r["hwm"], r["p50"], r["p99"], r["emitted"]))
        if "paced_rate" in r:
            print("       half rate: %.0f lines/s asked, %.0f sent, requests of %d lines: ingest->topic latency "
                  "p50 <= %s s, p99 <= %s s" % (r["paced_rate"], r["paced_achieved"], args.paced_batch,
                                                 r["paced_p50"], r["paced_p99"]))
            print("       half rate, where it waits (s): " + "; ".join(r["phases"]))
    if not args.no_syslog_ng:
        sys.path.insert(0, HERE)
        import bench_syslog
        path = os.path.join(tempfile.gettempdir(), "ec_bench_server_shop_%d.ndjson" % len(first))
        with open(path, "w") as f:
            f.write("\n".join(first) + "\n")
        ng = bench_syslog.run_syslog_ng(path, len(first), "nofilter")
        # Its `raw` mode (receive and write each line, no parsing) puts the target in scale: what
        # syslog-ng spends only to move the lines from the socket to a file.
        raw = bench_syslog.run_syslog_ng(path, len(first), "raw")
        os.unlink(path)
        print("syslog-ng nofilter, same lines over one TCP connection: %.0f lines/s, %.0f lines per CPU-second"
              % (ng["lines_per_s"], ng["lines_per_cpu_s"]))
        print("ratio lines per CPU-second, eventception (best run) / syslog-ng = %.2fx" % (best / ng["lines_per_cpu_s"]))
        print("syslog-ng raw (no parsing: socket to file), same lines: %.0f lines per CPU-second; 10x nofilter "
              "is %.2fx that" % (raw["lines_per_cpu_s"], 10 * ng["lines_per_cpu_s"] / raw["lines_per_cpu_s"]))
    print("load:", open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
