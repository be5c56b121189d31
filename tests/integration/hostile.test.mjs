// Hostile and careless clients at the edge: unknown paths and bad model names answered the same
// way every time, refusals findable in the request log under the id the client got, nothing read
// or parsed before the token is checked, a shared budget for bodies being received, and time and
// address limits for slow clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { withStack, waitUntil, sleep } from './harness.mjs';

const KEYS = 'pa:AIzaSyHostileTestKeyA000000000000000000';
const FLASH = 'gemini-2.5-flash';

const calls = async (s) => Object.values((await s.stats()).calls).reduce((a, b) => a + b, 0);
const rssKb = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);

// A raw HTTP/1.1 exchange: write head (and optional body parts), collect what comes back.
function raw(url, head, { body = '', wait = 2000, end = true, from } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect({ port: Number(port), host: hostname, ...(from ? { localAddress: from } : {}) });
    let data = '';
    let closed = false;
    const t0 = Date.now();
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; resolve({ data, closed, ms: Date.now() - t0, sock }); });
    sock.write(head + body);
    if (!end) { resolve({ sock, get data() { return data; }, get closed() { return closed; } }); return; }
    setTimeout(() => { resolve({ data, closed, ms: Date.now() - t0, sock }); sock.destroy(); }, wait);
  });
}
const statusOf = (text) => Number((text.match(/^HTTP\/1\.1 (\d{3})/) || [])[1] || 0);

// Unknown routes under /v1beta/ and /v1/ are refused here (SB_PASSTHROUGH=0); passed through, they
// reach upstream (resources.test.mjs).
test('unknown paths, bad model names and wrong methods get the same answer every time, and ids the request log knows', async () => {
  await withStack(KEYS, async (s) => {
    const tok = { 'x-goog-api-key': s.token };
    const seen = [];
    for (let i = 0; i < 40; i++) {
      for (const [method, p, status] of [['GET', '/nothing-here', 404], ['POST', '/v1/nope', 404],
        ['GET', `/v1beta/models/${FLASH}:unknownAction`, 404],
        ['POST', '/v1beta/models/bad!name:generateContent', 400],
        ['POST', '/v1beta/models/..:generateContent', 400], ['POST', '/v1beta/models/.:countTokens', 400],
        ['GET', `/v1beta/models/${FLASH}:generateContent`, 405]]) {
        const r = await fetch(`${s.url}${p}`, { method, headers: tok, body: method === 'POST' ? '{}' : undefined });
        assert.equal(r.status, status, `${method} ${p}`);
        const b = await r.json();
        assert.equal(b.error.code, status, `${method} ${p}: Gemini's error shape`);
        assert.ok(b.error.status, `${method} ${p}: ${JSON.stringify(b)}`);
        if (i === 0) seen.push([r.headers.get('x-request-id'), status]);
      }
    }
    // dot segments as they come on the wire (fetch would remove them first)
    for (const p of ['/v1beta/models/..', '/v1beta/models/%2E%2E', '/v1beta/models/.', '/openai/v1/models/..']) {
      const r = await raw(s.url, `GET ${p} HTTP/1.1\r\nHost: x\r\nx-goog-api-key: ${s.token}\r\nAuthorization: Bearer ${s.token}\r\n\r\n`, { wait: 300 });
      assert.equal(statusOf(r.data), 400, `${p}: ${r.data}`);
    }
    assert.equal(await calls(s), 0, 'nothing reached the upstream');
    // refusals are logged under the id the client was given
    const more = [
      await fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': 'nope' }, body: '{}' }),
      await fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, { method: 'POST', headers: tok, body: '{"contents": [' }),
      await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer nope' }, body: '{' }),
    ];
    for (const r of more) seen.push([r.headers.get('x-request-id'), r.status]);
    assert.deepEqual(more.map((r) => r.status), [401, 400, 401]);
    s.session = await s.login();
    for (const [id, status] of seen) {
      assert.match(id, /^[0-9a-f]{16}$/);
      await waitUntil(async () => (await s.api(`/api/logs/${id}`)).status === 200, { what: `log of ${id}` });
      assert.equal((await s.api(`/api/logs/${id}`)).body.status, status);
    }
  }, { loggers: 1, edgeEnv: { SB_PASSTHROUGH: '0' } });
});

test('the token is checked before the body: a bad token with bad JSON is a 401 on every route, and large unauthenticated bodies are never read', async () => {
  await withStack(KEYS, async (s) => {
    for (const p of ['/v1/chat/completions', '/openai/v1/embeddings', `/v1beta/models/${FLASH}:generateContent`]) {
      const r = await fetch(`${s.url}${p}`, { method: 'POST', headers: { authorization: 'Bearer wrong' }, body: '{not json' });
      assert.equal(r.status, 401, p);
      const b = await r.json();
      if (p.includes('models/')) assert.equal(b.error.status, 'UNAUTHENTICATED');
      else assert.equal(b.error.type, 'invalid_request_error', 'OpenAI error shape');
    }
    // a small refused body is read and dropped: the connection stays usable
    const head = (len, token = 'wrong') => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
    const two = await raw(s.url, head(2) + '{}' + head(2), { body: '{}', wait: 800 });
    assert.equal((two.data.match(/HTTP\/1\.1 401/g) || []).length, 2, two.data);
    // 20 MiB announced, 10 bytes sent: the answer comes at once, the rest is never read
    const big = await raw(s.url, head(20 * 1024 * 1024), { body: '{"model":"', wait: 3000 });
    assert.equal(statusOf(big.data), 401);
    assert.ok(big.closed && big.ms < 1000, `closed after ${big.ms} ms`);
    // three concurrent 20 MiB uploads with a bad token cost no memory
    const pid = s.edgeProc.pid;
    const before = rssKb(pid);
    const blob = Buffer.alloc(20 * 1024 * 1024, 0x61);
    await Promise.all([0, 1, 2].map(() => fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: 'Bearer wrong' }, body: blob,
    }).then((r) => r.status).catch(() => 'reset')));
    const grown = rssKb(pid) - before;
    assert.ok(grown < 16 * 1024, `edge RSS grew ${grown} kB`);
    assert.equal(await calls(s), 0);
  });
});

test('bodies being received share one budget; slow bodies, idle clients and crowded addresses are bounded', async () => {
  await withStack(KEYS, async (s) => {
    const head = (len) => `POST /v1beta/models/${FLASH}:generateContent HTTP/1.1\r\nHost: x\r\nx-goog-api-key: ${s.token}\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
    // the first upload holds 600 kB of the 1 MiB budget; the second would pass it: 503 at once
    const a = await raw(s.url, head(600000), { body: '{"contents":', end: false });
    await sleep(100);
    const b = await raw(s.url, head(600000), { body: '{', wait: 1000 });
    assert.equal(statusOf(b.data), 503, b.data);
    assert.match(b.data, /Retry-After: 1/i);
    assert.match(b.data, /too many request bodies/);
    a.sock.destroy();
    // the budget comes back when a connection goes away
    await waitUntil(async () => (await s.gen(FLASH, 'x'.repeat(500000))).status === 200, { tries: 20, interval: 100, what: 'budget released' });

    // a body that trickles in past SB_CLIENT_BODY_S: 408
    const slow = await raw(s.url, head(100), { body: '{"contents":', end: false });
    for (let i = 0; i < 3; i++) { // a byte each 600 ms keeps the idle timer from firing
      await sleep(600);
      slow.sock.write(' ');
    }
    // (MHD takes no answer in the middle of a body: the connection closes, the log says 408)
    await waitUntil(() => slow.closed, { tries: 20, interval: 50, what: 'slow body closed' });
    assert.match(s.logs('edge'), /event=request.refused req=\S+ status=408 /);
    // a connection that sends nothing is closed after SB_CLIENT_IDLE_S
    const idle = await raw(s.url, 'GET /v1beta/mod', { wait: 3500 });
    assert.ok(idle.closed && idle.ms < 3400, `idle connection closed after ${idle.ms} ms`);
    // ... but a call the upstream thinks about longer than that is not cut
    await s.script({ key: KEYS.split(':')[1], fault: 'latency', ms: 2500, count: 1 });
    const r = await s.gen(FLASH, 'think long');
    assert.equal(r.status, 200);

    // one address holds at most SB_MAX_CONNS_PER_ADDR connections; more are closed on accept
    // (from an address of its own: this process's pooled fetch connections, which the edge may
    // close at any moment, do not count there)
    const from = '127.0.0.2';
    const list = `GET /v1beta/models HTTP/1.1\r\nHost: x\r\nx-goog-api-key: ${s.token}\r\n\r\n`;
    const held = await Promise.all([0, 1, 2, 3].map(() => raw(s.url, '', { end: false, from })));
    await sleep(100);
    assert.ok(held.every((h) => !h.closed), 'four connections held');
    const extra = await raw(s.url, list, { wait: 1000, from });
    assert.ok(extra.closed && statusOf(extra.data) === 0, 'the fifth connection was refused');
    for (const h of held) h.sock.destroy();
    // served again from that address once the edge has seen them go
    await waitUntil(async () => statusOf((await raw(s.url, list, { wait: 500, from })).data) === 200, { tries: 30, interval: 100, what: 'served again' });
  }, {
    edgeEnv: {
      SB_MAX_BUFFERED_BYTES: String(1024 * 1024), SB_MAX_BODY_BYTES: String(1024 * 1024),
      SB_CLIENT_BODY_S: '1', SB_CLIENT_IDLE_S: '1', SB_MAX_CONNS_PER_ADDR: '4',
    },
  });
});

test('a flood of bus messages never crowds out a call ending: the slot comes back', async () => {
  const KEY = KEYS.split(':')[1];
  await withStack(KEYS, async (s) => {
    const nc = await s.natsConnect();
    // learn the edge's private inbox from its keypool ping
    const sub = nc.subscribe('sb.v1.keypool.ping', { max: 1 });
    let inbox = '';
    for await (const m of sub) inbox = m.reply.split('.').slice(0, -1).join('.');
    assert.match(inbox, /^_INBOX_edge/);
    const metric = async (name) => Number(((await s.ops(s.edgeProc, '/metrics')).text.match(new RegExp(`^${name} (\\S+)$`, 'm')) || [])[1]);

    await s.script({ key: KEY, fault: 'latency', ms: 60000, count: 1 });
    const ac = new AbortController();
    const call = s.gen(FLASH, 'slow', { signal: ac.signal }).catch(() => 'aborted');
    await waitUntil(async () => (await metric('sb_inflight')) === 1, { tries: 40, interval: 50, what: 'in flight' });
    // the loop stalls; meanwhile its queue fills with junk and the client goes away
    await fetch(`${await s.opsUrl(s.edgeProc)}/debug/stall?ms=1500`, { method: 'POST' });
    await sleep(150);
    for (let i = 0; i < 3000; i++) nc.publish(`${inbox}.junk`, new Uint8Array(8));
    await nc.flush();
    await sleep(100);
    ac.abort();
    assert.equal(await call, 'aborted');
    await waitUntil(async () => (await metric('sb_bus_messages_dropped_total')) > 0, { what: 'the queue was full' });
    await waitUntil(async () => (await metric('sb_inflight')) === 0, { tries: 50, interval: 100, what: 'the slot came back' });
    assert.equal((await s.gen(FLASH, 'next')).status, 200, 'SB_MAX_INFLIGHT=1 is free again');
    await nc.close();
  }, { edgeEnv: { SB_MAX_INFLIGHT: '1', SB_TEST_HOOKS: '1' } });
});
