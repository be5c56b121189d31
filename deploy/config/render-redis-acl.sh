#!/bin/sh
# Render deploy/config/redis-users.acl: every ${SB_REDIS_<USER>_PASSWORD} is replaced by that variable
# of the environment (which must be set, hex or base64 text). Usage: render-redis-acl.sh IN OUT
set -eu
in=$1 out=$2
umask 077
grep -v '^#' "$in" >"$out.tmp" # Redis ACL files take no comments
for u in KEYPOOL EDGE SCHEDULER ADMIN; do
  eval "pw=\${SB_REDIS_${u}_PASSWORD:?SB_REDIS_${u}_PASSWORD is not set}"
  sed -i "s|\${SB_REDIS_${u}_PASSWORD}|$pw|g" "$out.tmp"
done
mv "$out.tmp" "$out"
