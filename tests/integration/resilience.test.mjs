// Readiness, timeouts and broken connections: separate first-byte and idle timeouts, resets,
// and the edge's /readyz (ops listener) following the reachability of keypool and forwarders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, sseEvents, textOf, waitUntil, withStack } from './harness.mjs';

const KEYS = 'pa:key-alpha-0000000001,pb:key-bravo-0000000002';
const [KA, KB] = KEYS.split(',').map((k) => k.split(':')[1]);
const FLASH = 'gemini-2.5-flash';

test('/readyz is 200 only while a keypool and a forwarder answer', () => withStack(KEYS, async (s) => {
  const readyz = async () => (await s.ops(s.edgeProc, '/readyz')).status;
  assert.equal(await readyz(), 200);
  assert.equal((await s.ops(s.edgeProc, '/healthz')).status, 200);
  for (const p of ['/healthz', '/readyz', '/metrics']) {
    const pub = await fetch(`${s.url}${p}`);
    assert.equal(pub.status, 404, `${p} is not on the public port`);
    assert.equal((await pub.json()).error.code, 404);
  }
  const fwd = s.procs.find((p) => p.sbName === 'forwarder');
  fwd.kill('SIGTERM');
  await waitUntil(async () => (await readyz()) === 503, { tries: 60, what: 'not ready without a forwarder' });
  const t0 = Date.now();
  const r = await s.gen(FLASH, 'x');
  assert.equal(r.status, 503, 'no forwarder: a prompt 503');
  assert.ok(Date.now() - t0 < 2000);
  // the server's "no responders", which reaches only the connection that published the call
  assert.equal((await r.json()).error.message, 'No forwarder is available.');
  assert.equal((await s.ops(s.edgeProc, '/healthz')).status, 200, 'the process itself is fine');
  s.forwarder({}, 'forwarder-2');
  await waitUntil(async () => (await readyz()) === 200, { tries: 60, what: 'ready again' });
  assert.equal((await s.gen(FLASH, 'back')).status, 200);
  const kp = s.procs.find((p) => p.sbName === 'keypool');
  kp.kill('SIGTERM');
  await waitUntil(async () => (await readyz()) === 503, { tries: 60, what: 'not ready without a keypool' });
  assert.equal((await s.gen(FLASH, 'x')).status, 503);
}));

test('a slow upstream is waited for: keepalives hold the call, no retry, one upstream call', () => withStack(KEYS, async (s) => {
  await s.script({ key: KA, fault: 'latency', ms: 6500, count: 1 });
  const t0 = Date.now();
  const r = await s.gen(FLASH, 'take your time');
  assert.equal(r.status, 200);
  assert.equal(textOf(await r.json()), 'Echo: take your time');
  assert.ok(Date.now() - t0 >= 6400);
  const st = await s.stats();
  assert.equal(st.calls[KA], 1);
  assert.equal(st.calls[KB], 0, 'no second attempt while the first one was merely slow');
}));

test('a slow first byte times out and fails over to another key', () => withStack(KEYS, async (s) => {
  await s.script({ key: KA, fault: 'latency', ms: 3000, count: 1 });
  const t0 = Date.now();
  const r = await s.gen(FLASH, 'hurry');
  assert.equal(r.status, 200);
  assert.equal(textOf(await r.json()), 'Echo: hurry');
  const took = Date.now() - t0;
  assert.ok(took >= 600 && took < 2500, `failed over after the first-byte timeout (${took} ms)`);
  const st = await s.stats();
  assert.equal(st.calls[KA], 1);
  assert.equal(st.calls[KB], 1);
}, { edgeEnv: { SB_FIRST_BYTE_TIMEOUT_MS: '700' } }));

test('an upstream that goes silent mid-stream hits the idle timeout: the stream ends with an error', () => withStack(KEYS, async (s) => {
  await s.script({ key: KA, fault: 'stall', after: 2, ms: 4000, count: 1 });
  const t0 = Date.now();
  const r = await s.gen(FLASH, 'a b c d e', { stream: true });
  assert.equal(r.status, 200);
  const events = sseEvents(await r.text()).map((e) => JSON.parse(e));
  assert.equal(events.filter((e) => !e.error).map(textOf).join(''), 'Echo: a ');
  assert.ok(events.at(-1).error, 'an error event ends the stream');
  assert.ok(Date.now() - t0 < 3500, 'the idle timeout, not the stall, ended it');
}, { edgeEnv: { SB_IDLE_TIMEOUT_MS: '800' } }));

test('a connection reset mid-stream ends the stream with an error, and before the stream fails over', () => withStack(KEYS, async (s) => {
  await s.script({ key: KA, fault: 'reset', after: 2, count: 1 });
  const r = await s.gen(FLASH, 'a b c d e', { stream: true });
  const events = sseEvents(await r.text()).map((e) => JSON.parse(e));
  assert.equal(events.filter((e) => !e.error).map(textOf).join(''), 'Echo: a ');
  assert.ok(events.at(-1).error);
  // a reset before any event reached the client is retried on the other key
  await s.script({ key: KB, fault: 'reset', after: 0, count: 1 });
  const r2 = await s.gen(FLASH, 'x y', { stream: true });
  const ev2 = sseEvents(await r2.text()).map((e) => JSON.parse(e));
  assert.equal(ev2.map(textOf).join(''), 'Echo: x y');
  assert.ok(!ev2.some((e) => e.error));
}));

// Redis dies and comes back with nothing in it.
async function restartRedisEmpty(s) {
  const redis = s.procs.find((p) => p.sbName === 'redis');
  redis.kill('SIGKILL');
  await new Promise((r) => redis.on('exit', r));
  s.spawnRaw('redis2', 'redis-server', s.redisArgs());
  await waitUntil(() => { try { return s.redisRaw('PING') === 'PONG'; } catch { return false; } }, { what: 'redis back' });
}

test('Redis restarting empty: keypool re-seeds the pool from Postgres and serving goes on', () => withStack(KEYS, async (s) => {
  assert.equal((await s.gen(FLASH, 'before')).status, 200);
  await restartRedisEmpty(s);
  let r;
  await waitUntil(async () => { r = await s.gen(FLASH, 'after'); return r.status === 200; }, { tries: 30, what: 'serving again' });
  assert.equal(textOf(await r.json()), 'Echo: after');
  assert.equal(s.redisRaw('EXISTS', 'sb:seeded'), '1');
  assert.match(s.logs('keypool'), /event=pool\.lost action=reseed/);
  // both keys are back in rotation
  for (let i = 0; i < 4; i++) assert.equal((await s.gen(FLASH, 'x')).status, 200);
  const c = (await s.stats()).calls;
  assert.ok(c[KA] >= 2 && c[KB] >= 2);
}));

test('Redis restarting empty while no lease is asked: keypool notices within seconds on its own', () => withStack(KEYS, async (s) => {
  assert.equal((await s.gen(FLASH, 'before')).status, 200);
  await restartRedisEmpty(s);
  // no request at all: edges serving from lease reserves would not ask keypool for a while
  await waitUntil(() => { try { return s.redisRaw('EXISTS', 'sb:seeded') === '1'; } catch { return false; } }, { tries: 40, what: 're-seeded without traffic' });
  assert.match(s.logs('keypool'), /event=pool\.lost action=reseed/);
  assert.equal((await s.gen(FLASH, 'after')).status, 200);
}));

test('capacity limits: a busy forwarder and a full edge answer 503 at once instead of queueing', () => withStack(KEYS, async (s) => {
  await s.script({ key: KA, fault: 'latency', ms: 1500, count: -1 });
  await s.script({ key: KB, fault: 'latency', ms: 1500, count: -1 });
  const slow = s.gen(FLASH, 'occupying the only slot');
  await sleep(300);
  const t0 = Date.now();
  const r = await s.gen(FLASH, 'second');
  assert.equal(r.status, 503);
  assert.match((await r.json()).error.message, /busy/i);
  assert.ok(Date.now() - t0 < 1000, 'refused at once');
  assert.equal((await slow).status, 200);
}, { fwdEnv: { FWD_MAX_INFLIGHT: '1' } }));

test('an edge at SB_MAX_INFLIGHT refuses the next call with 503 and Retry-After', () => withStack(KEYS, async (s) => {
  await s.script({ key: KA, fault: 'latency', ms: 1500, count: -1 });
  await s.script({ key: KB, fault: 'latency', ms: 1500, count: -1 });
  const slow = s.gen(FLASH, 'one');
  await sleep(300);
  const r = await s.gen(FLASH, 'two');
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal((await slow).status, 200);
  const st = await s.stats();
  assert.equal(st.calls[KA] + st.calls[KB], 1, 'the refused call spent no key');
}, { edgeEnv: { SB_MAX_INFLIGHT: '1' } }));

test('a transfer the bus lost is not held against its key: the only key is leased again', () => withStack('pa:key-alpha-0000000001', async (s) => {
  const fwd = s.procs.find((p) => p.sbName === 'forwarder');
  // its jobs stay unaccepted: after the accept timeout (3 s) every forwarder is asked, and after
  // one more silent second the transfer is taken for lost
  fwd.kill('SIGSTOP');
  const pending = s.gen(FLASH, 'x');
  await sleep(4800);
  fwd.kill('SIGCONT');
  const r = await pending;
  assert.equal(r.status, 200, `answered after the lost transfer: ${r.status} ${await r.clone().text()}`);
  assert.match(s.logs('edge'), /event=attempt\.retry/);
}));

test('an Accepted late past the accept timeout: the forwarder running it is found, upstream is paid once', () => withStack('pa:key-alpha-0000000001', async (s) => {
  const fwd = s.procs.find((p) => p.sbName === 'forwarder');
  fwd.kill('SIGSTOP'); // the forward waits in its socket; the edge hears nothing for 3.4 s
  const pending = s.gen(FLASH, 'only once');
  await sleep(3400);
  fwd.kill('SIGCONT');
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(textOf(await r.json()), 'Echo: only once');
  assert.match(s.logs('edge'), /event=frames\.resend_asked .*why=no_accepted/);
  assert.doesNotMatch(s.logs('edge'), /event=attempt\.retry|event=transfer\.lost/, 'not forwarded again');
  assert.equal((await s.stats()).calls['key-alpha-0000000001'], 1, 'one upstream call');
}));
