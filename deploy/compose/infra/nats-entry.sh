#!/bin/sh
# NATS in compose: JetStream on /data/nats, the users of deploy/config/nats-auth.conf with the passwords
# from the environment (SB_NATS_<USER>_PASSWORD) written to passwords.conf beside it.
set -eu
mkdir -p /tmp/nats
cp /usr/share/switchboard/config/nats-auth.conf /tmp/nats/auth.conf
umask 077
for u in EDGE KEYPOOL FORWARDER LOGGER SCHEDULER PROVISION ANALYTICS; do
  eval "pw=\${SB_NATS_${u}_PASSWORD:?SB_NATS_${u}_PASSWORD is not set}"
  echo "SB_NATS_${u}_PASSWORD: \"$pw\""
done >/tmp/nats/passwords.conf
cat >/tmp/nats/nats.conf <<CONF
port: 4222
http_port: 8222
jetstream { store_dir: /data/nats }
include ./auth.conf
CONF
exec nats-server -c /tmp/nats/nats.conf
