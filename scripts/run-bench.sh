#!/usr/bin/env bash
# Runs every benchmark under bench/ (each prints its ratio against the named peer).
# Usage: scripts/run-bench.sh BUILD_DIR
set -uo pipefail
build=${1:-build}
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b"; "$b" || exit 1
done
