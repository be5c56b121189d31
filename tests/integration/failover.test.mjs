// Key rotation, error classes and failover through the real edge -> keypool -> forwarder path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, sleep, textOf, waitUntil, nextPacificMidnight } from './harness.mjs';
import { withStack as withStackOf } from './harness.mjs';

const KEYS = 'pa:key-alpha-0000000001,pb:key-bravo-0000000002,pc:key-charlie-000000003';
const [KA, KB, KC] = KEYS.split(',').map((k) => k.split(':')[1]);
const FLASH = 'gemini-2.5-flash';

const withStack = (fn, opts = {}) => withStackOf(opts.keys ?? KEYS, fn, opts);

const calls = async (s) => (await s.stats()).calls;
const logFor = async (s, key, model) => (await s.stats()).log.filter((l) => l.key === key && (!model || l.model === model));

test('answers, headers, and rotation across keys of three projects', () => withStack(async (s) => {
  const r = await s.gen(FLASH, 'hello world');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{16}$/);
  assert.match(r.headers.get('x-gateway-overhead-us'), /^\d+$/);
  const body = await r.json();
  assert.equal(textOf(body), 'Echo: hello world');
  for (let i = 0; i < 8; i++) assert.equal((await s.gen(FLASH, 'x')).status, 200);
  const c = await calls(s);
  assert.deepEqual([c[KA], c[KB], c[KC]], [3, 3, 3], 'least-recently-used spreads evenly across projects');
}));

test('bad input is refused at the edge without spending a key', () => withStack(async (s) => {
  let r = await s.gen(FLASH, '', { body: '{"contents": [' });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.status, 'INVALID_ARGUMENT');
  r = await s.gen(FLASH, '', { body: '{"contents":"' + 'x'.repeat(2048) + '"}' });
  assert.equal(r.status, 413);
  assert.equal((await r.json()).error.code, 413);
  r = await s.gen(FLASH, 'hi', { headers: { 'x-goog-api-key': 'wrong-token' } });
  assert.equal(r.status, 401);
  r = await fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, { method: 'POST', body: '{}' });
  assert.equal(r.status, 401);
  r = await fetch(`${s.url}/v1beta/nothing-here`, { headers: { 'x-goog-api-key': s.token } });
  assert.equal(r.status, 404);
  const c = await calls(s);
  assert.equal(c[KA] + c[KB] + c[KC], 0, 'no upstream call was made');
  assert.match(s.logs('edge'), /event=request\.refused req=[0-9a-f]{16} status=401 client=127\.0\.0\.1 msg="Invalid client token\."/);
  assert.match(s.logs('edge'), /event=request\.refused req=[0-9a-f]{16} status=413 /);
}, { edgeEnv: { SB_MAX_BODY_BYTES: '1024' } }));

test('per-minute 429 cools only that (project, model) until retryDelay', () => withStack(async (s) => {
  await s.script({ key: KA, model: FLASH, fault: 'quota_minute', retry_delay: '3s', count: 1 });
  const t0 = Date.now();
  const r = await s.gen(FLASH, 'first');
  assert.equal(r.status, 200, 'failed over to another key');
  assert.equal((await logFor(s, KA, FLASH)).length, 1);
  // the same key still serves another model
  const pro = await s.gen('gemini-2.5-pro', 'other model');
  assert.equal(pro.status, 200);
  assert.equal((await logFor(s, KA, 'gemini-2.5-pro')).length, 1, 'pa serves gemini-2.5-pro');
  for (let i = 0; i < 6; i++) assert.equal((await s.gen(FLASH, 'more')).status, 200);
  assert.ok(Date.now() - t0 < 3000, 'test ran inside the cooldown');
  assert.equal((await logFor(s, KA, FLASH)).length, 1, 'no call to pa/flash before retryDelay');
  await sleep(3000 - (Date.now() - t0) + 200);
  for (let i = 0; i < 3; i++) assert.equal((await s.gen(FLASH, 'after')).status, 200);
  const after = await logFor(s, KA, FLASH);
  assert.equal(after.length, 2, 'pa/flash is used again after the cooldown');
  assert.ok(after[1].t - after[0].t >= 3000);
}));

test('per-day 429 parks the pair until the next Pacific midnight', () => withStack(async (s) => {
  await s.script({ key: KA, model: FLASH, fault: 'quota_day', count: 1 });
  const before = Date.now();
  assert.equal((await s.gen(FLASH, 'x')).status, 200);
  const until = Number(s.redisRaw('ZSCORE', `sb:cool:${FLASH}`, 'pa'));
  assert.equal(until, nextPacificMidnight(before));
  for (let i = 0; i < 4; i++) await s.gen(FLASH, 'y');
  assert.equal((await logFor(s, KA, FLASH)).length, 1);
}));

test('API_KEY_INVALID and CONSUMER_SUSPENDED make a key dead at once', () => withStack(async (s) => {
  await s.script({ key: KA, fault: 'invalid', count: -1 });
  await s.script({ key: KB, fault: 'suspended', count: -1 });
  for (let i = 0; i < 6; i++) assert.equal((await s.gen(FLASH, 'x')).status, 200);
  const c = await calls(s);
  assert.equal(c[KA], 1, 'dead after one call');
  assert.match(s.logs('keypool'), /event=key\.state .*change=dead class=key_dead reason=API_KEY_INVALID/);
  assert.match(s.logs('keypool'), /event=key\.state .*change=dead class=key_dead reason=CONSUMER_SUSPENDED/);
  assert.equal(c[KB], 1, 'dead after one call');
  assert.equal(c[KC], 6);
  // other models do not try them either: the key, not the model, is dead
  assert.equal((await s.gen('gemini-2.5-pro', 'x')).status, 200);
  const c2 = await calls(s);
  assert.equal(c2[KA] + c2[KB], 2);
  // every key dead -> 503
  await s.script({ key: KC, fault: 'invalid', count: -1 });
  const r = await s.gen(FLASH, 'x');
  assert.equal(r.status, 503);
  assert.ok(Number(r.headers.get('retry-after')) > 0);
  const err = (await r.json()).error;
  assert.equal(err.status, 'UNAVAILABLE');
  assert.doesNotMatch(err.message, /API key not valid/, "Google's key error is not the client's");
  const r2 = await s.gen(FLASH, 'x');
  assert.equal(r2.status, 503);
  assert.equal((await calls(s))[KC], 8, 'a dead pool spends no more calls');
}));

test('503 overloaded moves to another key with no penalty', () => withStack(async (s) => {
  await s.script({ key: KA, fault: '503', count: 1 });
  assert.equal((await s.gen(FLASH, 'x')).status, 200);
  let c = await calls(s);
  assert.equal(c[KA], 1);
  assert.equal(c[KB], 1);
  for (let i = 0; i < 3; i++) assert.equal((await s.gen(FLASH, 'x')).status, 200);
  c = await calls(s);
  assert.equal(c[KA], 2, 'pa is used again: no penalty');
}));

test('a client 400 comes back unchanged, with no retry and no penalty', () => withStack(async (s) => {
  await s.script({ key: KA, fault: 'bad_request', count: 1 });
  const r = await s.gen(FLASH, 'x');
  assert.equal(r.status, 400);
  const text = await r.text();
  assert.equal(text, '{\n  "error": {\n    "code": 400,\n    "message": "Request contains an invalid argument.",\n    "status": "INVALID_ARGUMENT"\n  }\n}\n');
  let c = await calls(s);
  assert.equal(c[KA] + c[KB] + c[KC], 1, 'no retry');
  // 404 for an unknown model is passed through too
  const nf = await s.gen('gemini-0-nope', 'x');
  assert.equal(nf.status, 404);
  assert.equal((await nf.json()).error.status, 'NOT_FOUND');
  for (let i = 0; i < 3; i++) await s.gen(FLASH, 'x');
  c = await calls(s);
  assert.ok(c[KA] >= 2, 'pa still in rotation');
}));

test('all keys cooling -> 429 with Retry-After', () => withStack(async (s) => {
  for (const k of [KA, KB, KC]) await s.script({ key: k, fault: 'quota_minute', retry_delay: '30s', count: 1 });
  const r = await s.gen(FLASH, 'x');
  assert.equal(r.status, 429);
  const ra = Number(r.headers.get('retry-after'));
  assert.ok(ra >= 25 && ra <= 31, `Retry-After ${ra}`);
  assert.equal((await r.json()).error.status, 'RESOURCE_EXHAUSTED');
  const r2 = await s.gen(FLASH, 'x');
  assert.equal(r2.status, 429, 'still cooling, without calling upstream');
  const c = await calls(s);
  assert.equal(c[KA] + c[KB] + c[KC], 3);
  assert.equal((await s.gen('gemini-2.5-pro', 'x')).status, 200, 'other models unaffected');
}));

test("the upstream's own per-minute quota cools the pair and its limit is learnt", () => withStack(async (s) => {
  const toNextMinute = 60000 - (Date.now() % 60000);
  if (toNextMinute < 5000) await sleep(toNextMinute + 200); // the window must not reset mid-test
  await s.limits({ project: 'pa', model: FLASH, rpm: 2 });
  for (let i = 0; i < 9; i++) assert.equal((await s.gen(FLASH, `q${i}`)).status, 200);
  const paFlash = await logFor(s, KA, FLASH);
  assert.equal(paFlash.length, 3, 'two served, the third answered 429, then none');
  assert.equal(s.redisRaw('HGET', 'sb:lim:pa', FLASH), '2', 'the limit learnt from quotaValue');
  const until = Number(s.redisRaw('ZSCORE', `sb:cool:${FLASH}`, 'pa'));
  assert.ok(until > Date.now() && until <= Date.now() + 61000, 'cooling until the window resets');
}));

test("a per-minute input-token 429 is learnt as the token limit: the pair is not cooled, and smaller prompts still go there", () => withStack(async (s) => {
  await s.script({ key: KA, model: FLASH, fault: 'quota_tokens', retry_delay: '20s', count: 1 });
  // a large prompt meets pa's token quota and is served elsewhere
  assert.equal((await s.gen(FLASH, 'large '.repeat(4000))).status, 200);
  assert.equal(s.redisRaw('ZSCORE', `sb:cool:${FLASH}`, 'pa'), '', 'not cooled');
  assert.equal(s.redisRaw('HGET', 'sb:lim:pa', FLASH), '', 'no RPM limit learnt from a token quota');
  assert.equal(s.redisRaw('HGET', 'sb:lim:pa', `${FLASH}|tpm`), '250000', 'the token limit is learnt');
  // the other projects run out of requests for the minute: a small prompt still fits on pa
  await s.script({ key: KB, model: FLASH, fault: 'quota_minute', retry_delay: '20s', count: 1 });
  await s.script({ key: KC, model: FLASH, fault: 'quota_minute', retry_delay: '20s', count: 1 });
  assert.equal((await s.gen(FLASH, 'small')).status, 200);
  assert.equal((await logFor(s, KA, FLASH)).length, 2, 'pa/flash answered 429 once, then served the small prompt');
}));

test('a body larger than one bus message travels in pieces, byte for byte', () => withStack(async (s) => {
  const text = 'lorem ipsum dolor sit amet '.repeat(80000); // ~2.1 MiB
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] });
  const r = await s.gen(FLASH, '', { body });
  assert.equal(r.status, 200);
  const st = await s.stats();
  assert.equal(st.last_body.length, body.length);
  assert.equal(st.last_body, body);
  const stream = await s.gen(FLASH, '', { body, stream: true });
  assert.equal(stream.status, 200);
  assert.ok((await stream.text()).includes('finishReason'));
}));

test('/metrics counts requests, failed attempts and the gateway overhead', () => withStack(async (s) => {
  await s.script({ key: KA, fault: '503', count: 1 });
  for (let i = 0; i < 3; i++) assert.equal((await s.gen(FLASH, 'm')).status, 200);
  assert.equal((await s.gen(FLASH, 'x', { headers: { 'x-goog-api-key': 'nope' } })).status, 401);
  // a request is counted once its answer was handed over, which the client may see first
  let r;
  await waitUntil(async () => /^sb_requests_total\{route="generateContent",code="2xx"\} 3$/m.test((r = await s.ops(s.edgeProc, '/metrics')).text), { tries: 50, interval: 20, what: 'the third request counted' });
  assert.equal(r.status, 200);
  const m = r.text;
  assert.match(m, /^sb_requests_total\{route="refused",code="4xx"\} 1$/m);
  assert.match(m, /^sb_upstream_failures_total\{class="transient"\} 1$/m);
  assert.match(m, /^sb_gateway_overhead_seconds_count 3$/m);
  assert.match(m, /^sb_gateway_overhead_seconds_bucket\{le="\+Inf"\} 3$/m);
  assert.match(m, /^sb_ready 1$/m);
  assert.match(m, /^sb_time_to_first_byte_seconds_count 3$/m);
  assert.ok(!m.includes(s.token), 'no secret in metrics');
}));
