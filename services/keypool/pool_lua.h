/*
 * Lua scripts run by Redis for the pool. Data model (all under the prefix P):
 *   P k:<id>        msgpack {p=project, s=state, r=reason, t=changed_ms}   (readable by admin)
 *   P pk:<project>  ZSET active key ids -> last-used ms (a future score = per-key backoff)
 *   P projects      ZSET projects with at least one active key
 *   P models        SET of models seen
 *   P av:<model>    ZSET projects usable for the model -> last-used ms (LRU)
 *   P cool:<model>  ZSET projects cooling for the model -> until ms
 *   P lim:<project> HASH limits of the project's models, learnt from 429s: "<model>" (requests per
 *                   minute), "<model>|tpm" (input tokens per minute), "<model>|rpd" (requests
 *                   per day); set by an admin: "s|<model>|rpm", "s|<model>|tpm", "s|<model>|rpd"
 *                   (a set limit wins over a learnt one)
 *   P rpm:<project>:<model>:<minute>, P tpm:...:<minute> (input tokens), P rpd:...:<day end ms>
 *                   use counters; P tokr:<model> counted/estimated tokens x1000 (calibration)
 *   P lease:<id>    "key|project|model|minute|need|est|day end[|c]" with a TTL ("c": counted
 *                   in the model's concurrency cap); P leases ZSET "<id>|<key>" -> deadline (the
 *                   scheduler reaps those never closed; a key's open leases are counted from
 *                   it when an admin lists keys, not kept per lease)
 *   P daily         ZSET "<model>|<project>" -> until: pairs parked by a per-day quota
 *   P seeded        set once seeding is complete: its absence means Redis lost the pool, or a
 *                   replica is seeding it again (keypool re-seeds; seeding is idempotent)
 * Headroom is bucketed (exhausted / under 20% left / fine): projects near a known RPM limit are
 * avoided, otherwise least-recently-used order spreads load evenly across projects. A request's
 * estimated input tokens go only to a project whose token budget for the minute has room for
 * them (smaller prompts may still use what is left), and a project at its daily request limit
 * is parked until the day's reset. A lease reserves its estimate; its outcome replaces that with
 * what upstream counted (nothing, when upstream refused it).
 * Every lease touches O(window) entries: its cost does not grow with the number of keys.
 * A key whose score is at most 250 ms ahead of `now` is usable: that is another replica's
 * last-used time taken a moment later than ours, not a backoff (those are 1 s and more).
 * Numbers reach Redis as strings made once (ARGV, `nows`, `mins`, literals): Lua turns every
 * number it passes into a string with snprintf("%.14g"), which was an eighth of Redis's time.
 * Coupled with pool.c (argument order) — change both together.
 */
#ifndef SB_KP_POOL_LUA_H
#define SB_KP_POOL_LUA_H

/*
 * ARGV: prefix, model, now, lease_id, ttl_ms, window, nexclude, est_tokens, day_end, tick, pin,
 * kind, conv, cap, cap_queue, queued_ms, ticket, leave, count, exclude... pin: "" or the only
 * project to lease from (it has no active key: {'dead', 'pin'}). kind: "" or the only upstream
 * kind, "vertex" (projects "vertex:...") or "gemini" (the others); a kind looks 16 times further
 * down the LRU order, since the other kind's projects there are skipped. conv: "" or a conversation
 * (P conv:<id> -> its project, an hour after its last lease): its project is tried first and kept
 * while it has any headroom; the project leased becomes the conversation's. cap > 0: at most cap
 * leases of the model open (P capl:<model>, lease id -> deadline); beyond them a request waits
 * ({'queued', ahead}) in P capq:<model> (ticket -> queued_ms, first in first out), at most
 * cap_queue of them ({'full'}); a ticket not asked for again within 500 ms (its request gave up
 * or its edge died) leaves the queue (P capt:<model>, ticket -> last ask); leave "1": the ticket
 * leaves the queue at once, and nothing is leased. The tick ("000"-"999", thousandths of a ms)
 * orders leases granted within one millisecond, so several in a row (a reserve) still rotate in
 * least-recently-used order. count > 1 (a reserve's top-up; not with a cap): after the first,
 * leases lease_id.2 ... lease_id.count are granted in the same run as far as the pool allows,
 * each chosen as its own call would be; the reply {'ok', key, project, lease_id} then carries
 * theirs after it, as (key, project, lease_id) triples. One run shares the script's setup (the
 * models set, the cooling sweep, the calibration) and Redis's cost per call among them.
 */
static const char LUA_LEASE[] =
    "local P, M, now = ARGV[1], ARGV[2], tonumber(ARGV[3]) + tonumber(ARGV[10]) / 1000\n"
    "local nows = ARGV[3] .. '.' .. ARGV[10]\n"
    "local lid, ttl, K, nex = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local est, dayend = tonumber(ARGV[8]), ARGV[9]\n"
    "local function need_of(e)\n"
    "  if not e or e <= 0 then return 0 end\n"
    "  return math.ceil(e * tonumber(redis.call('GET', P .. 'tokr:' .. M) or '1000') / 1000)\n"
    "end\n"
    "local ex = {}\n"
    "local pin, kind, conv = ARGV[11], ARGV[12], ARGV[13]\n"
    "local function of_kind(p)\n"
    "  return kind == '' or (string.sub(p, 1, 7) == 'vertex:') == (kind == 'vertex')\n"
    "end\n"
    "local cap, capq, qsince, ticket = tonumber(ARGV[14]), tonumber(ARGV[15]), ARGV[16], ARGV[17]\n"
    "local count = cap > 0 and 1 or tonumber(ARGV[19])\n"
    "for i = 1, nex do ex[ARGV[19 + i]] = true end\n"
    "local cl, cq, ct = P .. 'capl:' .. M, P .. 'capq:' .. M, P .. 'capt:' .. M\n"
    "if ARGV[18] == '1' then\n"
    "  redis.call('ZREM', cq, ticket)\n"
    "  redis.call('ZREM', ct, ticket)\n"
    "  return {'tried', '0'}\n"
    "end\n"
    "if cap > 0 then\n"
    "  redis.call('ZREMRANGEBYSCORE', cl, '-inf', now)\n"
    "  for _, t in ipairs(redis.call('ZRANGEBYSCORE', ct, '-inf', now - 500, 'LIMIT', 0, 64)) do\n"
    "    redis.call('ZREM', cq, t)\n"
    "    redis.call('ZREM', ct, t)\n"
    "  end\n"
    "  local running = redis.call('ZCARD', cl)\n"
    "  local mine = redis.call('ZSCORE', cq, ticket)\n"
    "  local ahead = redis.call('ZCOUNT', cq, '-inf', '(' .. (mine or qsince))\n"
    "  if running + ahead >= cap then\n"
    "    if not mine then\n"
    "      if redis.call('ZCARD', cq) >= capq then return {'full', tostring(running)} end\n"
    "      redis.call('ZADD', cq, qsince, ticket)\n"
    "    end\n"
    "    redis.call('ZADD', ct, now, ticket)\n"
    "    return {'queued', tostring(ahead)}\n"
    "  end\n"
    "end\n"
    "local av, cool = P .. 'av:' .. M, P .. 'cool:' .. M\n"
    "if redis.call('SADD', P .. 'models', M) == 1 then\n"
    "  redis.call('ZUNIONSTORE', av, 1, P .. 'projects', 'WEIGHTS', 0)\n"
    "  for _, p in ipairs(redis.call('ZRANGE', cool, 0, -1)) do redis.call('ZREM', av, p) end\n"
    "end\n"
    "for _, p in ipairs(redis.call('ZRANGEBYSCORE', cool, '-inf', nows, 'LIMIT', '0', '256')) do\n"
    "  redis.call('ZREM', cool, p)\n"
    "  if redis.call('ZSCORE', P .. 'projects', p) then redis.call('ZADD', av, '0', p) end\n"
    "end\n"
    "local minute = math.floor(now / 60000)\n"
    "local mins = tostring(minute)\n"
    "local need = need_of(est)\n"
    "local function one(lid, nows)\n"
    "local cands\n"
    "if pin ~= '' then\n"
    "  if not redis.call('ZSCORE', P .. 'projects', pin) then return {'dead', 'pin'} end\n"
    "  cands = {}\n"
    "  if redis.call('ZSCORE', av, pin) then cands = {pin} end\n"
    "else\n"
    "  cands = redis.call('ZRANGE', av, '0', (kind == '' and 4 or 64) * K + nex - 1)\n"
    "end\n"
    "if kind ~= '' then\n"
    "  local keep = {}\n"
    "  for _, p in ipairs(cands) do\n"
    "    if of_kind(p) then keep[#keep + 1] = p end\n"
    "  end\n"
    "  cands = keep\n"
    "end\n"
    "local stick = conv ~= '' and pin == '' and redis.call('GET', P .. 'conv:' .. conv)\n"
    "if stick and redis.call('ZSCORE', av, stick) and of_kind(stick) then\n"
    "  table.insert(cands, 1, stick)\n"
    "else\n"
    "  stick = false\n"
    "end\n"
    "local best, bestkey, besthead = nil, nil, 0\n"
    "local backoff, tokwait = nil, false\n"
    "for _, p in ipairs(cands) do\n"
    "  local head = 1.0\n"
    "  local L = redis.call('HMGET', P .. 'lim:' .. p, M, M .. '|tpm', M .. '|rpd', 's|' .. M .. "
    "'|rpm', 's|' .. M .. '|tpm', 's|' .. M .. '|rpd')\n"
    "  local lim, tlim = tonumber(L[4] or L[1] or '0'), tonumber(L[5] or L[2] or '0')\n"
    "  local dlim = tonumber(L[6] or L[3] or '0')\n"
    "  if lim and lim > 0 then\n"
    "    local used = tonumber(redis.call('GET', P .. 'rpm:' .. p .. ':' .. M .. ':' .. mins) "
    "or '0')\n"
    "    head = (lim - used) / lim\n"
    "    if head >= 0.2 then head = 1.0 elseif head > 0 then head = 0.5 end\n"
    "    if head <= 0 then\n"
    "      redis.call('ZREM', av, p)\n"
    "      redis.call('ZADD', cool, (minute + 1) * 60000, p)\n"
    "    end\n"
    "  end\n"
    "  if head > 0 and dlim and dlim > 0 and tonumber(redis.call('GET', P .. 'rpd:' .. p .. ':' "
    ".. M .. ':' .. dayend) or '0') >= dlim then\n"
    "    head = 0\n"
    "    redis.call('ZREM', av, p)\n"
    "    redis.call('ZADD', cool, dayend, p)\n"
    "    redis.call('ZADD', P .. 'daily', dayend, M .. '|' .. p)\n"
    "  end\n"
    "  if head > 0 and need > 0 and tlim and tlim > 0 then\n"
    "    local usedt = tonumber(redis.call('GET', P .. 'tpm:' .. p .. ':' .. M .. ':' .. mins) "
    "or '0')\n"
    "    if usedt > 0 and usedt + need > tlim then\n"
    "      head, tokwait = 0, true\n"
    "    elseif (tlim - usedt - need) < 0.2 * tlim and head > 0.5 then\n"
    "      head = 0.5\n"
    "    end\n"
    "  end\n"
    "  if head > besthead then\n"
    "    local keys = redis.call('ZRANGEBYSCORE', P .. 'pk:' .. p, '-inf', now + 250, 'LIMIT', "
    "'0', "
    "nex + 1)\n"
    "    for _, k in ipairs(keys) do\n"
    "      if not ex[k] then best, bestkey, besthead = p, k, head; break end\n"
    "    end\n"
    "    if #keys == 0 then\n"
    "      local b = redis.call('ZRANGE', P .. 'pk:' .. p, '0', '0', 'WITHSCORES')\n"
    "      if #b > 0 and (not backoff or tonumber(b[2]) < backoff) then backoff = tonumber(b[2]) "
    "end\n"
    "    end\n"
    "  end\n"
    "  if besthead >= 1.0 or (stick and best == stick) then break end\n"
    "end\n"
    "if not best then\n"
    "  if redis.call('ZCARD', P .. 'projects') == 0 then return {'dead', '0'} end\n"
    "  if kind ~= '' and #cands == 0 and pin == '' then\n"
    "    local any = false\n"
    "    for _, p in ipairs(redis.call('ZRANGE', P .. 'projects', 0, 1023)) do\n"
    "      if of_kind(p) then any = true; break end\n"
    "    end\n"
    "    if not any then return {'dead', 'kind'} end\n"
    "  end\n"
    "  local c = redis.call('ZRANGE', cool, 0, 0, 'WITHSCORES')\n"
    "  if pin ~= '' then\n"
    "    local cs = redis.call('ZSCORE', cool, pin)\n"
    "    c = cs and {pin, cs} or {}\n"
    "  end\n"
    "  local untilv = backoff\n"
    "  if tokwait and (not untilv or (minute + 1) * 60000 < untilv) then\n"
    "    untilv = (minute + 1) * 60000\n"
    "  end\n"
    "  if #c > 0 and (not untilv or tonumber(c[2]) < untilv) then untilv = tonumber(c[2]) end\n"
    "  if not untilv then return {'tried', '0'} end\n"
    "  if untilv >= 253402300799000 then\n"
    "    if nex > 0 then return {'tried', '0'} end\n"
    "    return {'zero', '0'}\n"
    "  end\n"
    "  local day = '-'\n"
    "  if #c > 0 and tonumber(c[2]) == untilv then\n"
    "    day = 'day'\n"
    "    for _, q in ipairs(redis.call('ZRANGEBYSCORE', cool, untilv, untilv, 'LIMIT', 0, 64)) do\n"
    "      if (pin == '' or q == pin) and not redis.call('ZSCORE', P .. 'daily', M .. '|' .. q) "
    "then\n"
    "        day = '-'\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  return {'cooling', string.format('%d', untilv), day}\n"
    "end\n"
    "redis.call('ZADD', av, nows, best)\n"
    "redis.call('ZADD', P .. 'pk:' .. best, nows, bestkey)\n"
    "local rk = P .. 'rpm:' .. best .. ':' .. M .. ':' .. mins\n"
    "if redis.call('INCR', rk) == 1 then redis.call('PEXPIRE', rk, 120000) end\n"
    "local dk = P .. 'rpd:' .. best .. ':' .. M .. ':' .. dayend\n"
    "if redis.call('INCR', dk) == 1 then\n"
    "  redis.call('PEXPIRE', dk, math.floor(tonumber(dayend) - now) + 3600000)\n"
    "end\n"
    "if need > 0 then\n"
    "  local tk = P .. 'tpm:' .. best .. ':' .. M .. ':' .. mins\n"
    "  if redis.call('INCRBY', tk, need) == need then redis.call('PEXPIRE', tk, 120000) end\n"
    "end\n"
    "redis.call('SET', P .. 'lease:' .. lid, bestkey .. '|' .. best .. '|' .. M .. '|' .. mins "
    ".. '|' .. (need == 0 and '0' or need) .. '|' .. ARGV[8] .. '|' .. dayend .. "
    "(cap > 0 and '|c' or ''), 'PX', ARGV[5])\n"
    "redis.call('ZADD', P .. 'leases', tonumber(ARGV[3]) + ttl, lid .. '|' .. bestkey)\n"
    "if conv ~= '' then redis.call('SET', P .. 'conv:' .. conv, best, 'PX', 3600000) end\n"
    "if cap > 0 then\n"
    "  redis.call('ZREM', cq, ticket)\n"
    "  redis.call('ZREM', ct, ticket)\n"
    "  redis.call('ZADD', cl, now + ttl, lid)\n"
    "end\n"
    "return {'ok', bestkey, best, lid}\n"
    "end\n"
    "local r = one(ARGV[4], nows)\n"
    "if r[1] ~= 'ok' then return r end\n"
    "local tick = tonumber(ARGV[10])\n"
    "for i = 2, count do\n"
    "  local x = one(ARGV[4] .. '.' .. i, ARGV[3] .. '.' .. string.format('%03d', (tick + i - 1) % "
    "1000))\n"
    "  if x[1] ~= 'ok' then break end\n"
    "  r[#r + 1], r[#r + 2], r[#r + 3] = x[2], x[3], x[4]\n"
    "end\n"
    "return r\n";

/*
 * ARGV: prefix, key, project, model, action, until, lease_id, now, reason, quota_value, kind
 * (rpm|tpm|rpd|"": what quota_value limits), tokens (known|zero|keep: what upstream counted of the
 * lease's estimate), prompt_tokens, est_tokens (a failure the edge reports has no lease: its
 * estimate sizes what the token quota refused). Action "unused": a lease upstream never saw (a
 * reserve's, handed back), whose request, day and token counts are returned. ARGV may hold
 * several outcomes, 14 arguments each, applied in turn in one run; the reply has what happened
 * to each ({'ok', 'cooled', ...}).
 */
static const char LUA_OUTCOME[] =
    "local P = ARGV[1]\n"
    "local tokr, tokset, tpm, kfgone = {}, {}, {}, {}\n"
    "local function ratio(M)\n"
    "  if tokr[M] == nil then tokr[M] = tonumber(redis.call('GET', P .. 'tokr:' .. M)) or false "
    "end\n"
    "  return tokr[M]\n"
    "end\n"
    "local function tpm_flush(tk)\n"
    "  local d = tpm[tk]\n"
    "  tpm[tk] = nil\n"
    "  if d and d ~= 0 and redis.call('EXISTS', tk) == 1 then redis.call('INCRBY', tk, d) end\n"
    "end\n"
    "local function one(b)\n"
    "local k, p, M, act = ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]\n"
    "local untilv, lid, now, reason = tonumber(ARGV[b + 6]), ARGV[b + 7], tonumber(ARGV[b + 8]), "
    "ARGV[b + 9]\n"
    "local qv, kind, tmode, counted = tonumber(ARGV[b + 10]), ARGV[b + 11], ARGV[b + 12], "
    "tonumber(ARGV[b + 13])\n"
    "local need = 0\n"
    "local rec = lid ~= '' and redis.call('GETDEL', P .. 'lease:' .. lid)\n"
    "if rec then\n"
    "  redis.call('ZREM', P .. 'leases', lid .. '|' .. k)\n"
    "  local f = {}\n"
    "  for x in string.gmatch(rec, '[^|]+') do f[#f + 1] = x end\n"
    "  local lmin, est = f[4], tonumber(f[6] or '0')\n"
    "  if f[8] == 'c' then redis.call('ZREM', P .. 'capl:' .. f[3], lid) end\n"
    "  need = tonumber(f[5] or '0') or 0\n"
    "  if act == 'unused' and lmin then\n"
    "    local pre = ':' .. f[2] .. ':' .. f[3] .. ':'\n"
    "    if redis.call('EXISTS', P .. 'rpm' .. pre .. lmin) == 1 then\n"
    "      redis.call('DECR', P .. 'rpm' .. pre .. lmin)\n"
    "    end\n"
    "    if f[7] and redis.call('EXISTS', P .. 'rpd' .. pre .. f[7]) == 1 then\n"
    "      redis.call('DECR', P .. 'rpd' .. pre .. f[7])\n"
    "    end\n"
    "    p, M = f[2], f[3]\n"
    "  end\n"
    "  if lmin and need > 0 and tmode ~= 'keep' then\n"
    "    local tk = P .. 'tpm:' .. p .. ':' .. M .. ':' .. lmin\n"
    "    local actual = tmode == 'known' and counted or 0\n"
    "    tpm[tk] = (tpm[tk] or 0) + actual - need\n"
    "    if tmode == 'known' and est and est > 0 and counted > 0 then\n"
    "      local r, old = counted * 1000 / est, ratio(M)\n"
    "      if old and old > 0 then r = (old * 7 + r) / 8 end\n"
    "      tokr[M], tokset[M] = math.floor(r + 0.5), true\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if act == 'ok' then\n"
    "  if not kfgone[k] then redis.call('DEL', P .. 'kf:' .. k) end\n"
    "  kfgone[k] = true\n"
    "  return 'ok'\n"
    "end\n"
    "if act == 'unused' then return 'returned' end\n"
    "if not rec then\n"
    "  local e = tonumber(ARGV[b + 14])\n"
    "  if e and e > 0 then need = math.ceil(e * (ratio(M) or 1000) / 1000) end\n"
    "end\n"
    "if act == 'cool' and kind == 'tpm' then\n"
    "  if qv and qv > 0 then redis.call('HSET', P .. 'lim:' .. p, M .. '|tpm', qv) end\n"
    "  local L = redis.call('HMGET', P .. 'lim:' .. p, 's|' .. M .. '|tpm', M .. '|tpm')\n"
    "  qv = tonumber(L[1] or L[2] or '0')\n"
    "end\n"
    "if act == 'cool' and kind == 'tpm' and qv > 0 then\n"
    "  local tk = P .. 'tpm:' .. p .. ':' .. M .. ':' .. math.floor(now / 60000)\n"
    "  local least = qv - math.max(need, 1) + 1\n"
    "  tpm_flush(tk)\n"
    "  if least > tonumber(redis.call('GET', tk) or '0') then\n"
    "    redis.call('SET', tk, least, 'PX', 120000)\n"
    "  end\n"
    "  return 'tokens_full'\n"
    "end\n"
    "if act == 'cool' or act == 'park' then\n"
    "  redis.call('ZREM', P .. 'av:' .. M, p)\n"
    "  local cur = tonumber(redis.call('ZSCORE', P .. 'cool:' .. M, p) or '0')\n"
    "  if qv and qv > 0 and (kind == 'rpm' or kind == 'rpd') then\n"
    "    redis.call('HSET', P .. 'lim:' .. p, kind == 'rpm' and M or M .. '|rpd', qv)\n"
    "  end\n"
    "  if untilv > cur then\n"
    "    redis.call('ZADD', P .. 'cool:' .. M, untilv, p)\n"
    "    if act == 'park' then redis.call('ZADD', P .. 'daily', untilv, M .. '|' .. p) end\n"
    "    return 'cooled'\n"
    "  end\n"
    "  if act == 'park' and untilv == cur then\n"
    "    redis.call('ZADD', P .. 'daily', untilv, M .. '|' .. p)\n"
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
    "  kfgone[k] = nil\n"
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
    "return 'released'\n"
    "end\n"
    "local r = {}\n"
    "for b = 0, #ARGV - 14, 14 do r[#r + 1] = one(b) end\n"
    "for tk in pairs(tpm) do tpm_flush(tk) end\n"
    "for M in pairs(tokset) do\n"
    "  redis.call('SET', P .. 'tokr:' .. M, string.format('%d', tokr[M]))\n"
    "end\n"
    "return r\n";

/* ARGV: prefix, key, project, record (msgpack). Idempotent: an existing key keeps its state.
 * kp_pool_set_keys() sets P seeded after the last key. */
static const char LUA_SEED[] = "local P, k, p, rec = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
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
/* ARGV: prefix, project, now, day_end. A project's limits and use per model as JSON (pool.h). */
static const char LUA_LIMITS[] =
    "local P, p, now, dayend = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"
    "local minute = math.floor(now / 60000)\n"
    "local mins = tostring(minute)\n"
    "local out, h = {}, redis.call('HGETALL', P .. 'lim:' .. p)\n"
    "local function slot(m, kind)\n"
    "  out[m] = out[m] or {rpm = {}, tpm = {}, rpd = {}}\n"
    "  return out[m][kind]\n"
    "end\n"
    "for i = 1, #h, 2 do\n"
    "  local f, v = h[i], tonumber(h[i + 1])\n"
    "  local m, kind = string.match(f, '^s|(.+)|(%a+)$')\n"
    "  if m then slot(m, kind).set = v\n"
    "  else\n"
    "    m, kind = string.match(f, '^(.+)|(%a+)$')\n"
    "    if m then slot(m, kind).learnt = v else slot(f, 'rpm').learnt = v end\n"
    "  end\n"
    "end\n"
    "for _, m in ipairs(redis.call('SMEMBERS', P .. 'models')) do\n"
    "  local pre = ':' .. p .. ':' .. m .. ':'\n"
    "  local r = tonumber(redis.call('GET', P .. 'rpm' .. pre .. minute) or '0')\n"
    "  local t = tonumber(redis.call('GET', P .. 'tpm' .. pre .. minute) or '0')\n"
    "  local d = tonumber(redis.call('GET', P .. 'rpd' .. pre .. dayend) or '0')\n"
    "  if out[m] or r > 0 or t > 0 or d > 0 then\n"
    "    slot(m, 'rpm').used = r\n"
    "    slot(m, 'tpm').used = math.max(t, 0)\n"
    "    slot(m, 'rpd').used = d\n"
    "  end\n"
    "end\n"
    "if next(out) == nil then return '{}' end\n"
    "return cjson.encode(out)\n";

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
    "local open = {}\n"
    "for _, m in ipairs(redis.call('ZRANGE', P .. 'leases', 0, -1)) do\n"
    "  local bar = string.find(m, '|', 1, true)\n"
    "  if bar then\n"
    "    local k = string.sub(m, bar + 1)\n"
    "    open[k] = (open[k] or 0) + 1\n"
    "  end\n"
    "end\n"
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
    "    open[k] or 0, cool,\n"
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
