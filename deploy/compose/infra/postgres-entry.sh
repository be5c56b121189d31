#!/bin/sh
# PostgreSQL 15 in compose, as the postgres user: a cluster on /data/pg made at first start
# (password authentication, PG_PASSWORD), the database `switchboard`, listening on every address.
set -eu
bin=/usr/lib/postgresql/15/bin
data=/data/pg/data
if [ ! -s "$data/PG_VERSION" ]; then
  umask 077
  printf '%s\n' "${PG_PASSWORD:?PG_PASSWORD is not set}" >/tmp/pwfile
  "$bin/initdb" -D "$data" -U postgres --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all 0.0.0.0/0 scram-sha-256" >>"$data/pg_hba.conf"
  "$bin/pg_ctl" -D "$data" -o "-c listen_addresses='' -k /tmp" -w start >/dev/null
  "$bin/psql" -h /tmp -U postgres -qc "CREATE DATABASE switchboard"
  "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
fi
exec "$bin/postgres" -D "$data" -c listen_addresses='*' -k /tmp
