#!/usr/bin/env bash
# make run: start NATS (JetStream), Redis, PostgreSQL and every Switchboard service on loopback,
# in the foreground. Ctrl-C stops everything. Configuration: see the README's table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
DATA=$(realpath -m "${SB_DATA_DIR:-./var}")
PORT=${SB_HTTP_PORT:-8080}
NATS_PORT=${SB_NATS_PORT:-14222}
REDIS_PORT=${SB_REDIS_PORT:-16379}
PG_PORT=${SB_PG_PORT:-15432}
FAKE_PORT=${SB_FAKE_PORT:-18090}
OPS_BASE=${SB_OPS_PORT_BASE:-19090} # ops listeners: edge, keypool, forwarder, logger, scheduler
mkdir -p "$DATA/logs" "$DATA/nats" "$DATA/redis"
pids=()
PGDATA=""

cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping switchboard..."
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n $PGDATA ]]; then
    su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D '$PGDATA' -m fast stop" >/dev/null 2>&1 || true
  fi
  echo "stopped."
}
trap cleanup INT TERM EXIT

wait_port() { # host port name
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$3 did not start; see $DATA/logs/$3.log" >&2; exit 1
}

# NATS with JetStream, each service a user of its own (deploy/config/nats-auth.conf); the passwords are
# made once and kept beside the data (0600)
NATS_USERS=(edge keypool forwarder logger scheduler provision analytics)
if [[ ! -s $DATA/nats_passwords ]]; then
  (umask 077; for u in "${NATS_USERS[@]}"; do
    echo "$u $(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"; done >"$DATA/nats_passwords")
fi
declare -A NATS_PW
while read -r u pw; do NATS_PW[$u]=$pw; done <"$DATA/nats_passwords"
(umask 077; for u in "${NATS_USERS[@]}"; do
  echo "SB_NATS_${u^^}_PASSWORD: \"${NATS_PW[$u]}\""; done >"$DATA/nats/passwords.conf")
cp deploy/config/nats-auth.conf "$DATA/nats/auth.conf"
printf 'listen: 127.0.0.1:%s\njetstream { store_dir: "%s" }\ninclude ./auth.conf\n' \
  "$NATS_PORT" "$DATA/nats" >"$DATA/nats/nats.conf"
nats-server -c "$DATA/nats/nats.conf" >"$DATA/logs/nats.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 "$NATS_PORT" nats
as_nats() { echo "NATS_USER=$1" "NATS_PASSWORD=${NATS_PW[$1]}"; }
as_redis() { echo "REDIS_USER=$1" "REDIS_PASSWORD=${REDIS_PW[$1]}"; }

# Redis: live key state, persisted with an append-only file; an ACL user per service
# (deploy/config/redis-users.acl), passwords made once beside the data
REDIS_USERS=(keypool edge scheduler admin)
if [[ ! -s $DATA/redis_passwords ]]; then
  (umask 077; for u in "${REDIS_USERS[@]}"; do
    echo "$u $(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"; done >"$DATA/redis_passwords")
fi
declare -A REDIS_PW
while read -r u pw; do REDIS_PW[$u]=$pw; done <"$DATA/redis_passwords"
redis_env=()
for u in "${REDIS_USERS[@]}"; do redis_env+=("SB_REDIS_${u^^}_PASSWORD=${REDIS_PW[$u]}"); done
env "${redis_env[@]}" sh deploy/config/render-redis-acl.sh deploy/config/redis-users.acl "$DATA/redis/users.acl"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" --appendonly yes \
  --save '' --aclfile "$DATA/redis/users.acl" >"$DATA/logs/redis.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 "$REDIS_PORT" redis

# PostgreSQL: initdb refuses root, so the cluster belongs to the postgres user. It lives in the
# data folder when postgres can reach it. When it cannot (a data folder under /root), the cluster
# goes to a folder of this data folder's own under /var/lib/switchboard, named after its path:
# two data folders never share a database. pg.location in the data folder says where it is.
PGBASE="$DATA/pg"
mkdir -p "$PGBASE"
chown postgres "$PGBASE"
if ! su postgres -s /bin/sh -c "test -w '$PGBASE'" 2>/dev/null; then
  PGBASE="/var/lib/switchboard/$(printf '%s' "$DATA" | sha256sum | cut -c1-16)/pg"
  mkdir -p "$PGBASE"; chown postgres "$PGBASE"
  echo "PostgreSQL: the postgres user cannot reach $DATA; this data folder's cluster is $PGBASE"
fi
echo "$PGBASE" >"$DATA/pg.location"
PGDATA="$PGBASE/data"
if [[ ! -f $PGDATA/PG_VERSION ]]; then
  su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/initdb -D '$PGDATA' -U postgres --auth=trust -E UTF8" >"$DATA/logs/initdb.log" 2>&1
fi
su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/pg_ctl -D '$PGDATA' -l '$PGBASE/postgres.log' -w -o \"-p $PG_PORT -k '$PGBASE' -c listen_addresses=127.0.0.1\" start" >/dev/null
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='switchboard'" | grep -q 1 ||
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE switchboard"

DEMO=""
if [[ -z ${GEMINI_API_KEYS:-} ]]; then
  DEMO=1
  export FAKE_KEYS="demo-a:demo-key-a1,demo-b:demo-key-b1,demo-c:demo-key-c1"
  export GEMINI_API_KEYS="$FAKE_KEYS"
  export GEMINI_BASE_URL="http://127.0.0.1:$FAKE_PORT"
  FAKE_PORT=$FAKE_PORT "$BUILD/tests/fake_gemini/fake-gemini" >"$DATA/logs/fake-gemini.log" 2>&1 &
  pids+=($!)
  wait_port 127.0.0.1 "$FAKE_PORT" fake-gemini
fi
if [[ -z ${SB_CLIENT_TOKENS:-} ]]; then
  [[ -s $DATA/client_token ]] || { echo "sb-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$DATA/client_token"; chmod 600 "$DATA/client_token"; }
  export SB_CLIENT_TOKENS=$(cat "$DATA/client_token")
fi
export NATS_URL="nats://127.0.0.1:$NATS_PORT" REDIS_HOST=127.0.0.1 REDIS_PORT
export PG_DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=switchboard"
export SB_HTTP_PORT=$PORT SB_HTTP_ADDR=${SB_HTTP_ADDR:-127.0.0.1}
# the master key that seals API keys at rest: made once, kept beside the data (mode 0600)
if [[ -z ${SB_MASTER_KEY:-} ]]; then
  [[ -s $DATA/master_key ]] || { (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DATA/master_key"); }
  export SB_MASTER_KEY_FILE="$DATA/master_key"
fi
# the key that seals API keys on the bus, for the forwarders' eyes only: made once, like the above
if [[ -z ${SB_FORWARD_KEY:-} ]]; then
  [[ -s $DATA/forward_key ]] || { (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DATA/forward_key"); }
  export SB_FORWARD_KEY_FILE="$DATA/forward_key"
fi
# without SB_ADMIN_PASSWORD the edge generates the first admin's password into this file
export SB_ADMIN_PASSWORD_FILE="$DATA/admin_password"
had_admin_file=""; [[ -e $SB_ADMIN_PASSWORD_FILE ]] && had_admin_file=1

# the provisioning step: each service's tables, then the stream, its consumers and the settings
# bucket, which the services have no right to create
for svc in edge keypool logger; do
  "$BUILD/services/$svc/$svc" --migrate >>"$DATA/logs/provision.log" 2>&1 ||
    { echo "migrating $svc's tables failed; see $DATA/logs/provision.log" >&2; exit 1; }
done
env $(as_nats provision) "$BUILD/services/provision/provision" >>"$DATA/logs/provision.log" 2>&1 ||
  { echo "provisioning NATS failed; see $DATA/logs/provision.log" >&2; exit 1; }

ops() { echo "127.0.0.1:$((OPS_BASE + $1))"; }
env $(as_nats keypool) $(as_redis keypool) SB_OPS_ADDR=$(ops 1) "$BUILD/services/keypool/keypool" >"$DATA/logs/keypool.log" 2>&1 & pids+=($!)
env $(as_nats forwarder) SB_OPS_ADDR=$(ops 2) "$BUILD/services/forwarder/forwarder" >"$DATA/logs/forwarder.log" 2>&1 & pids+=($!)
env $(as_nats logger) SB_OPS_ADDR=$(ops 3) "$BUILD/services/logger/logger" >"$DATA/logs/logger.log" 2>&1 & pids+=($!)
env $(as_nats scheduler) $(as_redis scheduler) SB_OPS_ADDR=$(ops 4) "$BUILD/services/scheduler/scheduler" >"$DATA/logs/scheduler.log" 2>&1 & pids+=($!)
env $(as_nats edge) $(as_redis edge) SB_OPS_ADDR=$(ops 0) "$BUILD/services/edge/edge" >"$DATA/logs/edge.log" 2>&1 & pids+=($!)

for _ in $(seq 100); do
  curl -fs "http://$(ops 0)/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://$(ops 0)/readyz" >/dev/null || { echo "edge not ready; see $DATA/logs" >&2; exit 1; }

TOKEN=${SB_CLIENT_TOKENS%%,*}
ADMIN_LINE="  Admin: user ${SB_ADMIN_USER:-admin}, password from SB_ADMIN_PASSWORD"
if [[ -z ${SB_ADMIN_PASSWORD:-} ]]; then
  ADMIN_LINE="  Admin: user ${SB_ADMIN_USER:-admin}, password as set at first start (kept in $SB_ADMIN_PASSWORD_FILE when generated)"
  for _ in $(seq 50); do [[ -s $SB_ADMIN_PASSWORD_FILE ]] && break; sleep 0.1; done
  if [[ -z $had_admin_file && -s $SB_ADMIN_PASSWORD_FILE ]]; then
    ADMIN_LINE="  Admin: user ${SB_ADMIN_USER:-admin}, password $(cat "$SB_ADMIN_PASSWORD_FILE")   (shown once; kept in $SB_ADMIN_PASSWORD_FILE)"
  fi
fi
cat <<BANNER

  Switchboard is serving on http://127.0.0.1:$PORT
  Console: http://127.0.0.1:$PORT/console/ (sign in as the admin below)
  Client token: $TOKEN
$ADMIN_LINE
$( [[ -n $DEMO ]] && echo "  DEMO MODE: GEMINI_API_KEYS is unset, so a local fake Gemini upstream answers (3 demo keys)." )

  Try it:
    curl -s http://127.0.0.1:$PORT/v1beta/models/gemini-2.5-flash:generateContent \\
      -H 'x-goog-api-key: $TOKEN' -H 'Content-Type: application/json' \\
      -d '{"contents":[{"role":"user","parts":[{"text":"Hello"}]}]}'

  Admin API: curl -s http://127.0.0.1:$PORT/api/auth/login -d '{"username":"admin","password":"..."}'
  Ops (/healthz, /readyz, /metrics): edge $(ops 0), keypool $(ops 1), forwarder $(ops 2),
    logger $(ops 3), scheduler $(ops 4)
  NATS: nats://127.0.0.1:$NATS_PORT, a user per service (passwords in $DATA/nats_passwords;
    the 'analytics' user may attach consumers to SB_EVENTS)

  Logs: $DATA/logs/   Ctrl-C stops everything.

BANNER
stopping=""
trap 'stopping=1; cleanup' INT TERM
wait -n "${pids[@]}" || true
[[ -n $stopping ]] || echo "a process exited; see $DATA/logs" >&2
