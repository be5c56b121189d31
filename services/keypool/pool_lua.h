/*
 * Lua scripts run by Redis for the pool. Data model (all under the prefix P):
 *   P k:<id>        msgpack {p=project, s=state, r=reason, t=changed_ms}   (readable by admin)
 *   P pk:<project>  ZSET active key ids -> last-used ms (a future score = per-key backoff)
 *   P projects      ZSET projects with at least one active key
 *   P models        SET of models seen
 *   P av:<model>    ZSET projects usable for the model -> last-used ms (LRU)
 *   P cool:<model>  ZSET projects cooling for the model -> until ms
 *   P lim:<project> HASH model -> known RPM limit;  P rpm:<project>:<model>:<minute> counter
 *   P lease:<id>    "key|project|model" with a TTL; P leases ZSET "<id>|<key>" -> deadline (the
 *                   scheduler reaps those never closed); P inflight HASH key -> open leases
 *   P daily         ZSET "<model>|<project>" -> until: pairs parked by a per-day quota
 *   P seeded        set by seeding: its absence means Redis lost the pool (keypool re-seeds)
 * Headroom is bucketed (exhausted / under 20% left / fine): projects near a known RPM limit are
 * avoided, otherwise least-recently-used order spreads load evenly across projects.
 * Every lease touches O(window) entries: its cost does not grow with the number of keys.
 * A key whose score is at most 250 ms ahead of `now` is usable: that is another replica's
 * last-used time taken a moment later than ours, not a backoff (those are 1 s and more).
 * Coupled with pool.c (argument order) — change both together.
 */
#ifndef SB_KP_POOL_LUA_H
#define SB_KP_POOL_LUA_H

/* ARGV: prefix, model, now, lease_id, ttl_ms, window, nexclude, exclude... */
static const char LUA_LEASE[] =
    "local P, M, now = ARGV[1], ARGV[2], tonumber(ARGV[3])\n"
    "local lid, ttl, K, nex = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local ex = {}\n"
    "for i = 1, nex do ex[ARGV[7 + i]] = true end\n"
    "local av, cool = P .. 'av:' .. M, P .. 'cool:' .. M\n"
    "if redis.call('SADD', P .. 'models', M) == 1 then\n"
    "  redis.call('ZUNIONSTORE', av, 1, P .. 'projects', 'WEIGHTS', 0)\n"
    "  for _, p in ipairs(redis.call('ZRANGE', cool, 0, -1)) do redis.call('ZREM', av, p) end\n"
    "end\n"
    "for _, p in ipairs(redis.call('ZRANGEBYSCORE', cool, '-inf', now, 'LIMIT', 0, 256)) do\n"
    "  redis.call('ZREM', cool, p)\n"
    "  if redis.call('ZSCORE', P .. 'projects', p) then redis.call('ZADD', av, 0, p) end\n"
    "end\n"
    "local minute = math.floor(now / 60000)\n"
    "local cands = redis.call('ZRANGE', av, 0, K + nex - 1)\n"
    "local best, bestkey, besthead = nil, nil, 0\n"
    "local backoff = nil\n"
    "for _, p in ipairs(cands) do\n"
    "  local head = 1.0\n"
    "  local lim = tonumber(redis.call('HGET', P .. 'lim:' .. p, M) or '0')\n"
    "  if lim and lim > 0 then\n"
    "    local used = tonumber(redis.call('GET', P .. 'rpm:' .. p .. ':' .. M .. ':' .. minute) "
    "or '0')\n"
    "    head = (lim - used) / lim\n"
    "    if head >= 0.2 then head = 1.0 elseif head > 0 then head = 0.5 end\n"
    "    if head <= 0 then\n"
    "      redis.call('ZREM', av, p)\n"
    "      redis.call('ZADD', cool, (minute + 1) * 60000, p)\n"
    "    end\n"
    "  end\n"
    "  if head > besthead then\n"
    "    local keys = redis.call('ZRANGEBYSCORE', P .. 'pk:' .. p, '-inf', now + 250, 'LIMIT', 0, "
    "nex + 1)\n"
    "    for _, k in ipairs(keys) do\n"
    "      if not ex[k] then best, bestkey, besthead = p, k, head; break end\n"
    "    end\n"
    "    if #keys == 0 then\n"
    "      local b = redis.call('ZRANGE', P .. 'pk:' .. p, 0, 0, 'WITHSCORES')\n"
    "      if #b > 0 and (not backoff or tonumber(b[2]) < backoff) then backoff = tonumber(b[2]) "
    "end\n"
    "    end\n"
    "  end\n"
    "  if besthead >= 1.0 then break end\n"
    "end\n"
    "if not best then\n"
    "  if redis.call('ZCARD', P .. 'projects') == 0 then return {'dead', '0'} end\n"
    "  local c = redis.call('ZRANGE', cool, 0, 0, 'WITHSCORES')\n"
    "  local untilv = backoff\n"
    "  if #c > 0 and (not untilv or tonumber(c[2]) < untilv) then untilv = tonumber(c[2]) end\n"
    "  if not untilv then return {'tried', '0'} end\n"
    "  if untilv >= 253402300799000 then\n"
    "    if nex > 0 then return {'tried', '0'} end\n"
    "    return {'zero', '0'}\n"
    "  end\n"
    "  return {'cooling', string.format('%d', untilv)}\n"
    "end\n"
    "redis.call('ZADD', av, now, best)\n"
    "redis.call('ZADD', P .. 'pk:' .. best, now, bestkey)\n"
    "local rk = P .. 'rpm:' .. best .. ':' .. M .. ':' .. minute\n"
    "redis.call('INCR', rk)\n"
    "redis.call('PEXPIRE', rk, 120000)\n"
    "redis.call('SET', P .. 'lease:' .. lid, bestkey .. '|' .. best .. '|' .. M, 'PX', ttl)\n"
    "redis.call('ZADD', P .. 'leases', now + ttl, lid .. '|' .. bestkey)\n"
    "redis.call('HINCRBY', P .. 'inflight', bestkey, 1)\n"
    "return {'ok', bestkey, best}\n";

/* ARGV: prefix, key, project, model, action, until, lease_id, now, reason, quota_value */
static const char LUA_OUTCOME[] =
    "local P, k, p, M, act = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local untilv, lid, now, reason = tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8]), ARGV[9]\n"
    "local qv = tonumber(ARGV[10])\n"
    "if lid ~= '' and redis.call('DEL', P .. 'lease:' .. lid) == 1 then\n"
    "  redis.call('ZREM', P .. 'leases', lid .. '|' .. k)\n"
    "  if redis.call('HINCRBY', P .. 'inflight', k, -1) <= 0 then\n"
    "    redis.call('HDEL', P .. 'inflight', k)\n"
    "  end\n"
    "end\n"
    "if act == 'ok' then redis.call('DEL', P .. 'kf:' .. k) return 'ok' end\n"
    "if act == 'cool' or act == 'park' then\n"
    "  redis.call('ZREM', P .. 'av:' .. M, p)\n"
    "  local cur = tonumber(redis.call('ZSCORE', P .. 'cool:' .. M, p) or '0')\n"
    "  if qv and qv > 0 then redis.call('HSETNX', P .. 'lim:' .. p, M, qv) end\n"
    "  if untilv > cur then\n"
    "    redis.call('ZADD', P .. 'cool:' .. M, untilv, p)\n"
    "    if act == 'park' then redis.call('ZADD', P .. 'daily', untilv, M .. '|' .. p) end\n"
    "    return 'cooled'\n"
    "  end\n"
    "  return 'cooling'\n"
    "end\n"
    "if act == 'dead' then\n"
    "  local rec = redis.call('GET', P .. 'k:' .. k)\n"
    "  local t = rec and cmsgpack.unpack(rec) or {p = p}\n"
    "  if t.s == 'dead' then return 'already' end\n"
    "  t.s, t.r, t.t = 'dead', reason, now\n"
    "  redis.call('SET', P .. 'k:' .. k, cmsgpack.pack(t))\n"
    "  redis.call('ZREM', P .. 'pk:' .. p, k)\n"
    "  if redis.call('ZCARD', P .. 'pk:' .. p) == 0 then\n"
    "    redis.call('ZREM', P .. 'projects', p)\n"
    "    for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"
    "      redis.call('ZREM', P .. 'av:' .. m, p)\n"
    "    end\n"
    "  end\n"
    "  return 'dead'\n"
    "end\n"
    "if act == 'transient' then\n"
    "  local f = redis.call('INCR', P .. 'kf:' .. k)\n"
    "  redis.call('PEXPIRE', P .. 'kf:' .. k, 600000)\n"
    "  if f >= 3 then\n"
    "    local d = math.min(1000 * 2 ^ (f - 3), 60000)\n"
    "    if redis.call('ZSCORE', P .. 'pk:' .. p, k) then\n"
    "      redis.call('ZADD', P .. 'pk:' .. p, now + d, k)\n"
    "    end\n"
    "    return 'backoff'\n"
    "  end\n"
    "  return 'counted'\n"
    "end\n"
    "return 'released'\n";

/* ARGV: prefix, key, project, record (msgpack). Idempotent: an existing key keeps its state. */
static const char LUA_SEED[] = "local P, k, p, rec = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
                               "redis.call('SET', P .. 'seeded', '1')\n"
                               "if redis.call('EXISTS', P .. 'k:' .. k) == 1 then return 0 end\n"
                               "redis.call('SET', P .. 'k:' .. k, rec)\n"
                               "if cmsgpack.unpack(rec).s ~= 'active' then return 1 end\n"
                               "redis.call('ZADD', P .. 'pk:' .. p, 0, k)\n"
                               "if not redis.call('ZSCORE', P .. 'projects', p) then\n"
                               "  redis.call('ZADD', P .. 'projects', 0, p)\n"
                               "  for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"
                               "    if not redis.call('ZSCORE', P .. 'cool:' .. m, p) then\n"
                               "      redis.call('ZADD', P .. 'av:' .. m, 0, p)\n"
                               "    end\n"
                               "  end\n"
                               "end\n"
                               "return 1\n";

/* Shared by ADMIN's actions: take key k of project p out of / into selection. */
#define LUA_DROP_ADD                                                                               \
    "local function drop()\n"                                                                      \
    "  redis.call('ZREM', P .. 'pk:' .. p, k)\n"                                                   \
    "  if redis.call('ZCARD', P .. 'pk:' .. p) == 0 then\n"                                        \
    "    redis.call('ZREM', P .. 'projects', p)\n"                                                 \
    "    for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"                           \
    "      redis.call('ZREM', P .. 'av:' .. m, p)\n"                                               \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local function add()\n"                                                                       \
    "  redis.call('ZADD', P .. 'pk:' .. p, 0, k)\n"                                                \
    "  redis.call('ZADD', P .. 'projects', 'NX', 0, p)\n"                                          \
    "  for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"                             \
    "    if not redis.call('ZSCORE', P .. 'cool:' .. m, p) then\n"                                 \
    "      redis.call('ZADD', P .. 'av:' .. m, 'NX', 0, p)\n"                                      \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "end\n"

/* ARGV: prefix, key, project, action (disable|enable|reset|delete|restore|state), now. Returns the
 * new state ("unchanged" when there was nothing to do). reset clears the project's cooldowns for
 * every model, the key's backoff and a dead state; it does not enable a disabled key. restore
 * (a probe passed) brings back a dead key only; state reads the key's state. */
static const char LUA_ADMIN[] =
    "local P, k, p, act, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])\n"
    "local rec = redis.call('GET', P .. 'k:' .. k)\n"
    "local t = rec and cmsgpack.unpack(rec) or {p = p, s = 'active'}\n" LUA_DROP_ADD
    "local function save(s) t.s, t.r, t.t = s, '', now\n"
    "  redis.call('SET', P .. 'k:' .. k, cmsgpack.pack(t)) end\n"
    "if act == 'delete' then\n"
    "  drop()\n"
    "  redis.call('DEL', P .. 'k:' .. k, P .. 'kf:' .. k)\n"
    "  return 'deleted'\n"
    "end\n"
    "if act == 'disable' then\n"
    "  if t.s == 'disabled' then return 'unchanged' end\n"
    "  drop()\n"
    "  save('disabled')\n"
    "  return 'disabled'\n"
    "end\n"
    "if act == 'enable' then\n"
    "  if t.s ~= 'disabled' then return 'unchanged' end\n"
    "  save('active')\n"
    "  add()\n"
    "  return 'active'\n"
    "end\n"
    "if act == 'state' then return t.s or 'active' end\n"
    "if act == 'restore' then\n"
    "  if t.s ~= 'dead' then return 'unchanged' end\n"
    "  save('active')\n"
    "  add()\n"
    "  return 'active'\n"
    "end\n"
    "if act == 'reset' then\n"
    "  for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"
    "    redis.call('ZREM', P .. 'cool:' .. m, p)\n"
    "    redis.call('ZREM', P .. 'daily', m .. '|' .. p)\n"
    "  end\n"
    "  redis.call('DEL', P .. 'kf:' .. k)\n"
    "  if t.s == 'disabled' then return 'disabled' end\n"
    "  save('active')\n"
    "  add()\n"
    "  return 'active'\n"
    "end\n"
    "return redis.error_reply('unknown action')\n";

/* ARGV: prefix, now. Returns {active keys, cooling (project, model) pairs}: O(projects + models),
 * for the metrics gauges. */
static const char LUA_COUNTS[] =
    "local P, now = ARGV[1], tonumber(ARGV[2])\n"
    "local active, cooling = 0, 0\n"
    "for _, p in ipairs(redis.call('ZRANGE', P .. 'projects', 0, -1)) do\n"
    "  active = active + redis.call('ZCARD', P .. 'pk:' .. p)\n"
    "end\n"
    "for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"
    "  cooling = cooling + redis.call('ZCOUNT', P .. 'cool:' .. m, '(' .. now, '+inf')\n"
    "end\n"
    "return {active, cooling}\n";

/* ARGV: prefix, now. Returns JSON {"active": {project: keys}, "cooling": [[project, model,
 * until_ms], ...]} (at most 1000 pairs per model). For the status overview. */
static const char LUA_STATUS[] =
    "local P, now = ARGV[1], tonumber(ARGV[2])\n"
    "local active, cooling = {}, {}\n"
    "for _, p in ipairs(redis.call('ZRANGE', P .. 'projects', 0, -1)) do\n"
    "  active[p] = redis.call('ZCARD', P .. 'pk:' .. p)\n"
    "end\n"
    "for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"
    "  local c = redis.call('ZRANGEBYSCORE', P .. 'cool:' .. m, '(' .. now, '+inf', 'WITHSCORES', "
    "'LIMIT', 0, 1000)\n"
    "  for i = 1, #c, 2 do cooling[#cooling + 1] = {c[i], m, tonumber(c[i + 1])} end\n"
    "end\n"
    "return cjson.encode({active = active, cooling = cooling})\n";

/* ARGV: prefix, now, then (key, project) pairs. Returns JSON [[key, state, reason, changed_ms,
 * inflight, [[model, until_ms], ...], used], ...] (cjson prints an empty list as {}); used is the
 * key's score in its project (last lease ms, or a backoff's end when in the future; 0: none). */
static const char LUA_STATES[] =
    "local P, now = ARGV[1], tonumber(ARGV[2])\n"
    "local models = redis.call('SMEMBERS', P .. 'models')\n"
    "local out = {}\n"
    "for i = 3, #ARGV, 2 do\n"
    "  local k, p = ARGV[i], ARGV[i + 1]\n"
    "  local rec = redis.call('GET', P .. 'k:' .. k)\n"
    "  local t = rec and cmsgpack.unpack(rec) or {s = 'unknown'}\n"
    "  local cool = {}\n"
    "  for _, m in ipairs(models) do\n"
    "    local u = redis.call('ZSCORE', P .. 'cool:' .. m, p)\n"
    "    if u and tonumber(u) > now then cool[#cool + 1] = {m, tonumber(u)} end\n"
    "  end\n"
    "  out[#out + 1] = {k, t.s or 'active', t.r or '', t.t or 0,\n"
    "    tonumber(redis.call('HGET', P .. 'inflight', k) or '0'), cool,\n"
    "    tonumber(redis.call('ZSCORE', P .. 'pk:' .. p, k) or '0')}\n"
    "end\n"
    "return cjson.encode(out)\n";

/* ARGV: prefix, action, now, max. The scheduler's housekeeping; returns JSON {"n": count,
 * "pairs": [[project, model, until_ms], ...]}.
 *   reap: leases past their deadline (never closed by an outcome: the forwarder died) are
 *     released and the key's in-flight count goes down; an outcome arriving later finds no lease.
 *   quota_reset: pairs parked by a per-day quota until now or before return to selection (unless
 *     parked longer since, e.g. limit 0). */
static const char LUA_HOUSEKEEP[] =
    "local P, act, now, max = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local n, pairs = 0, {}\n"
    "if act == 'reap' then\n"
    "  for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, "
    "max)) "
    "do\n"
    "    redis.call('ZREM', P .. 'leases', m)\n"
    "    local bar = string.find(m, '|', 1, true)\n"
    "    if bar then\n"
    "      redis.call('DEL', P .. 'lease:' .. string.sub(m, 1, bar - 1))\n"
    "      local k = string.sub(m, bar + 1)\n"
    "      if redis.call('HINCRBY', P .. 'inflight', k, -1) <= 0 then\n"
    "        redis.call('HDEL', P .. 'inflight', k)\n"
    "      end\n"
    "      n = n + 1\n"
    "    end\n"
    "  end\n"
    "elseif act == 'quota_reset' then\n"
    "  for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'daily', '-inf', now, 'LIMIT', 0, max)) "
    "do\n"
    "    redis.call('ZREM', P .. 'daily', m)\n"
    "    local bar = string.find(m, '|', 1, true)\n"
    "    if bar then\n"
    "      local M, p = string.sub(m, 1, bar - 1), string.sub(m, bar + 1)\n"
    "      local u = tonumber(redis.call('ZSCORE', P .. 'cool:' .. M, p) or '0')\n"
    "      if u <= now then\n"
    "        redis.call('ZREM', P .. 'cool:' .. M, p)\n"
    "        if redis.call('ZSCORE', P .. 'projects', p) then\n"
    "          redis.call('ZADD', P .. 'av:' .. M, 'NX', 0, p)\n"
    "        end\n"
    "        n = n + 1\n"
    "        pairs[#pairs + 1] = {p, M, u}\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "else\n"
    "  return redis.error_reply('unknown action')\n"
    "end\n"
    "return cjson.encode({n = n, pairs = pairs})\n";

#endif
