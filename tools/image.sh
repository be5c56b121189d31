#!/usr/bin/env bash
# make image: build the Switchboard image (deploy/Containerfile) with podman, installing what is
# missing, then prove it: every service starts in a container as a non-root user and answers on
# its ops port. Without a registry the Debian base is made from Debian's own mirror (mmdebstrap).
#   IMAGE (default localhost/switchboard), TAG (0.10.0; also tagged dev), BASE (a Debian 12 image
#   to build from instead of the local one)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-localhost/switchboard}
TAG=${TAG:-$(sed -n 's/^project(switchboard VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)}
source tools/podman-env.sh

if [[ -z ${BASE:-} ]]; then
  BASE=localhost/debian:12
  if ! podman image exists "$BASE"; then
    echo "making $BASE from Debian's mirror (mmdebstrap)"
    mirror=$(sed -n 's/^URIs: \(http[^ ]*debian\/*\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    [[ -n $mirror ]] || mirror=$(awk '/^deb .*debian/{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    tar=$(mktemp --suffix=.tar)
    mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$tar" "${mirror:-http://deb.debian.org/debian}"
    podman import "$tar" "$BASE" >/dev/null
    rm -f "$tar"
  fi
fi

echo "building $IMAGE:$TAG from $BASE"
podman build --quiet --network host -f deploy/Containerfile --build-arg BASE="$BASE" \
  --target runtime -t "$IMAGE:$TAG" -t "$IMAGE:dev" . >/dev/null
podman build --quiet --network host -f deploy/Containerfile --build-arg BASE="$BASE" \
  --target infra -t "$IMAGE-infra:$TAG" -t "$IMAGE-infra:dev" . >/dev/null
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -F "$IMAGE" | sort

# every service in a container of its own: non-root, alive on its ops port (NATS is out of reach
# on purpose: the ops listener answers from the start), and SIGTERM stops it cleanly
fail=0
for svc in edge keypool forwarder logger scheduler; do
  port=$((20000 + RANDOM % 20000))
  env=(-e NATS_URL=nats://127.0.0.1:1 -e SB_FORWARD_KEY="$(printf 'ab%.0s' {1..32})"
       -e SB_MASTER_KEY="$(printf 'cd%.0s' {1..32})" -e PG_DSN="host=127.0.0.1 port=1 dbname=x")
  id=$(podman run -d --read-only -p "127.0.0.1:$port:9090" "${env[@]}" "$IMAGE:$TAG" "$svc")
  code=000
  for _ in $(seq 50); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)
    [[ $code == 200 ]] && break
    sleep 0.2
  done
  uid=$(podman exec "$id" id -u 2>/dev/null || echo "?")
  metrics=$(curl -s "http://127.0.0.1:$port/metrics" | grep -c "^sb_build_info{service=\"$svc\"" || true)
  podman stop -t 10 "$id" >/dev/null
  rc=$(podman inspect -f '{{.State.ExitCode}}' "$id")
  podman rm "$id" >/dev/null
  echo "$svc: /healthz $code, metrics $metrics, uid $uid, exit $rc"
  [[ $code == 200 && $metrics == 1 && $uid == 10001 && $rc == 0 ]] || fail=1
done
((fail == 0)) || { echo "image check failed" >&2; exit 1; }
echo "image ok: $IMAGE:$TAG"
