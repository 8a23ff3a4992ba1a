#!/usr/bin/env bash
# Runs StateStore.RocksDbLargerThanItsCacheFindsEveryState (a RocksDB state store of 1 MiB of
# memtables, its flushes rate-limited) N times, two at once, while dd writes and syncs 64 MiB
# files beside them, and stops at the first run still alive after 20 s, printing its threads'
# stacks. This is how the hang of RocksDB 7.8's own rate limiter showed (src/rocks/rate_limiter.h):
# with it, a run hung at the 4th and the 11th round; with ours, none in 60.
# Usage: scripts/stress-state-store-flushes.sh [BUILD_DIR] [N]   (gdb for the stacks)
# N defaults to 60 with EC_TEST_LONG=1 (make check-long) and to 3 otherwise (make test: CTest
# StateStoreFlushStress).
set -uo pipefail
bin=${1:-build}/tests/cdc/cdc_changelog_test
default_rounds=3
[ "${EC_TEST_LONG:-}" = 1 ] && default_rounds=60
rounds=${2:-$default_rounds}
work=$(mktemp -d)
trap 'kill ${load:-} 2>/dev/null; rm -rf "$work"' EXIT
( while :; do dd if=/dev/zero of="$work/load" bs=1M count=64 conv=fdatasync 2>/dev/null; done ) &
load=$!
for i in $(seq 1 "$rounds"); do
  pids=()
  for j in 1 2; do
    "$bin" --gtest_filter='StateStore.RocksDbLargerThanItsCacheFindsEveryState' > "$work/run$j.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      echo "round $i: process $p still running after 20 s; its threads:"
      gdb -batch -ex "thread apply all bt 12" -p "$p" 2>/dev/null | grep -E '^Thread|^#'
      kill -9 "${pids[@]}" 2>/dev/null
      exit 1
    fi
    wait "$p" || { echo "round $i: the test failed"; cat "$work"/run*.log; exit 1; }
  done
done
echo "no run hung in $rounds rounds"
