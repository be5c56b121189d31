// Shutdown without loss: SIGTERM makes a service stop taking work, finish what it carries within
// SB_DRAIN_S (streams included) and exit 0; it is honoured even while NATS is out of reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, sleep, sseEvents, textOf, waitUntil, withStack } from './harness.mjs';

const KEYS = 'pa:key-alpha-0000000001,pb:key-bravo-0000000002';
const FLASH = 'gemini-2.5-flash';
const WORDS = Array.from({ length: 20 }, (_, i) => `w${i + 1}`).join(' ');
const SERVICES = ['edge', 'keypool', 'forwarder', 'logger', 'scheduler'];

const exited = (p) => new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : p.on('exit', (code) => r(code))));
const proc = (s, name) => s.procs.find((p) => p.sbName === name && p.exitCode === null);
const metric = async (s, name, re) => Number(((await s.ops(name, '/metrics')).text.match(re) ?? [])[1]);

// Open a stream and wait for its first event; returns { rest }, a promise of the whole body.
async function openStream(s, text, url = s.url) {
  const r = await fetch(`${url}/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`, {
    method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
  });
  assert.equal(r.status, 200);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let body = dec.decode((await reader.read()).value);
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return body;
      body += dec.decode(value);
    }
  })();
  return { rest };
}

const complete = (body, words = WORDS) => {
  const events = sseEvents(body).map((e) => JSON.parse(e));
  assert.ok(events.every((e) => !e.error), `no error event: ${body.slice(-300)}`);
  assert.equal(events.map(textOf).join(''), `Echo: ${words}`, 'every word, once');
  assert.equal(events.at(-1).candidates[0].finishReason, 'STOP');
};

test('SIGTERM to a forwarder carrying a stream: the stream completes, new jobs go to the other forwarder, exit 0', () => withStack(KEYS, async (s) => {
  await s.ready('forwarder');
  await s.ready('forwarder1');
  const streaming = openStream(s, WORDS).then((o) => o.rest); // 21 events, 150 ms apart: about 3 s
  let carrier;
  await waitUntil(async () => {
    for (const n of ['forwarder', 'forwarder1'])
      if ((await metric(s, n, /^sb_forwarder_inflight (\d+)$/m)) === 1) carrier = n;
    return carrier;
  }, { what: 'the forwarder carrying the stream' });
  const other = carrier === 'forwarder' ? 'forwarder1' : 'forwarder';
  const before = await metric(s, other, /^sb_forwarder_jobs_total\{result="accepted"\} (\d+)$/m);
  const p = proc(s, carrier);
  const url = await s.opsUrl(p);
  const t0 = Date.now();
  p.kill('SIGTERM');
  await waitUntil(async () => (await fetch(`${url}/readyz`)).status === 503, { tries: 20, interval: 25, what: 'draining forwarder not ready' });
  assert.ok(Date.now() - t0 < 600, '/readyz turns 503 at once');
  assert.match(await (await fetch(`${url}/readyz`)).text(), /draining/);
  const after = await Promise.all(Array.from({ length: 6 }, (_, i) => s.gen(FLASH, `during the drain ${i}`)));
  assert.deepEqual(after.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  assert.equal(await metric(s, other, /^sb_forwarder_jobs_total\{result="accepted"\} (\d+)$/m), before + 6,
    'new jobs went to the other forwarder');
  complete(await streaming);
  assert.equal(await exited(p), 0);
  assert.ok(Date.now() - t0 < 10000, 'well within SB_DRAIN_S');
  assert.match(s.logs(carrier), /event=draining/);
  assert.doesNotMatch(s.logs(carrier), /drain\.timeout/);
}, { forwarders: 2, fwdEnv: { SB_DRAIN_S: '20' }, fakeEnv: { FAKE_CHUNK_MS: '150' } }));

test('a drain that runs out of time ends the stream with an error event at once, never a hang', () => withStack(KEYS, async (s) => {
  const streaming = openStream(s, WORDS).then((o) => o.rest); // about 6 s at 300 ms per event
  await waitUntil(async () => (await metric(s, 'forwarder', /^sb_forwarder_inflight (\d+)$/m)) === 1, { what: 'stream in flight' });
  const p = proc(s, 'forwarder');
  const t0 = Date.now();
  p.kill('SIGTERM');
  const body = await streaming;
  const events = sseEvents(body).map((e) => JSON.parse(e));
  assert.ok(events.at(-1).error, 'the stream ends with an error object');
  assert.match(events.at(-1).error.message, /shutting down/);
  const text = events.filter((e) => !e.error).map(textOf).join('');
  assert.ok(`Echo: ${WORDS}`.startsWith(text) && text.length < `Echo: ${WORDS}`.length, 'a prefix, nothing repeated');
  assert.ok(Date.now() - t0 < 3000, `ended ${Date.now() - t0} ms after SIGTERM with SB_DRAIN_S=1`);
  assert.equal(await exited(p), 0);
  assert.match(s.logs('forwarder'), /event=drain\.timeout/);
}, { fwdEnv: { SB_DRAIN_S: '1' }, fakeEnv: { FAKE_CHUNK_MS: '300' } }));

test('SIGTERM to an edge with open streams: /readyz 503 at once, no new connections, the streams complete, exit 0', () => withStack(KEYS, async (s) => {
  const e = s.edgeProc;
  const url = await s.opsUrl(e);
  const streams = (await Promise.all([1, 2, 3].map(() => openStream(s, WORDS)))).map((o) => o.rest);
  assert.equal(Number(((await s.ops(e, '/metrics')).text.match(/^sb_inflight (\d+)$/m) ?? [])[1]), 3);
  const t0 = Date.now();
  e.kill('SIGTERM');
  await waitUntil(async () => (await fetch(`${url}/readyz`)).status === 503, { tries: 20, interval: 25, what: 'edge draining' });
  assert.ok(Date.now() - t0 < 600, '/readyz turns 503 at once');
  await waitUntil(async () => {
    try { await fetch(`${s.url}/v1beta/models`, { headers: { 'x-goog-api-key': s.token } }); return false; } catch { return true; }
  }, { tries: 20, interval: 50, what: 'new connections refused' });
  for (const b of await Promise.all(streams)) complete(b);
  assert.equal(await exited(e), 0);
  assert.ok(Date.now() - t0 < 15000);
  assert.match(s.logs('edge'), /event=draining inflight=3/);
}, { edgeEnv: { SB_DRAIN_S: '20' }, fakeEnv: { FAKE_CHUNK_MS: '150' } }));

test('SIGTERM to a keypool under load loses no lease: the other replica answers what comes next', () => withStack(KEYS, async (s) => {
  await s.ready('keypool');
  await s.ready('keypool1');
  const load = Array.from({ length: 60 }, (_, i) => sleep(i * 15).then(() => s.gen(FLASH, `load ${i}`)));
  await sleep(300);
  const p = proc(s, 'keypool');
  p.kill('SIGTERM');
  const rs = await Promise.all(load);
  assert.deepEqual(rs.filter((r) => r.status !== 200).map((r) => r.status), [], 'every request served');
  assert.equal(await exited(p), 0);
}, { keypools: 2 }));

test('a scheduler leader hands over within 2 s of SIGTERM', () => withStack(KEYS, async (s) => {
  const leaderOf = async () => {
    for (const n of ['scheduler', 'scheduler1'])
      if ((await metric(s, n, /^sb_scheduler_leader (\d+)$/m)) === 1) return n;
    return null;
  };
  let leader;
  await waitUntil(async () => (leader = await leaderOf()), { what: 'a leader' });
  const other = leader === 'scheduler' ? 'scheduler1' : 'scheduler';
  const p = proc(s, leader);
  const t0 = Date.now();
  p.kill('SIGTERM');
  await waitUntil(async () => (await metric(s, other, /^sb_scheduler_leader (\d+)$/m)) === 1, { tries: 60, interval: 50, what: 'the other leads' });
  assert.ok(Date.now() - t0 < 2000, `handed over in ${Date.now() - t0} ms`);
  assert.equal(await exited(p), 0);
}, { schedulers: 2 }));

test('SIGTERM while NATS is out of reach: every service exits 0 within 1 s', () => withStack(KEYS, async (s) => {
  const dead = `nats://127.0.0.1:${await freePort()}`; // nothing listens there
  const procs = [
    await s.edge({ NATS_URL: dead }, 'edge-x'),
    s.keypool({ NATS_URL: dead }, 'keypool-x'),
    s.forwarder({ NATS_URL: dead }, 'forwarder-x'),
    s.logger({ NATS_URL: dead }, 'logger-x'),
    s.scheduler({ NATS_URL: dead }, 'scheduler-x'),
  ];
  for (const p of procs) {
    await waitUntil(() => s.logs(p.sbName).includes('event=startup.waiting step=nats'), { what: `${p.sbName} waiting for NATS` });
    assert.equal((await s.ops(p, '/readyz')).status, 503, 'not ready while connecting');
  }
  await sleep(1200); // into the longer back-off waits
  await Promise.all(procs.map(async (p) => {
    const t0 = Date.now();
    p.kill('SIGTERM');
    assert.equal(await exited(p), 0, p.sbName);
    assert.ok(Date.now() - t0 <= 1000, `${p.sbName} took ${Date.now() - t0} ms`);
  }));
  assert.deepEqual(SERVICES.map((n) => `${n}-x`), procs.map((p) => p.sbName));
}));
