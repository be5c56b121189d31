// Every quota Google enforces, before Google says 429: input tokens per minute bind for large
// prompts; the pool learns each project's limit from its first 429, sends a prompt only where the
// minute's budget has room for it, and serves what Google allows with almost no 429 upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitUntil } from './harness.mjs';

const MODEL = 'gemini-2.5-flash';
const PROJECTS = ['p1', 'p2', 'p3', 'p4'];
const KEYS = PROJECTS.map((p, i) => `${p}:key-${p}-tokens-00000000${i}`).join(',');
const TPM = 50000; // input tokens (the fake counts words) per project and minute
const LARGE = 1000;
const SMALL = 10;

const prompt = (words, i) => Array.from({ length: words }, (_, k) => (k ? 'lorem' : `n${i}`)).join(' ');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('input-token quotas: learnt, respected per project, and the pool served to the limit', async () => {
  const s = new Stack();
  try {
    await s.start(KEYS, { keypools: 2, forwarders: 2, fakeEnv: { FAKE_TPM: String(TPM), FAKE_RPM: '100000' } });
    const edge2 = await s.edge({}, 'edge1');
    await s.ready(edge2);
    const urls = [s.url, edge2.url];
    // one calendar minute holds the whole run (Google's window), so the capacity is exact
    const sec = (Date.now() / 1000) % 60;
    if (sec > 30) await sleep((61 - sec) * 1000);
    await s.fakeReset();
    const capacity = TPM * PROJECTS.length;
    // offered: twice the capacity, one large prompt in four (by tokens, large ones dominate)
    const plan = [];
    for (let offered = 0, i = 0; offered < 2 * capacity; i++) {
      const words = i % 4 === 3 ? LARGE : SMALL;
      plan.push(words);
      offered += words;
    }
    const status = {};
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < plan.length) {
        const i = next++;
        const r = await fetch(`${urls[i % 2]}/v1beta/models/${MODEL}:generateContent`, {
          method: 'POST',
          headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: prompt(plan[i], i) }] }] }),
        });
        await r.arrayBuffer();
        status[r.status] = (status[r.status] || 0) + 1;
        if (r.status === 429) assert.ok(Number(r.headers.get('retry-after')) >= 1, 'a refusal says when to come back');
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const took = Date.now() - started;
    assert.ok(took < 25000, `the run fits in its minute (${took} ms)`);
    const u = (await s.stats()).usage;
    const upstream = u.admitted + u.quota_429.tpm + u.quota_429.rpm;
    const served = u.tokens_in / capacity;
    const wasted = u.quota_429.tpm / upstream;
    console.log(`# offered ${plan.length} requests (${2 * capacity} tokens) in ${took} ms; answers ${JSON.stringify(status)}; ` +
      `upstream: ${u.admitted} admitted, ${u.quota_429.tpm} token 429s; served ${(100 * served).toFixed(1)}% of capacity, ` +
      `${(100 * wasted).toFixed(2)}% of upstream calls wasted on 429s`);
    assert.ok(served >= 0.98, `served ${(100 * served).toFixed(1)}% of what the quotas allow`);
    assert.ok(wasted <= 0.02, `${(100 * wasted).toFixed(2)}% of upstream calls were 429s`);
    assert.ok(status[200] > 0 && status[429] > 0, 'beyond the capacity, clients were told to come back');
    assert.equal(Object.keys(status).filter((k) => k !== '200' && k !== '429').length, 0, JSON.stringify(status));

    // learnt limits are shown; an admin sets others, which win, and clears them again
    await s.login().then((t) => { s.session = t; });
    let g = await s.api('/api/projects/p1/limits');
    assert.equal(g.status, 200, g.text);
    assert.equal(g.body.models[MODEL].tpm.learnt, TPM);
    assert.equal(g.body.models[MODEL].tpm.set, undefined);
    assert.ok(g.body.models[MODEL].tpm.used > 0);
    const p = await s.api('/api/projects/p1/limits', { method: 'PUT', body: { tpm: { [MODEL]: 15000 }, rpd: { [MODEL]: 500 }, rpm: { [MODEL]: 30 } } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.changed, 3);
    g = await s.api('/api/projects/p1/limits');
    assert.deepEqual([g.body.models[MODEL].tpm.set, g.body.models[MODEL].tpm.learnt], [15000, TPM]);
    assert.equal(g.body.models[MODEL].rpd.set, 500);
    assert.equal(g.body.models[MODEL].rpm.set, 30);
    const bad = await s.api('/api/projects/p1/limits', { method: 'PUT', body: { tpm: { [MODEL]: -1 } } });
    assert.equal(bad.status, 400);
    await s.api('/api/projects/p1/limits', { method: 'PUT', body: { tpm: { [MODEL]: 0 } } });
    g = await s.api('/api/projects/p1/limits');
    assert.equal(g.body.models[MODEL].tpm.set, undefined);
  } catch (e) {
    s.dumpLogs();
    throw e;
  } finally {
    await s.stop();
  }
});

test('two edges holding lease reserves keep one project exactly at its request limit', async () => {
  const s = new Stack();
  const key = 'solo:key-solo-reserve-0000001';
  try {
    const edgeEnv = { SB_LEASE_RESERVE: '8' };
    await s.start(key, { kpEnv: { LOG_LEVEL: 'debug' }, fakeEnv: { FAKE_RPM: '20' }, edgeEnv });
    const edge2 = await s.edge(edgeEnv, 'edge1');
    await s.ready(edge2);
    const urls = [s.url, edge2.url];
    s.session = await s.login();
    const put = await s.api('/api/projects/solo/limits', { method: 'PUT', body: { rpm: { [MODEL]: 20 } } });
    assert.equal(put.status, 200, put.text);
    const sec = (Date.now() / 1000) % 60;
    if (sec > 45) await sleep((61 - sec) * 1000);
    await s.fakeReset();
    await s.limits({ project: 'solo', model: MODEL, rpm: 20 });
    const status = {};
    let next = 0;
    const worker = async () => {
      while (next < 60) {
        const i = next++;
        const r = await fetch(`${urls[i % 2]}/v1beta/models/${MODEL}:generateContent`, {
          method: 'POST',
          headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: `r${i}` }] }] }),
        });
        await r.arrayBuffer();
        status[r.status] = (status[r.status] || 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    const u = (await s.stats()).usage;
    assert.deepEqual(status, { 200: 20, 429: 40 }, 'exactly the limit was served');
    assert.equal(u.admitted, 20);
    assert.equal(u.quota_429.rpm, 0, 'Google never had to say 429');
    assert.ok(/event=lease\.ok [^\n]*reserve=1/.test(s.logs('keypool')), 'the edges held reserves');
    // what the reserves held and did not use went back: the minute's count is what was served
    const minute = Math.floor(Date.now() / 60000);
    await waitUntil(() => s.redisRaw('GET', `sb:rpm:solo:${MODEL}:${minute}`) === '20',
      { tries: 60, interval: 100, what: 'unused reserved leases handed back' });
  } catch (e) {
    s.dumpLogs();
    throw e;
  } finally {
    await s.stop();
  }
});
