// Streaming: SSE and JSON-array framing, mid-stream failures, truncation, client disconnects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Stack, sleep, sseEvents, textOf, waitUntil } from './harness.mjs';
import { withStack as withStackOf } from './harness.mjs';

const KEYS = 'pa:key-alpha-0000000001,pb:key-bravo-0000000002';
const [KA, KB] = KEYS.split(',').map((k) => k.split(':')[1]);
const FLASH = 'gemini-2.5-flash';
const WORDS = 'w1 w2 w3 w4 w5 w6 w7 w8';

const withStack = (fn, opts = {}) => withStackOf(opts.keys ?? KEYS, fn, opts);

test('SSE and JSON-array streams carry every upstream event in order', () => withStack(async (s) => {
  const r = await s.gen(FLASH, WORDS, { stream: true });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  const raw = await r.text();
  assert.ok(raw.includes('\r\n\r\n'), 'Gemini framing kept');
  const events = sseEvents(raw).map((e) => JSON.parse(e));
  assert.equal(events.length, 9);
  assert.equal(events.map(textOf).join(''), `Echo: ${WORDS}`);
  assert.equal(events.at(-1).candidates[0].finishReason, 'STOP');
  assert.ok(events.every((e, i) => e.usageMetadata.candidatesTokenCount === i + 1), 'cumulative usage');

  const a = await s.gen(FLASH, WORDS, { stream: true, alt: null });
  assert.equal(a.status, 200);
  const arr = JSON.parse(await a.text());
  assert.equal(arr.length, 9);
  assert.equal(arr.map(textOf).join(''), `Echo: ${WORDS}`);
}));

test('a mid-stream upstream failure ends the stream with an error and no repeated text', () => withStack(async (s) => {
  await s.script({ key: KA, fault: 'midstream', after: 3, count: 1 });
  const r = await s.gen(FLASH, WORDS, { stream: true });
  assert.equal(r.status, 200);
  const events = sseEvents(await r.text()).map((e) => JSON.parse(e));
  const text = events.filter((e) => !e.error).map(textOf).join('');
  assert.equal(text, 'Echo: w1 w2 ', 'exactly the events sent before the failure');
  assert.ok(events.at(-1).error, 'ends with an error object');
  assert.ok(events.at(-1).error.code >= 500);
  const st = await s.stats();
  assert.equal(Object.values(st.calls).reduce((a, b) => a + b, 0), 1, 'no retry after the first byte');
}));

test('a stream that ends without a finish reason is reported as truncated', () => withStack(async (s) => {
  await s.script({ key: KA, fault: 'truncate', after: 4, count: 1 });
  const r = await s.gen(FLASH, WORDS, { stream: true });
  const events = sseEvents(await r.text()).map((e) => JSON.parse(e));
  assert.equal(events.length, 5);
  assert.match(events.at(-1).error.message, /truncated/);
  await waitUntil(() => s.logs('edge').includes('outcome=truncated'), { what: 'truncation logged' });
}));

test('native streams get keep-alives while the upstream thinks in silence: an SSE comment, whitespace in a JSON array', () => withStack(async (s) => {
  for (const k of KEYS.split(',').map((x) => x.split(':')[1])) await s.script({ key: k, model: FLASH, fault: 'stall', after: 0, ms: 900, count: 2 });
  const r = await s.gen(FLASH, WORDS, { stream: true });
  assert.equal(r.status, 200);
  const raw = await r.text();
  assert.ok(raw.startsWith(': keep-alive\n\n'), raw.slice(0, 60));
  assert.equal(sseEvents(raw).map((e) => textOf(JSON.parse(e))).join(''), `Echo: ${WORDS}`);
  const a = await s.gen(FLASH, WORDS, { stream: true, alt: null });
  assert.equal(a.status, 200);
  const body = await a.text();
  assert.match(body, /^\[\n+\{/, 'the array opens, then whitespace while upstream is silent');
  assert.equal(JSON.parse(body).map(textOf).join(''), `Echo: ${WORDS}`);
}, { fwdEnv: { FWD_KEEPALIVE_MS: '200' } }));

test('an empty answer fails over to another key on native routes, streamed or not', () => withStack(async (s) => {
  const calls = async () => Object.values((await s.stats()).calls).reduce((a, b) => a + b, 0);
  for (const [opts, read] of [[{}, async (r) => textOf(await r.json())],
    [{ stream: true }, async (r) => sseEvents(await r.text()).map((e) => textOf(JSON.parse(e))).join('')],
    [{ stream: true, alt: null }, async (r) => JSON.parse(await r.text()).map(textOf).join('')]]) {
    // one key answers empty once: whichever key comes first, the client gets the answer
    await s.fakeReset();
    await s.script({ key: KA, model: FLASH, fault: 'empty', count: 1 });
    const r = await s.gen(FLASH, 'after empty', opts);
    assert.equal(r.status, 200, JSON.stringify(opts));
    assert.equal(await read(r), 'Echo: after empty', JSON.stringify(opts));
    const c = (await s.stats()).calls;
    assert.equal(c[KA] + c[KB], c[KA] === 1 ? 2 : 1, 'the empty answer cost one more call');
    // both keys answer empty: both are tried, then the client hears why, as a Gemini error
    await s.fakeReset();
    for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'empty', count: 1 });
    const e = await s.gen(FLASH, 'both empty', opts);
    assert.equal(e.status, 502, JSON.stringify(opts));
    assert.match((await e.json()).error.message, /empty answer/);
    assert.equal(await calls(), 2);
  }
}));

test('a non-stream failure mid-body is retried on another key', () => withStack(async (s) => {
  await s.script({ key: KA, fault: '500', count: 1 });
  const r = await s.gen(FLASH, 'abc');
  assert.equal(r.status, 200);
  assert.equal(textOf(await r.json()), 'Echo: abc');
}));

test('a client disconnect aborts the upstream transfer', () => withStack(async (s) => {
  const url = new URL(`${s.url}/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`);
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'a b c d e f g h i j k l m n o p q r s t' }] }] });
  await new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' } }, (res) => {
      res.once('data', () => { req.destroy(); resolve(); });
    });
    req.on('error', () => {});
    req.end(body);
    setTimeout(() => reject(new Error('no first event')), 5000);
  });
  await waitUntil(async () => (await s.stats()).aborted_total >= 1, { tries: 40, what: 'upstream abort' });
  await waitUntil(() => s.logs('forwarder').includes('event=upstream.cancelled'), { what: 'cancel logged' });
}, { fakeEnv: { FAKE_CHUNK_MS: '300' } }));

test('a client leaving before the first frame still cancels the upstream call and frees the lease', () => withStack(async (s) => {
  for (const k of KEYS.split(',').map((x) => x.split(':')[1])) await s.script({ key: k, fault: 'latency', ms: 2500, count: 1 });
  const ac = new AbortController();
  const p = s.gen(FLASH, 'slow', { signal: ac.signal }).catch(() => null);
  await sleep(600);
  ac.abort();
  await p;
  await waitUntil(() => s.logs('forwarder').includes('event=upstream.cancelled'), { what: 'cancel' });
  await waitUntil(async () => (await s.stats()).aborted_total >= 1, { tries: 50, what: 'upstream abort' });
  assert.equal(s.redisRaw('ZCARD', 'sb:leases'), '0', 'the lease was released');
  const st = await s.stats();
  assert.equal(Object.values(st.calls).reduce((a, b) => a + b, 0), 1, 'no retry for a client that left');
}));

test('a stream event larger than one bus message (an inline image) arrives whole', async () => {
  await withStackOf(KEYS, async (s) => {
    for (const size of [3 * 1024 * 1024, 700 * 1024]) {
      const r = await s.gen(FLASH, `draw ${size}`, { stream: true });
      assert.equal(r.status, 200);
      const events = sseEvents(await r.text()).map((d) => JSON.parse(d));
      const img = events.flatMap((e) => e.candidates?.[0]?.content?.parts ?? []).find((p) => p.inlineData);
      assert.ok(img, 'the image event arrived');
      assert.equal(img.inlineData.data.length, size);
      assert.equal(events.at(-1).candidates[0].finishReason, 'STOP');
    }
    assert.doesNotMatch(s.logs('forwarder'), /frame.(too_big|publish_failed)/);
    assert.doesNotMatch(s.logs('edge'), /frame.gap/);
  });
});

test('with libmicrohttpd on threads of its own (SB_HTTP_THREADS=2) calls, streams and a client leaving behave the same', () => withStack(async (s) => {
  assert.match(s.logs('edge'), /event=config name=SB_HTTP_THREADS value=2/);
  const r = await s.gen(FLASH, 'threads');
  assert.equal(r.status, 200);
  assert.equal(textOf(await r.json()), 'Echo: threads');
  const st = await s.gen(FLASH, WORDS, { stream: true });
  assert.equal(st.status, 200);
  assert.equal(sseEvents(await st.text()).map((e) => textOf(JSON.parse(e))).join(''), `Echo: ${WORDS}`);
  await s.script({ key: KA, fault: 'latency', ms: 30000, count: 1 });
  await s.script({ key: KB, fault: 'latency', ms: 30000, count: 1 });
  const ac = new AbortController();
  const gone = s.gen(FLASH, 'leaving', { signal: ac.signal }).catch(() => 'aborted');
  await sleep(300);
  ac.abort();
  assert.equal(await gone, 'aborted');
  await waitUntil(async () => /outcome=client_gone|outcome=cancelled/.test(s.logs('edge')), { what: 'the call ended when its client left' });
}, { edgeEnv: { SB_HTTP_THREADS: '2' } }));
