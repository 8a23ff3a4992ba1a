#!/usr/bin/env bash
# Installs the npm test peers (tests/peers/package-lock.json) when missing or stale.
set -euo pipefail
cd "$(dirname "$0")/../tests/peers"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
