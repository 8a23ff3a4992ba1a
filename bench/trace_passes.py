#!/usr/bin/env python3
"""Lines up a serve trace (EC_TRACE_PASSES, src/log/trace.h) with the benchmark's requests, to find
what the slow records of the half-rate phase waited for.

  bench/trace_passes.py DIR/run1 [--top 12] [--phase half|full|all]

reads DIR/run1.trace (written by the server), DIR/run1.posts (bench_server.py --trace) and
DIR/run1.rocksdb.*.LOG (RocksDB's logs) and prints:
  - every record's latency (raw append -> its pass committed) in the phase: p50, p99, max, exact;
  - the share of it spent queued (append -> pass start) and in the pass (read .. commit);
  - the passes holding the slowest 1% of records, each with its phases (read, process, round A,
    round B, markers, state), the gap before it and what else happened while its records waited:
    fdatasyncs, zero-fills, rolls, durable appends and requests over --slow-ms, RocksDB flushes
    and compactions;
  - per partition, fdatasync count and p50/p99/max.
"""
import argparse
import datetime
import glob
import re
import statistics


def parse_fields(rest):
    out = {}
    for tok in rest.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


def load_trace(path):
    events = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) < 3:
                continue
            t = int(parts[0])
            kind = parts[1]
            ev = parse_fields(parts[2])
            ev["kind"] = kind
            ev["t"] = t
            events.append(ev)
    return events


def load_posts(path):
    posts = []
    try:
        with open(path) as f:
            for line in f:
                a = line.split()
                posts.append({"start": int(a[0]), "end": int(a[1]), "lines": int(a[2]), "phase": a[3],
                              "status": int(a[4])})
    except FileNotFoundError:
        pass
    return posts


ROCKS_EVENT = re.compile(r"^(\d{4}/\d\d/\d\d-\d\d:\d\d:\d\d\.\d+) \S+ .*?(EVENT_LOG_v1 \{.*\"event\": \"(\w+)\"|"
                         r"Stalling writes|Stopping writes|\[WARN\].*(stall|Stall)[^\n]*)")


def load_rocks(base):
    out = []
    for path in glob.glob(base + ".rocksdb.*.LOG"):
        tag = path[len(base) + len(".rocksdb."):-len(".LOG")]
        with open(path, errors="replace") as f:
            for line in f:
                m = ROCKS_EVENT.match(line)
                if not m:
                    continue
                ts = datetime.datetime.strptime(m.group(1), "%Y/%m/%d-%H:%M:%S.%f")
                t = int(ts.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e6)
                what = m.group(3) or ("stall: " + line.strip()[27:120])
                dur = re.search(r'"(?:flush|compaction)_time_micros"?: (\d+)|"time_micros": \d+', line)
                out.append({"t": t, "db": tag, "what": what, "line": line.strip()[:160]})
    out.sort(key=lambda e: e["t"])
    return out


def pct(values, q):
    if not values:
        return 0
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def ms(us):
    return "%.1f" % (us / 1000.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", help="DIR/runN (without .trace)")
    ap.add_argument("--top", type=int, default=12, help="slow passes to list")
    ap.add_argument("--phase", default="half", choices=["half", "full", "all"])
    ap.add_argument("--slow-ms", type=float, default=10.0, help="list other events longer than this")
    args = ap.parse_args()
    events = load_trace(args.base + ".trace")
    posts = load_posts(args.base + ".posts")
    rocks = load_rocks(args.base)
    passes = [e for e in events if e["kind"] == "pass"]
    phase_posts = [p for p in posts if args.phase == "all" or p["phase"] == args.phase]
    lo = min(p["start"] for p in phase_posts) if phase_posts else 0
    hi = max(p["end"] for p in phase_posts) if phase_posts else 1 << 62

    # Every record: (latency, queued, pass)
    records = []
    for ps in passes:
        committed = int(ps["committed_us"])
        start = int(ps["start_us"])
        for run in ps.get("appends", "").split(","):
            if not run:
                continue
            t_ms, n = run.split(":")
            t = int(t_ms) * 1000
            if t < lo - 1000 or t > hi:
                continue
            for _ in range(int(n)):
                records.append((committed - t, start - t, ps))
    if not records:
        print("no records in the phase")
        return
    lat = [r[0] for r in records]
    print("phase %s: %d records, %d requests (%.2f s), %d passes" % (
        args.phase, len(records), len(phase_posts), (hi - lo) / 1e6,
        len({id(r[2]) for r in records})))
    print("record latency ms: p50 %s p90 %s p99 %s max %s; queued part: p50 %s p99 %s" % (
        ms(pct(lat, 0.5)), ms(pct(lat, 0.9)), ms(pct(lat, 0.99)), ms(max(lat)),
        ms(pct([r[1] for r in records], 0.5)), ms(pct([r[1] for r in records], 0.99))))
    if phase_posts:
        pd = [p["end"] - p["start"] for p in phase_posts]
        gaps = [b["start"] - a["end"] for a, b in zip(phase_posts, phase_posts[1:])]
        print("requests ms: p50 %s p99 %s max %s; gaps between requests p50 %s max %s" % (
            ms(pct(pd, 0.5)), ms(pct(pd, 0.99)), ms(max(pd)), ms(pct(gaps, 0.5)), ms(max(gaps) if gaps else 0)))
    in_phase = {id(r[2]): r[2] for r in records}
    pl = list(in_phase.values())
    # wait_us (overlapped passes, docs/exactly-once.md): the part of commit_us the pass waited
    # for the pass before it to finish committing; 0 in traces from before the overlap.
    # process_cpu_us: the pipeline thread's CPU time in the pass's processing (absent in older
    # traces): a pass whose process_us is long but process_cpu_us short waited: preempted, on a
    # lock, or reading more while the pass before committed (process_us includes that loop).
    # process_runq_us / commit_runq_us: how long the pipeline thread (processing) and the
    # committer thread (the commit) were runnable but waited for a core (absent before round 13).
    for key in ["records", "read_us", "process_us", "process_cpu_us", "process_runq_us", "commit_runq_us", "round_a_us", "round_b_us", "markers_us", "state_us",
                "commit_us", "wait_us", "gap_us"]:
        vals = [int(p.get(key, 0)) for p in pl]
        scale = 1 if key == "records" else 1000.0
        print("  pass %-11s p50 %8.1f p99 %8.1f max %8.1f" % (key, pct(vals, 0.5) / scale, pct(vals, 0.99) / scale,
                                                             max(vals) / scale))
    # Slowest 1% of records: their passes.
    cut = pct(lat, 0.99)
    slow = {}
    for l, q, ps in records:
        if l >= cut:
            slow.setdefault(id(ps), [ps, 0, 0])
            slow[id(ps)][1] += 1
            slow[id(ps)][2] = max(slow[id(ps)][2], l)
    order = sorted(slow.values(), key=lambda x: -x[2])[:args.top]
    others = [e for e in events if e["kind"] in ("sync", "zero", "roll", "release") and
              int(e.get("dur_us", 0)) >= args.slow_ms * 1000]
    others += [e for e in events if e["kind"] == "append" and int(e.get("total_us", 0)) >= args.slow_ms * 1000]
    print("\nslowest 1%% of records (>= %s ms), by pass:" % ms(cut))
    for ps, n, worst in order:
        start = int(ps["start_us"])
        committed = int(ps["committed_us"])
        first_append = start - int(ps["oldest_age_us"])
        print("pass at +%s ms: %d slow records (worst %s ms), %s records, oldest waited %s ms, gap %s, read %s, "
              "process %s (CPU %s, runnable %s), round A %s, round B %s (committer runnable %s), markers %s, "
              "state %s ms, %s outputs on %s partitions" % (
                  ms(start - lo), n, ms(worst), ps["records"], ms(int(ps["oldest_age_us"])), ms(int(ps["gap_us"])),
                  ms(int(ps["read_us"])), ms(int(ps["process_us"])), ms(int(ps.get("process_cpu_us", 0))),
                  ms(int(ps.get("process_runq_us", 0))),
                  ms(int(ps["round_a_us"])),
                  ms(int(ps["round_b_us"])), ms(int(ps.get("commit_runq_us", 0))), ms(int(ps["markers_us"])),
                  ms(int(ps["state_us"])), ps["outputs"],
                  ps["partitions"]))
        window = (first_append, committed)
        prev = [p for p in passes if int(p["start_us"]) < start and int(p["committed_us"]) + int(p["state_us"]) > first_append]
        for p in prev[-3:]:
            print("    before it: pass at +%s ms, %s records, process %s (CPU %s), round A %s, round B %s, state %s ms" % (
                ms(int(p["start_us"]) - lo), p["records"], ms(int(p["process_us"])), ms(int(p.get("process_cpu_us", 0))),
                ms(int(p["round_a_us"])),
                ms(int(p["round_b_us"])), ms(int(p["state_us"]))))
        for e in others:
            dur = int(e.get("dur_us", e.get("total_us", 0)))
            if e["t"] >= window[0] and e["t"] - dur <= window[1]:
                print("    %s %s %s ms, ended at +%s ms" % (e["kind"], e.get("tp"), ms(dur), ms(e["t"] - lo)))
        for p in posts:
            if p["end"] - p["start"] >= args.slow_ms * 1000 and p["end"] >= window[0] and p["start"] <= window[1]:
                print("    request of %d lines took %s ms (+%s .. +%s)" % (p["lines"], ms(p["end"] - p["start"]),
                                                                        ms(p["start"] - lo), ms(p["end"] - lo)))
        for r in rocks:
            if window[0] - 200000 <= r["t"] <= window[1]:
                print("    rocksdb %s: %s at +%s ms" % (r["db"], r["what"], ms(r["t"] - lo)))
    print("\nfdatasyncs in the phase, per partition (ms):")
    by = {}
    for e in events:
        if e["kind"] == "sync" and lo <= e["t"] <= hi + 500000:
            by.setdefault(e["tp"], []).append(int(e["dur_us"]))
    for tp, v in sorted(by.items(), key=lambda x: -len(x[1])):
        print("  %-40s %5d  p50 %6s p99 %6s max %6s" % (tp, len(v), ms(pct(v, 0.5)), ms(pct(v, 0.99)), ms(max(v))))
    # runq_us (journal syncs, round 13 on): the sync thread's wait for a core since its last
    # sync, its wake-up for this one included: a sync requested while it waits starts that late.
    rq = [int(e["runq_us"]) for e in events if e["kind"] == "sync" and "runq_us" in e and lo <= e["t"] <= hi + 500000]
    if rq:
        print("  journal sync thread waiting for a core, per sync: p50 %s p99 %s max %s ms, total %s ms, %d of %d over 1 ms" % (
            ms(pct(rq, 0.5)), ms(pct(rq, 0.99)), ms(max(rq)), ms(sum(rq)), sum(1 for x in rq if x > 1000), len(rq)))
    rr = [r for r in rocks if lo - 1000000 <= r["t"] <= hi]
    if rr:
        print("\nrocksdb events in the phase:")
        for r in rr:
            print("  +%s ms %s %s" % (ms(r["t"] - lo), r["db"], r["what"]))


if __name__ == "__main__":
    main()
