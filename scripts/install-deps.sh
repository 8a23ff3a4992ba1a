#!/usr/bin/env bash
# Installs the Debian 12 packages Eventception builds and tests with; skips what is present.
# Usage: scripts/install-deps.sh [--build-only]
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build pkg-config ccache
  libsimdjson-dev libyaml-cpp-dev libre2-dev libpcre2-dev librocksdb-dev librdkafka-dev
  libboost-dev libspdlog-dev libfmt-dev libcli11-dev libssl-dev zlib1g-dev libzstd-dev
  liblz4-dev libsnappy-dev libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  tzdata
)
# Real peers the tests drive: Kafka clients, gateways, Node.js for kafkajs and jsonata-js.
test_packages=(kcat nginx libnginx-mod-http-lua lua-cjson haproxy syslog-ng-core python3 python3-yaml curl iperf3 wrk)

wanted=("${build_packages[@]}")
[ "${1:-}" = "--build-only" ] || wanted+=("${test_packages[@]}")

missing=()
# Node.js may come from elsewhere with npm bundled (nodesource conflicts with Debian's npm).
command -v node >/dev/null && command -v npm >/dev/null || wanted+=(nodejs npm)
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
