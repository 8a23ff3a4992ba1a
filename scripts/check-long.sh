#!/usr/bin/env bash
# The long runs that make test only samples: every CTest labelled "long" at full size.
# Usage: scripts/check-long.sh BUILD_DIR
set -uo pipefail
build=${1:-build}
cd "$build" || exit 1
export EC_TEST_LONG=1
ctest --output-on-failure -L long "${@:2}"
