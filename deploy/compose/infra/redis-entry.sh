#!/bin/sh
# Redis in compose: the append-only file on /data/redis, the ACL users of deploy/config/redis-users.acl
# with the passwords from the environment (SB_REDIS_<USER>_PASSWORD).
set -eu
sh /usr/share/switchboard/config/render-redis-acl.sh /usr/share/switchboard/config/redis-users.acl /tmp/users.acl
exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data/redis --appendonly yes --save '' --aclfile /tmp/users.acl
