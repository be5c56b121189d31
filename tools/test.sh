#!/usr/bin/env bash
# make test: unit tests, then integration tests (real servers, real binaries, official SDKs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
if [[ ! -d tests/integration/node_modules/@google/genai || ! -d tests/integration/node_modules/openai ]]; then
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
ctest --test-dir "$BUILD" -L unit --output-on-failure
ctest --test-dir "$BUILD" -L integration --output-on-failure
