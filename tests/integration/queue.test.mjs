// A per-model concurrency cap with a bounded first-in-first-out queue, enforced across edge
// replicas: with a cap of 2 and five slow requests through two edges, two run, three wait, the
// one past the wait limit gets 429 with Retry-After (in the OpenAI shape on its route), and the
// upstream never sees more than two at once. Queue length and wait time are metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { withStack, waitUntil, sleep } from './harness.mjs';

const FLASH = 'gemini-2.5-flash';
const KEYS = 'pa:key-queue-000000001,pb:key-queue-000000002,pc:key-queue-000000003';

test('a cap of 2 across two edges: two run, three wait, one past the wait limit gets 429; never more than 2 upstream', async () => {
  await withStack(KEYS, async (s) => {
    const e2 = await s.edge({}, 'edge2');
    await s.ready(e2);
    s.session = await s.login();
    const caps = { [FLASH]: { inflight: 2, queue: 10, wait_ms: 2500 } };
    const r = await s.api('/api/settings', { method: 'PUT', body: { model_caps: caps } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.model_caps, caps);
    assert.equal((await s.api('/api/settings', { method: 'PUT', body: { model_caps: { [FLASH]: { inflight: 0 } } } })).status, 400);
    const session2 = await s.login('admin', s.adminPassword, e2.url);
    await waitUntil(async () => JSON.stringify((await s.api('/api/settings', { session: session2, url: e2.url })).body.model_caps) === JSON.stringify(caps), { what: 'the other edge has the cap' });
    for (const k of KEYS.split(',')) await s.script({ key: k.split(':')[1], fault: 'latency', ms: 2000, count: -1 });

    const call = async (i) => {
      await sleep(i * 60); // arrival order 0..4, alternating edges
      const url = i % 2 ? e2.url : s.url;
      const t0 = Date.now();
      const res = await fetch(`${url}/v1beta/models/${FLASH}:generateContent`, {
        method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: `slow ${i}` }] }] }),
      });
      return { i, status: res.status, ms: Date.now() - t0, retryAfter: res.headers.get('retry-after'), body: await res.text() };
    };
    const got = await Promise.all([0, 1, 2, 3, 4].map(call));
    assert.deepEqual(got.map((g) => g.status), [200, 200, 200, 200, 429], JSON.stringify(got));
    assert.ok(got[0].ms < 3500 && got[1].ms < 3500, 'the first two ran at once');
    assert.ok(got[2].ms >= 3500 && got[3].ms >= 3500, 'the next two waited for a slot');
    assert.ok(Number(got[4].retryAfter) >= 1);
    assert.match(JSON.parse(got[4].body).error.message, /queue/);
    assert.equal((await s.stats()).generate_inflight_max[FLASH], 2);

    // the queue in the metrics of the edge that refused
    const m = (await s.ops(s.edgeProc, '/metrics')).text;
    assert.ok(Number(/^sb_queue_wait_seconds_count (\d+)$/m.exec(m)?.[1]) >= 2, m);
    assert.ok(Number(/^sb_queue_refused_total (\S+)$/m.exec(m)?.[1]) >= 1);
    assert.equal(Number(/^sb_queue_waiting (\S+)$/m.exec(m)?.[1]), 0);

    // a full queue: 429 at once, in the OpenAI shape on the OpenAI route (the calls above give
    // their slots back with their outcomes, which a forwarder sends within 10 ms of the answer,
    // and the settings reach every edge within a second: both are waited for)
    assert.equal((await s.api('/api/settings', { method: 'PUT', body: { model_caps: { [FLASH]: { inflight: 1, queue: 0, wait_ms: 1000 } } } })).status, 200);
    await sleep(300);
    const openai = new OpenAI({ apiKey: s.token, baseURL: `${s.url}/v1`, maxRetries: 0 });
    const slow = openai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'hold the slot' }] });
    await sleep(300);
    await assert.rejects(openai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'no room' }] }), (err) => {
      assert.equal(err.status, 429);
      assert.match(err.message, /queue is full/);
      assert.ok(Number(err.headers.get('retry-after')) >= 1);
      return true;
    });
    assert.ok((await slow).choices[0].message.content);
  });
});
