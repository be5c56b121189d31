// Faults under steady load, the short form inside make test (make faults runs the long one): a
// Redis restart and a NATS restart cost no request, PostgreSQL away leaves admin login honest and
// working again after, a killed forwarder's streams end with an error event within seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, waitUntil, sleep, sseEvents } from './harness.mjs';

const KA = 'AIzaSyFaultsKeyA00000000000000000000000';
const KB = 'AIzaSyFaultsKeyB00000000000000000000000';
const KEYS = `pa:${KA},pb:${KB}`;
const FLASH = 'gemini-2.5-flash';

// n workers sending requests back to back until stopped; every answer is recorded.
function load(s, n, { stream = false } = {}) {
  const results = [];
  let running = true;
  const workers = Array.from({ length: n }, async (_, w) => {
    for (let i = 0; running; i++) {
      const t0 = Date.now();
      try {
        const r = await s.gen(FLASH, `w${w} n${i}`, { stream });
        const text = await r.text();
        results.push({ status: r.status, text, ms: Date.now() - t0, id: r.headers.get('x-request-id') });
      } catch (e) {
        results.push({ status: 0, text: String(e), ms: Date.now() - t0 });
      }
    }
  });
  return { results, stop: async () => { running = false; await Promise.all(workers); } };
}

const failed = (results) => results.filter((r) => r.status !== 200);

test('a Redis restart costs no request', () => withStack(KEYS, async (s) => {
  const l = load(s, 4);
  await sleep(500);
  await s.restartServer('redis');
  await sleep(800);
  await l.stop();
  assert.ok(l.results.length > 20, `only ${l.results.length} requests`);
  assert.deepEqual(failed(l.results).map((r) => `${r.status} ${r.text.slice(0, 120)}`), []);
}));

test('a NATS restart costs no request, and every service says it lost and found the bus', () => withStack(KEYS, async (s) => {
  const l = load(s, 4);
  await sleep(500);
  await s.restartServer('nats', 300);
  await sleep(2500);
  await l.stop();
  assert.ok(l.results.length > 20, `only ${l.results.length} requests`);
  assert.deepEqual(failed(l.results).map((r) => `${r.status} ${r.text.slice(0, 120)}`), []);
  for (const name of ['edge', 'keypool', 'forwarder']) {
    // (a loop that turns only after the reconnect says it once: reconnected, and for how long it was down)
    await waitUntil(() => /event=nats.connection state=reconnected down_ms=\d+/.test(s.logs(name)), { tries: 50, what: `${name} reconnect logged` });
  }
}));

test('PostgreSQL away: admin login says so (503, not a wrong password, not counted), and works once it is back', () => withStack(KEYS, async (s) => {
  const login = () => s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: s.adminPassword } });
  assert.equal((await login()).status, 200);
  s.pgStop();
  for (let i = 0; i < 6; i++) {
    const r = await login();
    assert.equal(r.status, 503, r.text);
    assert.match(r.body.error.message, /unavailable/);
  }
  assert.equal((await s.gen(FLASH, 'while postgres is away')).status, 200, 'requests do not need it');
  s.pgStart();
  await waitUntil(async () => (await login()).status === 200, { tries: 50, what: 'login again' });
  assert.doesNotMatch(s.logs('edge'), /event=admin.login_limited/);
}, { edgeEnv: { SB_LOGIN_MAX_FAILURES: '3' } }));

test('a killed forwarder: its streams end with an error event within seconds, the others finish', () => withStack(KEYS, async (s) => {
  const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
  const streams = Array.from({ length: 10 }, async () => {
    const t0 = Date.now();
    const r = await s.gen(FLASH, words, { stream: true });
    const text = await r.text();
    return { status: r.status, events: sseEvents(text).map((d) => JSON.parse(d)), ms: Date.now() - t0 };
  });
  await sleep(700);
  const victim = s.procs.find((p) => p.sbName === 'forwarder' && p.exitCode === null);
  const tKill = Date.now();
  victim.kill('SIGKILL');
  const out = await Promise.all(streams);
  let cut = 0;
  for (const o of out) {
    assert.equal(o.status, 200);
    const last = o.events.at(-1);
    if (last.error) {
      cut++;
      assert.ok(Date.now() - tKill < 30000);
      assert.ok(o.ms - 700 < 5000, `the cut stream ended ${o.ms} ms after it began`);
    } else {
      assert.equal(last.candidates[0].finishReason, 'STOP', 'a stream that was not cut finished');
    }
  }
  assert.ok(cut > 0 && cut < 10, `${cut} of 10 streams were on the killed forwarder`);
  assert.match(s.logs('edge'), /msg="The forwarder stopped answering\."/);
}, { forwarders: 2, fakeEnv: { FAKE_CHUNK_MS: '100' } }));
