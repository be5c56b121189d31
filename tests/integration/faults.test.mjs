// Faults under steady load, the short form inside make test (make faults runs the long one): a
// Redis restart and a NATS restart cost no request, PostgreSQL away leaves admin login honest and
// working again after, a killed forwarder's streams end with an error event within seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
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

// A TCP relay in front of NATS for one client: cut() drops its connection and refuses new ones
// for a while, so what is published to it meanwhile is lost (NATS delivers at most once).
async function relay(targetPort) {
  const socks = new Set();
  let refusing = false;
  const srv = net.createServer((c) => {
    if (refusing) { c.destroy(); return; }
    const u = net.connect(targetPort, '127.0.0.1');
    for (const x of [c, u]) { socks.add(x); x.on('error', () => {}); x.on('close', () => { c.destroy(); u.destroy(); socks.delete(x); }); }
    c.pipe(u);
    u.pipe(c);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `nats://127.0.0.1:${srv.address().port}`,
    async cut(ms) {
      refusing = true;
      for (const x of socks) x.destroy();
      await sleep(ms);
      refusing = false;
    },
    close() { for (const x of socks) x.destroy(); srv.close(); },
  };
}

test('frames lost while an edge was off the bus are sent again: the stream completes, nothing repeated', () => withStack(KEYS, async (s) => {
  const r1 = await relay(s.natsPort);
  try {
    const edge = await s.edge({ NATS_URL: r1.url }, 'edge-relayed');
    await s.ready(edge);
    for (const key of [KA, KB]) await s.script({ key, fault: 'stall', after: 2, ms: 1500, count: 1 });
    const words = 'one two three four five six seven eight';
    const r = await fetch(`${edge.url}/v1beta/models/${FLASH}:streamGenerateContent?alt=sse`, {
      method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: words }] }] }),
    });
    assert.equal(r.status, 200);
    const body = r.text();
    await sleep(300); // the first events are in; the rest come while the edge is off the bus
    await r1.cut(2500);
    const events = sseEvents(await body).map((e) => JSON.parse(e));
    assert.ok(!events.some((e) => e.error), `no error event: ${JSON.stringify(events.at(-1))}`);
    assert.equal(events.map((e) => e.candidates?.[0]?.content?.parts?.[0]?.text ?? '').join(''), `Echo: ${words}`);
    assert.equal(events.at(-1).candidates[0].finishReason, 'STOP');
    assert.match(s.logs('edge-relayed'), /event=frames\.resend_asked .*why=reconnect/);
    assert.match(s.logs('forwarder'), /event=frames\.resent /);
  } finally { r1.close(); }
}));
