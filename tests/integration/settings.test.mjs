// Live settings through the admin API: stored in a JetStream KV bucket, applied by every running
// edge and forwarder within a second, validated, and still in force after a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { withStack, waitUntil, freePort, bin } from './harness.mjs';

const KA = 'AIzaSySettingsKeyA000000000000000000000';
const KB = 'AIzaSySettingsKeyB000000000000000000000';
const KC = 'AIzaSySettingsKeyC000000000000000000000';
const KEYS = `pa:${KA},pb:${KB},pc:${KC}`;

async function onEvery(urls, s, pred, what) {
  const t0 = Date.now();
  for (const u of urls) await waitUntil(async () => pred((await s.api('/api/settings', { url: u })).body), { tries: 20, interval: 50, what });
  return Date.now() - t0;
}

const gen = (url, token, model, text = 'hi') => fetch(`${url}/v1beta/models/${model}:generateContent`, {
  method: 'POST', headers: { 'x-goog-api-key': token, 'content-type': 'application/json' },
  body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
});

test('settings: validated, applied by every edge and forwarder within a second, kept across restarts', async () => {
  await withStack(KEYS, async (s) => {
    const e2 = await s.edge({ SB_ALLOW_HTTP_UPSTREAM: 'true' }, 'edge2');
    await s.ready(e2);
    const urls = [s.url, e2.url];
    s.session = await s.login();

    const def = await s.api('/api/settings');
    assert.equal(def.status, 200);
    assert.equal(def.body.retry_budget, 4);
    assert.equal(def.body.overrides.retry_budget, null);

    // validation
    for (const bad of [{ retry_budget: 0 }, { deadline_ms: 'soon' }, { nope: 1 }, { aliases: { a: 'b', b: 'c' } },
      { aliases: { '*': 'gemini-2.5-flash' } }, { aliases: { 'a*b': 'c' } }, { aliases: { 'claude-*': 'claude-x' } },
      { hidden_models: ['models/x'] }, { upstream_base_url: 'ftp://x' }, { error_classes: [{ match: 1 }] }]) {
      const r = await s.api('/api/settings', { method: 'PUT', body: bad });
      assert.equal(r.status, 400, `${JSON.stringify(bad)} -> ${r.status}`);
    }

    // retry budget 1: two of three projects fail with 503, so some requests fail
    await s.script({ key: KA, fault: '503', count: 1000 });
    await s.script({ key: KB, fault: '503', count: 1000 });
    let put = await s.api('/api/settings', { method: 'PUT', body: { retry_budget: 1 } });
    assert.equal(put.status, 200, put.text);
    assert.ok(await onEvery(urls, s, (b) => b.retry_budget === 1, 'budget 1') < 1000);
    let codes = [];
    for (let i = 0; i < 6; i++) codes.push((await gen(urls[i % 2], s.token, 'gemini-2.5-flash')).status);
    assert.ok(codes.some((c) => c !== 200), `budget 1 retries nothing: ${codes}`);
    put = await s.api('/api/settings', { method: 'PUT', body: { retry_budget: 3 } });
    assert.equal(put.body.retry_budget, 3);
    assert.equal(put.body.updated_by, 'admin');
    assert.ok(await onEvery(urls, s, (b) => b.retry_budget === 3, 'budget 3') < 1000);
    codes = [];
    for (let i = 0; i < 6; i++) codes.push((await gen(urls[i % 2], s.token, 'gemini-2.5-flash')).status);
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 200]);
    await s.script({ key: KA, fault: '503', count: 0 });
    await fetch(`${s.fakeUrl}/_fake/reset`, { method: 'POST' });

    // an alias and a hidden model, on both edges
    put = await s.api('/api/settings', { method: 'PUT', body: { aliases: { 'my-model': 'gemini-2.5-flash' }, hidden_models: ['gemini-2.5-pro'] } });
    assert.equal(put.status, 200, put.text);
    assert.ok(await onEvery(urls, s, (b) => b.aliases['my-model'] === 'gemini-2.5-flash', 'alias') < 1000);
    for (const u of urls) {
      const r = await gen(u, s.token, 'my-model', 'aliased');
      assert.equal(r.status, 200);
      const hidden = await gen(u, s.token, 'gemini-2.5-pro');
      assert.equal(hidden.status, 404);
      assert.equal((await hidden.json()).error.status, 'NOT_FOUND');
      const list = await (await fetch(`${u}/v1beta/models?pageSize=1000`, { headers: { 'x-goog-api-key': s.token } })).json();
      const names = list.models.map((m) => m.name);
      assert.ok(names.includes('models/gemini-2.5-flash'));
      assert.ok(!names.includes('models/gemini-2.5-pro'), 'hidden model listed');
    }
    const log = (await s.stats()).log.filter((l) => l.model);
    assert.ok(log.length >= 2 && log.every((l) => l.model === 'gemini-2.5-flash'), JSON.stringify(log));

    // the forwarder's upstream moves to a second upstream, live
    const port2 = await freePort();
    const fake2 = s.spawn('fake2', bin('fake'), { FAKE_PORT: String(port2), FAKE_KEYS: KEYS });
    await waitUntil(async () => { try { return (await fetch(`http://127.0.0.1:${port2}/_fake/stats`)).ok; } catch { return false; } }, { what: 'fake2' });
    put = await s.api('/api/settings', { method: 'PUT', body: { upstream_base_url: `http://127.0.0.1:${port2}` } });
    assert.equal(put.status, 403, 'where the keys go is changed only with the password again');
    put = await s.api('/api/settings', { method: 'PUT', body: { upstream_base_url: `http://127.0.0.1:${port2}`, current_password: s.adminPassword } });
    assert.equal(put.status, 200, put.text);
    await waitUntil(() => s.logs('forwarder').includes(`upstream=http://127.0.0.1:${port2}`), { tries: 20, interval: 50, what: 'forwarder applied' });
    assert.equal((await gen(s.url, s.token, 'gemini-2.5-flash')).status, 200);
    const st2 = await (await fetch(`http://127.0.0.1:${port2}/_fake/stats`)).json();
    assert.equal(Object.values(st2.calls).reduce((a, b) => a + b, 0), 1, 'the call went to the second upstream');
    await s.api('/api/settings', { method: 'PUT', body: { upstream_base_url: null } });
    fake2.kill('SIGTERM');

    // restart an edge: the stored settings apply at start
    const e1 = s.procs.find((p) => p.sbName === 'edge');
    e1.kill('SIGTERM');
    await new Promise((r) => e1.on('exit', r));
    const e3 = await s.edge({}, 'edge3');
    await s.ready(e3);
    const after = await s.api('/api/settings', { url: e3.url });
    assert.equal(after.body.retry_budget, 3);
    assert.equal((await gen(e3.url, s.token, 'my-model')).status, 200);
    assert.equal((await gen(e3.url, s.token, 'gemini-2.5-pro')).status, 404);
    assert.ok(s.logs('edge').includes('action=settings.update'));
  }, { edgeEnv: { SB_ALLOW_HTTP_UPSTREAM: 'true' } });
});
