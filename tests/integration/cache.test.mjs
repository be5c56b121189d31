// The exact response cache: the same non-stream request twice is one upstream call, the second
// answered from Redis and marked X-Sb-Cache: hit, in the native and OpenAI formats alike; another
// client token, temperature > 0, or a token that opts out is a miss; shared across tokens when
// the settings say so; hits and the tokens they saved in the usage statistics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Stack, waitUntil, sleep } from './harness.mjs';

const FLASH = 'gemini-2.5-flash';
const s = new Stack();
let other;

before(async () => {
  await s.start('pa:key-cache-000000001,pb:key-cache-000000002', { loggers: 1 });
  s.session = await s.login();
  const r = await s.api('/api/settings', { method: 'PUT', body: { cache_ttl_s: 60 } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.cache, { ttl_s: 60, shared: false, any_temperature: false });
  const t = await s.api('/api/tokens', { method: 'POST', body: { name: 'other' } });
  assert.equal(t.status, 201, t.text);
  s.secrets.push(t.body.secret);
  other = t.body;
  await waitUntil(async () => (await gen(other.secret, 0)).status === 200, { what: 'token known' });
});
after(async () => { await s.stop(); });

const gen = (token, temperature, text = 'tell me about caches') => fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, {
  method: 'POST', headers: { 'x-goog-api-key': token, 'content-type': 'application/json' },
  body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }], generationConfig: { temperature } }),
});
const upstreamCalls = async () => (await s.stats()).log.filter((l) => l.model === FLASH).length;

test('the same request twice: one upstream call, the second a hit with the same answer', async () => {
  await s.fakeReset();
  const a = await gen(s.token, 0, 'one');
  assert.equal(a.status, 200);
  assert.equal(a.headers.get('x-sb-cache'), null);
  const body = await a.text();
  await sleep(200); // the answer is stored by a queued write, well under a millisecond later
  const b = await gen(s.token, 0, 'one');
  assert.equal(b.headers.get('x-sb-cache'), 'hit');
  assert.equal(await b.text(), body);
  assert.equal(await upstreamCalls(), 1);
  // key order and whitespace do not matter: the body is normalised
  const c = await fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, {
    method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
    body: `{ "generationConfig": {"temperature": 0},\n "contents": [{"parts": [{"text": "one"}], "role": "user"}] }`,
  });
  assert.equal(c.headers.get('x-sb-cache'), 'hit');
  assert.equal(await upstreamCalls(), 1);
});

test('another client token, temperature 1, or a token that opts out: misses', async () => {
  await s.fakeReset();
  assert.equal((await gen(s.token, 0, 'two')).status, 200);
  await sleep(200);
  assert.equal((await gen(s.token, 0, 'two')).headers.get('x-sb-cache'), 'hit');
  const o = await gen(other.secret, 0, 'two');
  assert.equal(o.status, 200);
  assert.equal(o.headers.get('x-sb-cache'), null, 'never across client tokens');
  for (let i = 0; i < 2; i++) {
    const t = await gen(s.token, 1, 'two');
    assert.equal(t.headers.get('x-sb-cache'), null, 'temperature 1 is not cached');
  }
  assert.equal(await upstreamCalls(), 4);
  const patched = await s.api(`/api/tokens/${other.id}`, { method: 'PATCH', body: { cache: false } });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.body.cache, false);
  await waitUntil(async () => (await gen(other.secret, 0, 'three')).status === 200, { what: 'reload' });
  const before = await upstreamCalls();
  assert.equal((await gen(other.secret, 0, 'three')).headers.get('x-sb-cache'), null, 'opted out');
  assert.equal(await upstreamCalls(), before + 1);
  assert.equal((await s.api(`/api/tokens/${other.id}`, { method: 'PATCH', body: { cache: null } })).status, 200);
});

test('OpenAI format; shared across tokens when set; hits and saved tokens in the statistics', async () => {
  const openai = new OpenAI({ apiKey: s.token, baseURL: `${s.url}/v1` });
  const ask = () => openai.chat.completions.create({ model: FLASH, temperature: 0, messages: [{ role: 'user', content: 'cache me' }] }).withResponse();
  const first = await ask();
  assert.ok(first.data.choices[0].message.content);
  await waitUntil(async () => (await ask()).response.headers.get('x-sb-cache') === 'hit', { what: 'an OpenAI hit', tries: 50, interval: 20 });
  const hit = await ask();
  assert.equal(hit.response.headers.get('x-sb-cache'), 'hit');
  assert.equal(hit.data.choices[0].message.content, first.data.choices[0].message.content);

  assert.equal((await s.api('/api/settings', { method: 'PUT', body: { cache_shared: true } })).status, 200);
  assert.equal((await gen(s.token, 0, 'shared')).status, 200);
  await waitUntil(async () => (await gen(other.secret, 0, 'shared')).headers.get('x-sb-cache') === 'hit', { what: 'a shared hit', tries: 50, interval: 20 });

  const range = `from=${new Date(Date.now() - 3600e3).toISOString()}&to=${new Date(Date.now() + 60e3).toISOString()}`;
  await waitUntil(async () => {
    const rows = (await s.api(`/api/stats/usage?${range}&group_by=none&bucket=hour`)).body.rows;
    const hits = rows.reduce((n, r) => n + r.cache.hits, 0);
    const saved = rows.reduce((n, r) => n + r.cache.saved_tokens, 0);
    return hits >= 5 && saved > 0;
  }, { what: 'hits in the statistics' });
  const logs = (await s.api('/api/logs?outcome=cache_hit&limit=50')).body.items;
  assert.ok(logs.length >= 5);
  for (const l of logs) assert.equal(l.attempts.length, 0);
});

test('a lookup waits for a stalled Redis, not the edge: the request is answered once Redis is back, others at once', async () => {
  s.redis('CLIENT', 'PAUSE', '1000', 'ALL');
  const paused = Date.now();
  const pending = gen(s.token, 0, 'a lookup while redis is paused');
  await sleep(150);
  const t1 = Date.now();
  const other = await gen('nobody', 0);
  assert.ok(other.status >= 400 && other.status < 500, `refused: ${other.status}`);
  assert.ok(Date.now() - t1 < 400, `the edge answers others while a lookup waits (${Date.now() - t1} ms)`);
  const r = await pending;
  assert.equal(r.status, 200, await r.clone().text());
  assert.ok(Date.now() - paused >= 850, `the lookup waited for Redis (${Date.now() - paused} ms)`);
  assert.equal(r.headers.get('x-sb-cache'), null);
  // and its answer was kept: the same request is a hit
  await waitUntil(async () => (await gen(s.token, 0, 'a lookup while redis is paused')).headers.get('x-sb-cache') === 'hit', { what: 'kept' });
});

test('a hit read off the loop is answered at once: twenty in a row take milliseconds, not a timer\'s tick each', async () => {
  assert.equal((await gen(s.token, 0, 'twenty hits')).status, 200);
  await waitUntil(async () => (await gen(s.token, 0, 'twenty hits')).headers.get('x-sb-cache') === 'hit', { what: 'kept' });
  const t0 = Date.now();
  for (let i = 0; i < 20; i++) {
    const r = await gen(s.token, 0, 'twenty hits');
    assert.equal(r.headers.get('x-sb-cache'), 'hit');
    await r.text();
  }
  assert.ok(Date.now() - t0 < 500, `twenty hits took ${Date.now() - t0} ms`);
});
