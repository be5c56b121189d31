#!/usr/bin/env bash
# make bench: lease cost vs pool size, then HTTP latency/throughput ratios (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
# the nginx hop is a column of the table: install it when missing (its daemon is not used)
if ! command -v nginx >/dev/null && [[ $(id -u) -eq 0 ]]; then
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >/dev/null; then
    systemctl disable --now nginx >/dev/null 2>&1 || true # Debian starts one on port 80
  else
    echo "nginx could not be installed: its column stays empty" >&2
  fi
fi
tmp=$(mktemp -d)
redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --dir "$tmp" >/dev/null &
rpid=$!
trap 'kill $rpid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [[ -S $tmp/redis.sock ]] && break; sleep 0.1; done
echo "lease cost (one keypool, Redis on a unix socket):"
for n in 1000 100000; do "$BUILD/bench/lease_bench" "$tmp/redis.sock" "$n" 20000; done
if [[ ! -d tests/integration/node_modules/@google/genai ]]; then
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
echo; echo "HTTP (wrk, ${BENCH_SECONDS:-5} s per cell, fake upstream answering instantly):"
SB_BUILD_DIR="$BUILD" node bench/http_bench.mjs
SB_BUILD_DIR="$BUILD" node bench/logger_bench.mjs
# 10,000 open streams: a descriptor for each in the client, the edge, the forwarder and the fake
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo; echo "memory: every service idle, under load, and with ${BENCH_OPEN_STREAMS:-10000} streams open at once:"
SB_BUILD_DIR="$BUILD" node bench/open_streams.mjs
