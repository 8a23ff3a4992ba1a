#!/usr/bin/env python3
# fdatasync cost per write on this disk: growing the file, writing into fallocate'd (unwritten)
# extents, and overwriting zero-filled, synced blocks (why src/log preallocates segments with
# written zeros: docs/log-format.md, "Preallocated segments").
# Usage: python3 bench/fsync_probe.py DIR [COUNT=200] [WRITE_BYTES=70000]  (DIR on the data disk)
import os, sys, time
d = sys.argv[1] if len(sys.argv) > 1 else '.'
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
SZ = int(sys.argv[3]) if len(sys.argv) > 3 else 70000
buf = os.urandom(SZ)
def pct(xs):
    xs = sorted(xs); n = len(xs)
    return "p50 %.2f p90 %.2f p99 %.2f max %.2f ms" % (xs[n//2]*1e3, xs[int(n*.9)]*1e3, xs[min(n-1,int(n*.99))]*1e3, xs[-1]*1e3)
def run(mode):
    p = os.path.join(d, 'probe_' + mode)
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    total = N * SZ
    if mode == 'fallocate':
        os.posix_fallocate(fd, 0, total); os.fsync(fd)
    elif mode == 'zeroed':
        z = b'\0' * (1 << 20)
        for off in range(0, total, len(z)): os.pwrite(fd, z, off)
        os.fsync(fd)
    ts = []
    for i in range(N):
        os.pwrite(fd, buf, i * SZ)
        t = time.perf_counter(); os.fdatasync(fd); ts.append(time.perf_counter() - t)
    os.close(fd); os.unlink(p)
    return pct(ts)
for mode in ['grow', 'fallocate', 'zeroed', 'grow', 'fallocate', 'zeroed']:
    print("%-10s %s" % (mode, run(mode)), flush=True)
