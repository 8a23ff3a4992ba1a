#!/usr/bin/env bash
# Runs every test of a build: CTest (unit, conformance, integration with real peers).
# Usage: scripts/run-tests.sh BUILD_DIR
set -uo pipefail
build=${1:-build}
cd "$build" || exit 1
export EC_TEST_SHORT=1
ctest --output-on-failure --timeout 900 -j "$(nproc)" "${@:2}"
