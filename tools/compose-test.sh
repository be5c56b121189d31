#!/usr/bin/env bash
# make compose-test: deploy/compose/compose.yaml brought up for real with podman-compose (demo
# mode: the fake upstream), driven with the official SDKs through both edges' published ports;
# one forwarder container is stopped mid-load, and no request that had not started may fail and
# no stream may be cut. Every container's healthcheck must pass. Everything is taken down after.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source tools/podman-env.sh
IMAGE=${IMAGE:-localhost/switchboard}
bash tools/image.sh # quick when nothing changed: podman reuses its layers
[[ -d tests/integration/node_modules/openai ]] || (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d)
project=sbct$$
port() { echo $((20000 + RANDOM % 20000)); }
E1=$(port); E2=$(port)
cp deploy/compose/compose.yaml "$work/"
{ bash deploy/compose/make-env.sh; echo "SB_EDGE1_PORT=$E1"; echo "SB_EDGE2_PORT=$E2"; echo "FAKE_CHUNK_MS=60"; } >"$work/.env"
set -a; . "$work/.env"; set +a
compose() { (cd "$work" && podman-compose -p "$project" -f compose.yaml "$@"); }
down() {
  compose down -v >/dev/null 2>&1 || true
  podman volume ls -q | grep "^${project}_" | xargs -r podman volume rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap down EXIT

echo "compose up ($project): edges on 127.0.0.1:$E1 and :$E2"
compose up -d >"$work/up.log" 2>&1 || { cat "$work/up.log"; exit 1; }
for url in "http://127.0.0.1:$E1" "http://127.0.0.1:$E2"; do
  for i in $(seq 150); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/v1beta/models" -H "x-goog-api-key: $SB_CLIENT_TOKENS") == 200 ]] && break
    sleep 1
    if ((i == 150)); then podman ps -a --filter "name=$project" --format '{{.Names}} {{.Status}}'; exit 1; fi
  done
done
podman ps --filter "name=$project" --format '{{.Names}} {{.Status}}'

# every healthcheck of the file, run for real
for c in $(podman ps --filter "name=$project" --format '{{.Names}}'); do
  if podman inspect -f '{{if .Config.Healthcheck}}yes{{end}}' "$c" | grep -q yes; then
    for i in $(seq 30); do podman healthcheck run "$c" >/dev/null 2>&1 && break; sleep 1
      ((i == 30)) && { echo "healthcheck of $c fails"; podman logs --tail 20 "$c"; exit 1; }; done
  fi
done
echo "every healthcheck passes"

SB_EDGES="http://127.0.0.1:$E1,http://127.0.0.1:$E2" SB_TOKEN=$SB_CLIENT_TOKENS \
SB_FORWARDER="${project}_forwarder_1" \
  node --test --test-reporter=spec tests/integration/compose_check.mjs
