#!/usr/bin/env bash
# Print the Secret `switchboard` with fresh random values (see secret.example.yaml):
#   PG_DSN='host=... user=... password=... dbname=switchboard' ./make-secret.sh | kubectl apply -f -
# GEMINI_API_KEYS, SB_CLIENT_TOKENS, SB_ADMIN_PASSWORD and the namespace come from the environment
# when set. Keep the output somewhere safe: SB_MASTER_KEY opens every stored key.
set -euo pipefail
: "${PG_DSN:?set PG_DSN (libpq conninfo of the database)}"
rnd() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
q() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
cat <<YAML
apiVersion: v1
kind: Secret
metadata: { name: switchboard, namespace: ${NAMESPACE:-switchboard} }
type: Opaque
stringData:
  GEMINI_API_KEYS: $(q "${GEMINI_API_KEYS:-}")
  SB_CLIENT_TOKENS: $(q "${SB_CLIENT_TOKENS:-}")
  PG_DSN: $(q "$PG_DSN")
  SB_MASTER_KEY: "$(rnd 32)"
  SB_FORWARD_KEY: "$(rnd 32)"
  SB_ADMIN_PASSWORD: $(q "${SB_ADMIN_PASSWORD:-a$(rnd 12)}")
YAML
for u in EDGE KEYPOOL FORWARDER LOGGER SCHEDULER PROVISION ANALYTICS; do echo "  NATS_PASSWORD_$u: \"p$(rnd 18)\""; done
for u in KEYPOOL EDGE SCHEDULER ADMIN; do echo "  REDIS_PASSWORD_$u: \"p$(rnd 18)\""; done
