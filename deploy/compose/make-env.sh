#!/usr/bin/env bash
# Print a .env for compose.yaml with fresh random secrets:
#   deploy/compose/make-env.sh > deploy/compose/.env
# Without GEMINI_API_KEYS it is demo mode: three demo keys and the fake upstream (profile demo).
set -euo pipefail
rnd() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
for u in EDGE KEYPOOL FORWARDER LOGGER SCHEDULER PROVISION ANALYTICS; do echo "SB_NATS_${u}_PASSWORD=p$(rnd 18)"; done
for u in KEYPOOL EDGE SCHEDULER ADMIN; do echo "SB_REDIS_${u}_PASSWORD=p$(rnd 18)"; done
echo "PG_PASSWORD=p$(rnd 18)"
echo "SB_MASTER_KEY=$(rnd 32)"
echo "SB_FORWARD_KEY=$(rnd 32)"
echo "SB_ADMIN_PASSWORD=${SB_ADMIN_PASSWORD:-a$(rnd 12)}"
echo "SB_CLIENT_TOKENS=${SB_CLIENT_TOKENS:-sb-$(rnd 24)}"
if [[ -n ${GEMINI_API_KEYS:-} ]]; then
  echo "GEMINI_API_KEYS=$GEMINI_API_KEYS"
  echo "GEMINI_BASE_URL=${GEMINI_BASE_URL:-https://generativelanguage.googleapis.com}"
else
  echo "GEMINI_API_KEYS=demo-a:demo-key-a1,demo-b:demo-key-b1,demo-c:demo-key-c1"
  echo "GEMINI_BASE_URL=http://fake-gemini:8090"
fi
