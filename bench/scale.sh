#!/usr/bin/env bash
# make bench-scale: throughput with 1, 2 and 4 forwarders (and 2 edges, 2 keypools) against an
# upstream that takes 200 ms per answer (bench/scale_bench.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
[[ -d tests/integration/node_modules/nats ]] || (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
SB_BUILD_DIR="$BUILD" node bench/scale_bench.mjs
