#!/usr/bin/env bash
# make test: unit tests, then integration tests (real servers, real binaries, official SDKs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
source tools/node-env.sh
if [[ -n ${SB_ONLY:-} ]]; then # one integration test, e.g. make deploy-check
  exec ctest --test-dir "$BUILD" -R "^${SB_ONLY}\$" --output-on-failure
fi
ctest --test-dir "$BUILD" -L unit --output-on-failure
ctest --test-dir "$BUILD" -L integration --output-on-failure
