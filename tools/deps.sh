#!/usr/bin/env bash
# Install the Debian 12 packages Switchboard needs to build, run and test (only what is missing).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libnats-dev nats-server libmicrohttpd-dev
      libcurl4-openssl-dev libmsgpack-dev libhiredis-dev libprotobuf-c-dev protobuf-c-compiler
      libpq-dev libjansson-dev libcmocka-dev libssl-dev libcrypt-dev redis-server postgresql wrk
      nodejs npm clang-format cppcheck curl prometheus)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere than Debian (e.g. a newer node in the image)
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postgresql package starts a cluster on 5432 and redis-server a daemon on 6379;
# Switchboard runs its own on other ports, so those are left alone.
