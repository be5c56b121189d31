#!/usr/bin/env bash
# Sourced by the container tools (make image, make compose-test): installs podman and friends when
# missing, and points CONTAINERS_CONF at deploy/podman/containers.conf with this machine's limits.
pkgs=(podman podman-compose runc uidmap slirp4netns fuse-overlayfs mmdebstrap
      golang-github-containernetworking-plugin-dnsname curl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
nofile=$(ulimit -Hn); [[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
nproc=$(ulimit -Hu); [[ $nproc == unlimited || $nproc -gt 8192 ]] && nproc=8192
conf=${TMPDIR:-/tmp}/switchboard-containers.conf
sed "s/NOFILE/$nofile/g; s/NPROC/$nproc/g" "$(dirname "${BASH_SOURCE[0]}")/../deploy/podman/containers.conf" >"$conf"
export CONTAINERS_CONF=$conf
