// Request-event stream and logger: every request lands in Postgres exactly once, through logger
// restarts, Postgres outages, redelivery and several replicas; the admin queries, statistics and
// live tail; the analytics consumer example; retention.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, headers } from 'nats';
import protobuf from 'protobufjs';
import { withStack, waitUntil, sleep } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.resolve(HERE, '../../proto');
const KA = 'AIzaSyA000000000000000000000000000000A1';
const KB = 'AIzaSyB000000000000000000000000000000B2';
const KEYS = `pa:${KA},pb:${KB}`;
const FLASH = 'gemini-2.5-flash';
const opts = (extra = {}) => ({ loggers: 1, ...extra });

const rows = (s) => Number(s.psql('SELECT count(*) FROM request_logs'));
const waitRows = (s, n, what = `${n} log rows`) =>
  waitUntil(() => rows(s) === n, { tries: 300, interval: 100, what });

async function send(s, n, { model = FLASH, stream = false } = {}) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await s.gen(model, `hello ${i}`, { stream });
    const text = await r.text();
    out.push({ status: r.status, text, id: r.headers.get('x-request-id') });
  }
  return out;
}

test('every request is logged once, with its tokens, attempts and latencies', async () => {
  await withStack(KEYS, async (s) => {
    const plain = await send(s, 6);
    const streamed = await send(s, 3, { stream: true });
    // key A answers 429 once: the request that meets it fails over, and both attempts are logged
    await s.script({ key: KA, model: FLASH, fault: 'quota_minute', retry_delay: '3s', count: 1 });
    const failover = [];
    while (!/event=attempt.retry/.test(s.logs('edge')) && failover.length < 8) failover.push(...await send(s, 1));
    const total = 9 + failover.length;
    await waitRows(s, total);
    for (const r of [...plain, ...streamed, ...failover]) assert.equal(r.status, 200);

    const usage = JSON.parse(plain[0].text).usageMetadata;
    const [prompt, output, thought] = s.psql(
      "SELECT sum(prompt_tokens), sum(output_tokens), sum(thought_tokens) FROM request_logs WHERE route = 'generateContent'",
    ).split('|').map(Number);
    const whole = 6 + failover.length;
    assert.equal(prompt, whole * usage.promptTokenCount);
    assert.equal(output, whole * usage.candidatesTokenCount);
    assert.equal(thought, whole * (usage.thoughtsTokenCount ?? 0));
    assert.equal(s.psql("SELECT count(*) FROM request_logs WHERE stream AND route = 'streamGenerateContent' AND finish_reason = 'STOP'"), '3');
    assert.equal(s.psql('SELECT count(*) FROM request_logs WHERE total_us < ttfb_us OR total_us <= 0 OR overhead_us > total_us'), '0');
    assert.equal(s.psql("SELECT count(*) FROM request_logs WHERE status = 200 AND outcome = 'ok' AND attempts >= 1 AND bytes_out > 0 AND bytes_in > 0"), String(total));

    // the failed-over request: two attempts, the first a 429 on one key, the second ok on the other
    const multi = s.psql('SELECT request_id FROM request_logs WHERE attempts = 2');
    assert.ok(multi, 'one request made two attempts');
    const att = s.psql(`SELECT n, key_id, project, status, error_class, latency_us > 0 FROM request_attempts WHERE request_id = '${multi}' ORDER BY n`).split('\n').map((l) => l.split('|'));
    assert.equal(att.length, 2);
    assert.equal(att[0][3], '429');
    assert.equal(att[0][4], 'quota_minute');
    assert.equal(att[1][3], '200');
    assert.equal(att[1][4], '');
    assert.notEqual(att[0][1], att[1][1]);
    assert.deepEqual(att.map((a) => a[5]), ['t', 't']);

    // GET /api/logs/{id} shows the same attempts; secrets never appear
    s.session = await s.login();
    const one = await s.api(`/api/logs/${multi}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.attempts.length, 2);
    assert.equal(one.body.attempts[0].error_class, 'quota_minute');
    assert.ok(!one.text.includes(KA) && !one.text.includes(KB));
    assert.equal((await s.api('/api/logs/nosuchrequest')).status, 404);

    // key events: both seeded keys were added, and the 429 cooled key A's project for the model
    await waitUntil(() => s.psql("SELECT count(*) FROM key_events WHERE state = 'added' AND admin = 'GEMINI_API_KEYS'") === '2', { what: 'added key events' });
    await waitUntil(() => s.psql(`SELECT DISTINCT project || '|' || model || '|' || old_state FROM key_events WHERE state = 'cooled'`) === `pa|${FLASH}|active`, { what: 'the cooled key event' });

    // a refused request is logged too (401, no attempts)
    const bad = await fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': 'wrong' }, body: '{}' });
    assert.equal(bad.status, 401);
    await waitRows(s, total + 1);
    assert.equal(s.psql("SELECT status || outcome || attempts FROM request_logs WHERE route = 'refused'"), '401refused0');
  }, opts());
});

test('nothing is lost while the logger is down, or while Postgres is down', async () => {
  await withStack(KEYS, async (s) => {
    await send(s, 3);
    await waitRows(s, 3);
    await s.kill('logger');
    await send(s, 20);
    await sleep(300);
    assert.equal(rows(s), 3, 'no logger, no new rows');
    s.logger({}, 'logger-b');
    await waitRows(s, 23, 'the backlog after a logger restart');

    s.pgStop();
    await send(s, 15);
    await sleep(1500);
    s.pgStart();
    await waitRows(s, 38, 'the backlog after Postgres came back');
    assert.match(s.logs('logger-b'), /event=postgres.unavailable/);
    assert.equal(s.psql('SELECT count(DISTINCT request_id) FROM request_logs'), '38');
  }, opts());
});

test('a row Postgres refuses is dropped alone; Postgres going away while rows are stored one by one drops nothing', async () => {
  await withStack(KEYS, async (s) => {
    await s.kill('logger');
    const now = Date.now() * 1000;
    const ev = (i, status = 200) => ({
      requestId: `one${i}`, tsUs: now + i, tokenId: 't', route: 'generateContent', api: 'gemini',
      model: FLASH, modelUsed: FLASH, status, outcome: 'ok', edge: 'e1', attemptsTotal: 1,
    });
    // the first event's status does not fit Postgres's int: the batch falls back to one by one
    const N = 1500;
    await publish(s, [ev(0, 4000000000), ...Array.from({ length: N }, (_, i) => ev(i + 1))]);
    s.logger({ SB_LOGGER_BATCH: String(N + 1), SB_LOGGER_FLUSH_MS: '1000' }, 'logger-b');
    await waitUntil(() => /event=event.unstorable/.test(s.logs('logger-b')), { tries: 400, interval: 10, what: 'one by one' });
    s.pgStop(); // in the middle of the one-by-one writes
    await sleep(1500);
    s.pgStart();
    await waitRows(s, N, 'every storable event, after Postgres came back');
    assert.equal(s.psql("SELECT count(*) FROM request_logs WHERE request_id = 'one0'"), '0', 'the bad row was dropped');
    assert.match(s.logs('logger-b'), /event=postgres.unavailable/);
  }, opts());
});

test('events delivered again (a replaying consumer) add no rows; two replicas share the work', async () => {
  await withStack(KEYS, async (s) => {
    await send(s, 10);
    await waitRows(s, 10);
    // a second durable reads the whole stream from the start: every event is delivered again
    s.provision({ SB_LOGGER_DURABLE: 'replay' }); // a consumer of its own, which reads the stream anew
    s.logger({ SB_LOGGER_DURABLE: 'replay' }, 'replay');
    await waitUntil(() => /event=ready/.test(s.logs('replay')), { what: 'replay logger' });
    const nc = await s.natsConnect();
    const jsm = await nc.jetstreamManager();
    await waitUntil(async () => {
      const ci = await jsm.consumers.info('SB_EVENTS', 'replay');
      return ci.num_pending === 0 && ci.num_ack_pending === 0;
    }, { what: 'replay caught up', tries: 200 });
    await s.kill('replay');
    assert.match(s.logs('replay'), /event=stopping .*stored=0 duplicates=10/);
    assert.equal(rows(s), 10);

    // two replicas of the same durable, small batches: both store, nothing twice
    s.logger({ SB_LOGGER_BATCH: '4' }, 'logger-2');
    await waitUntil(() => /event=ready/.test(s.logs('logger-2')), { what: 'second logger' });
    await Promise.all(Array.from({ length: 8 }, () => send(s, 15)));
    await waitRows(s, 130);
    await s.kill('logger');
    await s.kill('logger-2');
    const stored = ['logger', 'logger-2'].map((n) => Number(s.logs(n).match(/event=stopping .*stored=(\d+)/)[1]));
    assert.ok(stored.every((n) => n > 0), `both replicas stored: ${stored}`);
    assert.equal(stored[0] + stored[1], 130);
    assert.equal(s.psql('SELECT count(DISTINCT request_id) FROM request_logs'), '130');
    await nc.close();
  }, opts({ lgrEnv: { SB_LOGGER_BATCH: '4' } }));
});

// ---- a fixed dataset published straight onto SB_EVENTS, so every answer can be computed here
const DAY = 86400e6;
const HOUR = 3600e6;

function dataset(base) {
  const ev = [];
  const models = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash'];
  for (let i = 0; i < 24; i++) {
    const status = i % 6 === 5 ? 429 : i % 8 === 7 ? 500 : 200;
    const key = i % 3 === 0 ? 'k_aaa' : i % 3 === 1 ? 'k_bbb' : 'k_ccc';
    const attempts = [{ keyId: key, project: `p_${key}`, status, errorClass: status === 200 ? '' : status === 429 ? 'quota_minute' : 'transient', latencyUs: 1000 + i }];
    if (i % 5 === 4) attempts.unshift({ keyId: 'k_ddd', project: 'p_k_ddd', status: 429, errorClass: 'quota_day', latencyUs: 500 });
    ev.push({
      requestId: `fx${String(i).padStart(3, '0')}`, tsUs: base + i * 1.5 * HOUR + i * 1000,
      tokenId: i % 2 ? 't_one' : 't_two', route: i % 4 === 3 ? 'streamGenerateContent' : 'generateContent',
      api: i % 3 === 2 ? 'openai' : 'gemini', model: models[i % 3], modelUsed: models[i % 3],
      stream: i % 4 === 3, attempts, status, outcome: status === 200 ? 'ok' : status === 429 ? 'quota_minute' : 'transient',
      finishReason: status === 200 ? 'STOP' : '', ttfbUs: 2000 + i, totalUs: 5000 + 100 * i, overheadUs: 300 + i,
      promptTokens: 10 + i, outputTokens: 20 + 2 * i, thoughtTokens: i, cachedTokens: i % 2,
      bytesIn: 100 + i, bytesOut: 200 + i, edge: 'e1', attemptsTotal: attempts.length,
    });
  }
  return ev;
}

// Request events as an edge sends them (batches of up to 100, sb.v1.events.requests), or with
// legacy one by one (sb.v1.events.request, as edges before batches did).
async function publish(s, events, keyEvents = [], { legacy = false } = {}) {
  const root = await protobuf.load(path.join(PROTO, 'events.proto'));
  const RE = root.lookupType('sb.v1.RequestEvent');
  const RES = root.lookupType('sb.v1.RequestEvents');
  const KE = root.lookupType('sb.v1.KeyEvent');
  const nc = await s.natsConnect();
  const js = nc.jetstream();
  for (let i = 0; legacy && i < events.length; i++) await js.publish('sb.v1.events.request', RE.encode(RE.create(events[i])).finish(), { msgID: events[i].requestId });
  for (let i = 0; !legacy && i < events.length; i += 100) {
    const part = events.slice(i, i + 100);
    const h = headers();
    h.set('Sb-Events', String(part.length));
    await js.publish('sb.v1.events.requests', RES.encode(RES.create({ events: part })).finish(), { msgID: part[0].requestId, headers: h });
  }
  for (const k of keyEvents) await js.publish('sb.v1.events.key', KE.encode(KE.create(k)).finish(), { msgID: k.id });
  await nc.close();
}

const isoUs = (us) => new Date(Math.floor(us / 1000)).toISOString();

test('/api/logs filters and keyset paging, and statistics, match a known dataset', async () => {
  await withStack(KEYS, async (s) => {
    const now = Date.now() * 1000;
    const base = Math.floor(now / DAY) * DAY - 3 * DAY; // three days ago, 00:00 UTC
    const ev = dataset(base);
    const keyEvents = [
      { id: 'ke1', keyId: 'k_aaa', state: 'added', tsMs: (base - HOUR) / 1000 },
      { id: 'ke2', keyId: 'k_bbb', state: 'added', tsMs: (base - HOUR) / 1000 },
      { id: 'ke3', keyId: 'k_ccc', state: 'added', tsMs: (base - HOUR) / 1000 },
      { id: 'ke4', keyId: 'k_bbb', state: 'dead', oldState: 'active', tsMs: (base + 2.5 * HOUR) / 1000 },
      { id: 'ke5', keyId: 'k_ccc', state: 'disabled', tsMs: (base + 4.5 * HOUR) / 1000 },
      { id: 'ke6', keyId: 'k_aaa', state: 'cooled', model: FLASH, tsMs: (base + 4.6 * HOUR) / 1000 },
      { id: 'ke7', keyId: 'k_ccc', state: 'active', tsMs: (base + 6.5 * HOUR) / 1000 },
    ];
    await publish(s, ev, keyEvents);
    await publish(s, ev.slice(0, 5), [], { legacy: true }); // the same requests again, one by one
    await waitRows(s, 24);
    await waitUntil(() => s.psql("SELECT count(*) FROM key_events WHERE event_id LIKE 'ke_'") === '7', { what: 'key events' });
    s.session = await s.login();
    const range = `from=${isoUs(base)}&to=${isoUs(base + DAY * 2)}`;

    // every filter, against the same filter computed here
    const cases = [
      ['model=gemini-2.5-pro', (e) => e.model === 'gemini-2.5-pro'],
      ['status=429', (e) => e.status === 429],
      ['status=5xx', (e) => e.status >= 500],
      ['status=2xx', (e) => e.status < 300],
      ['key_id=k_ddd', (e) => e.attempts.some((a) => a.keyId === 'k_ddd')],
      ['key_id=k_bbb', (e) => e.attempts.some((a) => a.keyId === 'k_bbb')],
      ['project=p_k_aaa', (e) => e.attempts.some((a) => a.project === 'p_k_aaa')],
      ['token_id=t_one', (e) => e.tokenId === 't_one'],
      ['request_id=fx007', (e) => e.requestId === 'fx007'],
      ['error_class=transient', (e) => e.outcome === 'transient'],
      ['stream=true', (e) => e.stream],
      ['stream=false', (e) => !e.stream],
      ['api=openai', (e) => e.api === 'openai'],
      [`from=${isoUs(base + 6 * HOUR)}&to=${isoUs(base + 12 * HOUR)}`, (e) => e.tsUs >= base + 6 * HOUR && e.tsUs < base + 12 * HOUR],
      ['model=gemini-2.5-flash&status=2xx&stream=false', (e) => e.model === FLASH && e.status < 300 && !e.stream],
    ];
    const newestFirst = [...ev].sort((a, b) => b.tsUs - a.tsUs);
    for (const [q, f] of cases) {
      const r = await s.api(`/api/logs?${q.startsWith('from=') ? q : `${range}&${q}`}&limit=500`);
      assert.equal(r.status, 200, q);
      assert.deepEqual(r.body.items.map((i) => i.request_id), newestFirst.filter(f).map((e) => e.requestId), q);
    }
    // keyset paging: pages of 5, newest first, no gaps, no repeats, a null cursor at the end
    const seen = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const r = await s.api(`/api/logs?${range}&limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200);
      seen.push(...r.body.items.map((i) => i.request_id));
      cursor = r.body.next;
      if (!cursor) break;
    }
    assert.deepEqual(seen, newestFirst.map((e) => e.requestId));
    // since is a span back from now, as the README writes it (15m, 1h, 24h, 7d were refused)
    for (const [q, n] of [['since=15m', 0], ['since=1h', 0], ['since=30s', 0], ['since=7d', 24], ['since=240h', 24]]) {
      const r = await s.api(`/api/logs?${q}&limit=500`);
      assert.equal(r.status, 200, `${q}: ${r.text}`);
      assert.equal(r.body.items.length, n, q);
    }
    assert.equal((await s.api('/api/logs?since=24h')).status, 200);
    assert.equal((await s.api('/api/stats/usage?since=7d&group_by=model&bucket=day')).status, 200);
    for (const bad of ['15x', '-1h', '1.5h', 'h', '9999999999999d', '3651d']) {
      const r = await s.api(`/api/logs?since=${bad}`);
      assert.equal(r.status, 400, bad);
      assert.match(r.body.error.message, /15m, 24h or 7d/);
    }
    for (const bad of ['status=abc', 'from=yesterday', 'limit=0', 'limit=501', 'cursor=zzz', 'stream=maybe', 'since=forever']) {
      const r = await s.api(`/api/logs?${bad}`);
      assert.equal(r.status, 400, bad);
    }
    const item = (await s.api(`/api/logs?${range}&request_id=fx004`)).body.items[0];
    assert.equal(item.attempts.length, 2);
    assert.deepEqual(item.tokens, { prompt: 14, output: 28, thought: 4, cached: 0 });

    // usage by model per day, computed here
    const usage = (await s.api(`/api/stats/usage?${range}&group_by=model&bucket=day`)).body.rows;
    const want = {};
    for (const e of ev) {
      const k = `${isoUs(Math.floor(e.tsUs / DAY) * DAY)}|${e.model}`;
      const w = (want[k] ??= { requests: 0, ok: 0, prompt: 0, output: 0, total: 0 });
      w.requests++; w.ok += e.status < 300 ? 1 : 0; w.prompt += e.promptTokens; w.output += e.outputTokens; w.total += e.totalUs;
    }
    assert.equal(usage.length, Object.keys(want).length);
    for (const r of usage) {
      const w = want[`${r.bucket}|${r.group}`];
      assert.ok(w, `${r.bucket} ${r.group}`);
      assert.equal(r.requests, w.requests);
      assert.equal(r.ok, w.ok);
      assert.equal(r.tokens.prompt, w.prompt);
      assert.equal(r.tokens.output, w.output);
      assert.equal(r.avg_total_us, Math.round(w.total / w.requests));
      assert.equal(r.success_rate, w.ok / w.requests);
    }
    // by key, hourly: the key that answered each request
    const byKey = (await s.api(`/api/stats/usage?${range}&group_by=key&bucket=hour`)).body.rows;
    assert.equal(byKey.reduce((n, r) => n + r.requests, 0), 24);
    assert.equal(byKey.filter((r) => r.group === 'k_aaa').reduce((n, r) => n + r.requests, 0), 8);

    // heatmap: ISO weekday x hour, in UTC and in another zone
    const heat = (await s.api(`/api/stats/heatmap?${range}`)).body.rows;
    const cell = {};
    for (const e of ev) {
      const d = new Date(e.tsUs / 1000);
      const k = `${d.getUTCDay() || 7}|${d.getUTCHours()}`;
      cell[k] = (cell[k] ?? 0) + 1;
    }
    assert.deepEqual(Object.fromEntries(heat.map((h) => [`${h.weekday}|${h.hour}`, h.requests])), cell);
    const heatTokyo = (await s.api(`/api/stats/heatmap?${range}&tz=Asia/Tokyo`)).body.rows;
    assert.ok(heatTokyo.some((h) => h.hour === (new Date(ev[0].tsUs / 1000).getUTCHours() + 9) % 24));
    assert.equal((await s.api(`/api/stats/heatmap?${range}&tz=Mars/Olympus`)).status, 400);

    // errors: failed attempts by class per day
    const errs = (await s.api(`/api/stats/errors?${range}&bucket=day`)).body.rows;
    const ecount = {};
    for (const e of ev) for (const a of e.attempts) if (a.errorClass) ecount[a.errorClass] = (ecount[a.errorClass] ?? 0) + 1;
    const got = {};
    for (const r of errs) got[r.error_class] = (got[r.error_class] ?? 0) + r.count;
    assert.deepEqual(got, ecount);

    // key survival, hourly over the first 8 hours
    const keys = (await s.api(`/api/stats/keys?from=${isoUs(base)}&to=${isoUs(base + 8 * HOUR)}&bucket=hour`)).body.rows;
    const at = (h) => Object.fromEntries(keys.filter((r) => r.bucket === isoUs(base + h * HOUR)).map((r) => [r.state, r.keys]));
    assert.deepEqual(at(0), { active: 3 });
    assert.deepEqual(at(2), { active: 2, dead: 1 });
    assert.deepEqual(at(4), { active: 1, dead: 1, disabled: 1 }); // a cooled model is not a key state
    assert.deepEqual(at(6), { active: 2, dead: 1 });
    for (const bad of ['usage?group_by=colour', 'usage?bucket=week', 'nosuchkind', `usage?from=${isoUs(base)}&to=${isoUs(base + 400 * DAY)}`]) {
      assert.equal((await s.api(`/api/stats/${bad}`)).status, 400, bad);
    }
  }, opts());
});

test('the live tail delivers events to a signed-in admin within a second, and only to one', async () => {
  await withStack(KEYS, async (s) => {
    s.session = await s.login();
    assert.equal((await fetch(`${s.url}/api/logs/stream`)).status, 401);
    assert.equal((await fetch(`${s.url}/api/logs/stream`, { headers: { authorization: `Bearer ${s.token}` } })).status, 401);
    const ac = new AbortController();
    const r = await fetch(`${s.url}/api/logs/stream?model=${FLASH}&status=2xx`, { headers: { authorization: `Bearer ${s.session}` }, signal: ac.signal });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/event-stream/);
    const reader = r.body.getReader();
    let text = '';
    const until = async (re, ms) => {
      const deadline = Date.now() + ms;
      while (!re.test(text)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`tail: no ${re} within ${ms} ms; got ${text.slice(-300)}`);
        const chunk = await Promise.race([reader.read(), sleep(left).then(() => null)]);
        if (chunk?.value) text += new TextDecoder().decode(chunk.value);
      }
    };
    await until(/: connected/, 2000);
    await send(s, 1, { model: 'gemini-2.5-pro' }); // filtered out
    const done = await send(s, 1);
    const t0 = Date.now();
    await until(new RegExp(`"request_id":"${done[0].id}"`), 1000);
    assert.ok(Date.now() - t0 < 1000);
    assert.ok(!text.includes('gemini-2.5-pro'), 'the filter applies');
    await until(/: heartbeat/, 2500);
    ac.abort();
  }, opts({ edgeEnv: { SB_TAIL_HEARTBEAT_S: '1' } }));
});

test('an analytics consumer (deploy/analytics/consumer.mjs) reads every event beside the logger', async () => {
  await withStack(KEYS, async (s) => {
    const copy = path.join(HERE, '.analytics-consumer.mjs'); // resolves this folder's node_modules
    copyFileSync(path.resolve(HERE, '../../deploy/analytics/consumer.mjs'), copy);
    const sent = await send(s, 12);
    const p = spawn(process.execPath, [copy], { env: { ...process.env, NATS_URL: s.natsUrl, ...s.natsCreds('analytics'), SB_PROTO_DIR: PROTO, ANALYTICS_FILTER: 'sb.v1.events.requests' } });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    try {
      await waitUntil(() => out.split('\n').filter(Boolean).length >= 12, { what: 'analytics lines', tries: 150 });
      const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.requestId).sort(), sent.map((r) => r.id).sort());
      assert.ok(lines.every((l) => l.status === 200 && l.promptTokens > 0 && l.attempts.length === 1));
    } finally {
      p.kill('SIGTERM');
    }
    await waitRows(s, 12); // the logger's own durable is untouched by the other consumer
  }, opts());
});

test('retention: the scheduler drops old day partitions (SB_LOG_RETENTION_DAYS, and the live setting wins)', async () => {
  await withStack(KEYS, async (s) => {
    const today = Math.floor(Date.now() * 1000 / DAY) * DAY;
    const old = dataset(today - 40 * DAY).slice(0, 3);
    const mid = dataset(today - 5 * DAY).slice(3, 6);
    await publish(s, old, [], { legacy: true }); // as an edge from before batches sent them
    await publish(s, mid);
    await waitRows(s, 6);
    s.session = await s.login();
    const retention = async () => (await s.api('/api/scheduler')).body?.jobs?.find((j) => j.name === 'retention');
    s.scheduler();
    // a new leader runs each periodic job at once: the default 30 days drops the 40-day-old day
    await waitUntil(async () => (await retention())?.runs >= 1, { tries: 100, what: 'retention run' });
    const first = await retention();
    assert.equal(first.last_ok, true);
    assert.equal(first.last_result, 'days=30 partitions_dropped=2'); // request_logs + request_attempts
    assert.equal(rows(s), 3);
    assert.equal((await s.api('/api/settings', { method: 'PUT', body: { log_retention_days: 2 } })).status, 200);
    const run = await s.api('/api/scheduler/retention/run', { method: 'POST' });
    assert.equal(run.status, 200, run.text);
    assert.equal(run.body.last_result, 'days=2 partitions_dropped=2');
    assert.equal(rows(s), 0);
    assert.equal((await s.api('/api/settings', { method: 'PUT', body: { log_retention_days: 0 } })).status, 400);
  }, opts());
});

test('without the stream, requests still succeed: events wait in a bounded buffer, then drops are counted', async () => {
  await withStack(KEYS, async (s) => {
    const metric = async (name) => {
      const { text } = await s.ops(s.edgeProc, '/metrics');
      return Number((text.match(new RegExp(`^${name} (\\d+)$`, 'm')) ?? [])[1]);
    };
    const nc = await s.natsConnect();
    const jsm = await nc.jetstreamManager();
    await s.kill('logger');
    await jsm.streams.delete('SB_EVENTS');
    const during = await send(s, 10);
    assert.ok(during.every((r) => r.status === 200), 'requests do not wait for the event stream');
    await waitUntil(async () => (await metric('sb_events_buffered')) === 10, { what: '10 events buffered' });
    // the stream comes back (provisioned again): the buffered events arrive, none lost
    s.provision();
    s.logger({}, 'logger-b');
    await waitRows(s, 10, 'the buffered events');
    assert.equal(await metric('sb_events_dropped_total'), 0);
    // gone again, and more requests than the buffer holds: they all succeed, the excess is counted
    await s.kill('logger-b');
    await jsm.streams.delete('SB_EVENTS');
    const many = await send(s, 30);
    assert.ok(many.every((r) => r.status === 200));
    await waitUntil(async () => (await metric('sb_events_dropped_total')) === 14, { what: 'drops counted' });
    assert.equal(await metric('sb_events_buffered'), 16);
    // stopped with events still waiting: they are counted and said, not silently freed
    await s.kill('edge');
    assert.match(s.logs('edge'), /level=error .*event=events.lost count=16 /);
    await nc.close();
  }, opts({ edgeEnv: { SB_EVENTS_BUFFER: '16' } }));
});

test('a call in flight on a killed edge is logged as interrupted; a call that outlives the mark replaces it', async () => {
  await withStack(KEYS, async (s) => {
    const streamHead = async (text) => {
      const r = await s.gen(FLASH, text, { stream: true });
      assert.equal(r.status, 200);
      const reader = r.body.getReader();
      await reader.read(); // the first event: the id has reached the client
      return { id: r.headers.get('x-request-id'), reader };
    };
    for (const key of [KA, KB]) await s.script({ key, fault: 'stall', after: 2, ms: 30000, count: 1 });
    const cut = await streamHead('a b c d e');
    s.edgeProc.kill('SIGKILL');
    for (const key of [KA, KB]) await s.unscript(key); // (one is left: the other key served)
    const other = await s.edge({}, 'edge2');
    await s.ready(other);
    s.url = other.url;
    s.session = await s.login();
    let logged;
    await waitUntil(async () => {
      const r = await s.api(`/api/logs/${cut.id}`);
      logged = r.body;
      return r.status === 200;
    }, { tries: 100, interval: 100, what: 'the cut call in the log' });
    assert.equal(logged.outcome, 'interrupted');
    assert.equal(logged.status, 0);
    assert.equal(logged.model, FLASH);
    assert.equal(logged.stream, true);
    assert.match(s.logs('logger'), /event=requests\.interrupted count=1/);

    // a call longer than SB_INTERRUPTED_AFTER_S is marked, then its own event replaces the mark
    await s.script({ key: KA, fault: 'stall', after: 2, ms: 4000, count: 1 });
    await s.script({ key: KB, fault: 'stall', after: 2, ms: 4000, count: 1 });
    const r = await s.gen(FLASH, 'f g h i j', { stream: true });
    const id = r.headers.get('x-request-id');
    await waitUntil(() => s.psql(`SELECT outcome FROM request_logs WHERE request_id = '${id}'`) === 'interrupted',
      { tries: 100, interval: 50, what: 'the long call marked while it runs' });
    await r.text();
    let row;
    await waitUntil(() => (row = s.psql(`SELECT outcome || ' ' || status FROM request_logs WHERE request_id = '${id}'`)) === 'ok 200',
      { tries: 100, interval: 100, what: 'its own event replaced the mark' }).catch((e) => { throw new Error(`${e.message}: ${row}`); });
    assert.equal(s.psql(`SELECT count(*) FROM request_logs WHERE request_id = '${id}'`), '1');
    assert.equal(s.psql('SELECT count(*) FROM request_starts'), '0', 'no start is left behind');
  }, opts({ lgrEnv: { SB_INTERRUPTED_AFTER_S: '2' } }));
});

test('a call answered just before its edge is killed is logged: its event was on disk before the answer left', async () => {
  await withStack(KEYS, async (s) => {
    const port = new URL(s.url).port;
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await s.gen(FLASH, `answered then killed ${i}`);
      assert.equal(r.status, 200);
      await r.text();
      ids.push(r.headers.get('x-request-id'));
    }
    s.edgeProc.kill('SIGKILL'); // well within the ~10 ms its events wait to be sent together
    await sleep(200);
    const again = await s.edge({ SB_HTTP_PORT: port }, 'edge-again');
    await s.ready(again);
    const have = () => Number(s.psql(`SELECT count(*) FROM request_logs WHERE outcome = 'ok' AND request_id IN (${ids.map((x) => `'${x}'`).join(',')})`));
    await waitUntil(() => have() === 3, { tries: 100, interval: 100, what: 'the three answered calls in the log' })
      .catch((e) => { throw new Error(`${e.message}: ${have()} of 3`); });
    // sent by the edge that followed, or by the killed one before it died: stored once either way
    assert.equal(s.psql(`SELECT count(*) FROM request_logs WHERE request_id IN (${ids.map((x) => `'${x}'`).join(',')})`), '3');
  }, opts());
});

test('a quick call is one event; a call with no byte for its client after SB_EVENTS_START_MS sends its start', async () => {
  await withStack(KEYS, async (s) => {
    const RES = (await protobuf.load(path.join(PROTO, 'events.proto'))).lookupType('sb.v1.RequestEvents');
    const nc = await s.natsConnect();
    const jsm = await nc.jetstreamManager();
    const count = async (subj) => (await jsm.streams.info('SB_EVENTS', { subjects_filter: subj })).state.subjects?.[subj] ?? 0;
    // finished requests travel in batches: their records, summed over the batches' Sb-Events
    const records = async (subj) => {
      const { state } = await jsm.streams.info('SB_EVENTS');
      let n = 0;
      for (let seq = state.first_seq; seq <= state.last_seq && state.messages; seq++) {
        const m = await jsm.streams.getMessage('SB_EVENTS', { seq });
        if (m.subject !== subj) continue;
        assert.equal(RES.decode(m.data).events.length, Number(m.header.get('Sb-Events')));
        n += Number(m.header.get('Sb-Events'));
      }
      return n;
    };
    const starts = await count('sb.v1.events.start'), ends = await records('sb.v1.events.requests');
    for (let i = 0; i < 5; i++) assert.equal((await s.gen(FLASH, `quick call ${i}`)).status, 200);
    await waitUntil(async () => (await records('sb.v1.events.requests')) === ends + 5, { what: 'five final events' });
    assert.equal(await count('sb.v1.events.start'), starts, 'a call answered at once sends no start event');

    // a call upstream keeps waiting 4 s: its start leaves after 250 ms, so the logger marks it
    // while it runs (as it would if its edge died), and its own event replaces the mark
    for (const key of [KA, KB]) await s.script({ key, fault: 'latency', ms: 4000, count: 1 });
    const pending = s.gen(FLASH, 'a slow call');
    await waitUntil(async () => (await count('sb.v1.events.start')) === starts + 1, { tries: 40, interval: 50, what: 'its start event' });
    let marked;
    await waitUntil(() => (marked = s.psql("SELECT request_id FROM request_logs WHERE outcome = 'interrupted'")) !== '',
      { tries: 100, interval: 50, what: 'the slow call marked while it runs' });
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-request-id'), marked);
    await waitUntil(() => s.psql(`SELECT outcome || ' ' || status FROM request_logs WHERE request_id = '${marked}'`) === 'ok 200',
      { tries: 100, interval: 100, what: 'its own event replaced the mark' });
    await nc.close();
  }, opts({ lgrEnv: { SB_INTERRUPTED_AFTER_S: '2' } }));
});

test('each client protocol is logged under its api and route, and statistics group by it', async () => {
  await withStack(KEYS, async (s) => {
    const json = { 'content-type': 'application/json' };
    const bearer = { ...json, authorization: `Bearer ${s.token}` };
    const calls = [
      await s.gen(FLASH, 'native one'),
      await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: bearer, body: JSON.stringify({ model: FLASH, messages: [{ role: 'user', content: 'chat one' }] }) }),
      await fetch(`${s.url}/v1/messages`, { method: 'POST', headers: { ...json, 'x-api-key': s.token, 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: FLASH, max_tokens: 20, messages: [{ role: 'user', content: 'claude one' }] }) }),
      await fetch(`${s.url}/v1/responses`, { method: 'POST', headers: bearer, body: JSON.stringify({ model: FLASH, input: 'responses one' }) }),
    ];
    for (const r of calls) assert.equal(r.status, 200, await r.clone().text());
    const id = (await calls[3].json()).id;
    // a stored response read back: answered by its protocol, logged all the same
    let got;
    await waitUntil(async () => (got = await fetch(`${s.url}/v1/responses/${id}`, { headers: bearer })).status === 200, { what: 'stored response' });
    await waitRows(s, 5);
    const logged = s.psql('SELECT api, route, status, outcome FROM request_logs ORDER BY ts').split('\n');
    assert.deepEqual(logged, ['gemini|generateContent|200|ok', 'openai|chat.completions|200|ok', 'anthropic|messages|200|ok',
      'openai-responses|responses.create|200|ok', 'openai-responses|responses.retrieve|200|local']);
    s.session = await s.login();
    const rows = (await s.api('/api/stats/usage?since=1h&group_by=api&bucket=hour')).body.rows;
    const apis = [...new Set(rows.map((r) => r.group))].sort();
    assert.deepEqual(apis, ['anthropic', 'gemini', 'openai', 'openai-responses']);
  }, opts());
});
