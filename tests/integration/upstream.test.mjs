// Around the upstream: Vertex AI express keys (their own route, URL and error shapes, served
// through the same pool), and outbound proxies that each key sticks to (consistent hashing): a
// proxy that dies gives up only its own keys, which come back when it does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GoogleGenAI } from '@google/genai';
import { withStack, waitUntil } from './harness.mjs';
import { testProxy } from './testproxy.mjs';

const FLASH = 'gemini-2.5-flash';
const PRO = 'gemini-2.5-pro';
const gen = (s, model, body) => fetch(`${s.url}/v1beta/models/${model}:generateContent`, {
  method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
  body: JSON.stringify(body ?? { contents: [{ parts: [{ text: 'hello' }] }] }),
});

test('Vertex AI express keys: generateContent, streams and countTokens on Vertex\'s route; the rest on Gemini keys; errors classify as Gemini\'s', async () => {
  const KEYS = 'vertex:pv:vkey-00000000000001,vertex:pw:vkey-00000000000002,pg:gkey-00000000000003';
  await withStack(KEYS, async (s) => {
    s.session = await s.login();
    const keys = (await s.api('/api/keys')).body.keys;
    const kinds = Object.fromEntries(keys.map((k) => [k.project, k.kind]));
    assert.deepEqual(kinds, { 'vertex:pv': 'vertex', 'vertex:pw': 'vertex', pg: 'gemini' });
    let r = await s.api('/api/settings', { method: 'PUT', body: { model_key_kinds: { 'gemini-2.5-*': 'vertex' } } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.model_key_kinds, { 'gemini-2.5-*': 'vertex' });
    assert.equal((await s.api('/api/settings', { method: 'PUT', body: { model_key_kinds: { x: 'azure' } } })).status, 400);

    await s.fakeReset();
    // a turn without a role: the Gemini API assumes "user", Vertex refuses it; the gateway adds it
    r = await gen(s, FLASH);
    assert.equal(r.status, 200, await r.clone().text());
    assert.ok((await r.json()).candidates[0].content.parts[0].text);
    const ai = new GoogleGenAI({ apiKey: s.token, httpOptions: { baseUrl: s.url } });
    let text = '';
    for await (const c of await ai.models.generateContentStream({ model: FLASH, contents: 'stream please' })) text += c.text ?? '';
    assert.ok(text.length > 0);
    const ct = await ai.models.countTokens({ model: FLASH, contents: 'count these tokens' });
    assert.ok(ct.totalTokens > 0);
    const emb = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: 'embed me' });
    assert.ok(emb.embeddings[0].values.length > 0);
    const log = (await s.stats()).log;
    const gens = log.filter((l) => l.model === FLASH);
    assert.ok(gens.length >= 3, JSON.stringify(log));
    for (const l of gens) {
      assert.equal(l.via, 'vertex', JSON.stringify(l));
      assert.match(l.key, /^vkey-/);
    }
    const embeds = log.filter((l) => l.model === 'gemini-embedding-001');
    assert.ok(embeds.length >= 1);
    for (const l of embeds) assert.deepEqual([l.via, l.key], ['gemini', 'gkey-00000000000003']);

    // "test now" on a Vertex key: countTokens on Vertex's route (it lists no models for a key)
    const vid = keys.find((k) => k.project === 'vertex:pv').id;
    const t = await s.api(`/api/keys/${vid}/test`, { method: 'POST' });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual([t.body.ok, t.body.status], [true, 200], t.text);
    assert.equal((await s.stats()).log.at(-1).via, 'vertex');

    // Vertex's 429 (no details): a quota, both Vertex projects cool down for the model; the
    // Gemini key is not used for it (the setting restricts the model to Vertex keys)
    await s.script({ key: 'vkey-00000000000001', fault: 'quota_minute', count: 1 });
    await s.script({ key: 'vkey-00000000000002', fault: 'quota_minute', count: 1 });
    r = await gen(s, FLASH);
    assert.equal(r.status, 429, await r.clone().text());
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    const cooled = (await s.api('/api/keys')).body.keys.filter((k) => k.cooling.some((c) => c.model === FLASH));
    assert.deepEqual(cooled.map((k) => k.project).sort(), ['vertex:pv', 'vertex:pw']);
    // an invalid key: dead, the call fails over to the other Vertex key
    await s.script({ key: 'vkey-00000000000001', fault: 'invalid', count: 1 });
    await s.script({ key: 'vkey-00000000000002', fault: 'invalid', count: 1 });
    r = await gen(s, PRO);
    assert.equal(r.status, 503, await r.clone().text());
    const states = Object.fromEntries((await s.api('/api/keys')).body.keys.map((k) => [k.project, k.state]));
    assert.deepEqual(states, { 'vertex:pv': 'dead', 'vertex:pw': 'dead', pg: 'active' });
    // without the setting a model is served by either kind: the Gemini key serves it now
    assert.equal((await s.api('/api/settings', { method: 'PUT', body: { model_key_kinds: {} } })).status, 200);
    r = await gen(s, PRO);
    assert.equal(r.status, 200, await r.clone().text());
    // a key added as Vertex through the admin API
    r = await s.api('/api/keys', { method: 'POST', body: { key: 'AQ.vertex-added-key-0123456789', kind: 'vertex', project: 'px' } });
    assert.equal(r.status, 201, r.text);
    const added = (await s.api('/api/keys')).body.keys.find((k) => k.project === 'vertex:px');
    assert.equal(added?.kind, 'vertex');
  });
});

test('outbound proxies: each key leaves through one proxy; a dead proxy moves only its keys, and they come back', async () => {
  const KEYS = Array.from({ length: 16 }, (_, i) => `p${i}:pkey-${String(i).padStart(12, '0')}`).join(',');
  const proxies = [await testProxy('http'), await testProxy('http'), await testProxy('socks')];
  try {
    await withStack(KEYS, async (s) => {
      s.session = await s.login();
      const r = await s.api('/api/settings', { method: 'PUT', body: { upstream_proxy: proxies.map((p) => p.url), current_password: s.adminPassword } });
      assert.equal(r.status, 200, r.text);
      await waitUntil(async () => (await s.api('/api/proxies')).body?.proxies?.length === 3, { what: 'proxies applied' });
      const round = async () => {
        for (const p of proxies) p.hits.clear();
        for (let i = 0; i < 64; i += 4) {
          const rs = await Promise.all([0, 1, 2, 3].map(() => gen(s, FLASH)));
          for (const x of rs) assert.equal(x.status, 200, await x.text());
        }
        const where = new Map();
        proxies.forEach((p, i) => {
          for (const k of p.hits.keys()) {
            assert.ok(!where.has(k), `key ${k} left through two proxies`);
            where.set(k, i);
          }
        });
        return where;
      };
      const first = await round();
      assert.equal(first.size, 16, 'every key was used');
      const listed = (await s.api('/api/proxies')).body;
      assert.equal(listed.keys, 16);
      assert.ok(!JSON.stringify(listed).includes('pkey-'));
      for (let i = 0; i < 3; i++) {
        const mine = [...first.values()].filter((v) => v === i).length;
        const entry = listed.proxies.find((p) => p.url === proxies[i].url);
        assert.equal(entry.state, 'up');
        assert.equal(entry.keys, mine, `proxy ${i}: listed key count`);
      }
      // the proxy with the most keys dies
      const counts = [0, 1, 2].map((i) => [...first.values()].filter((v) => v === i).length);
      const victim = counts.indexOf(Math.max(...counts));
      await proxies[victim].stop();
      const during = await round();
      for (const [k, i] of first) {
        if (i !== victim) assert.equal(during.get(k), i, `key ${k} of a live proxy moved`);
        else assert.notEqual(during.get(k) ?? victim, victim);
      }
      const down = (await s.api('/api/proxies')).body.proxies.find((p) => p.url === proxies[victim].url);
      assert.equal(down.state, 'down');
      assert.equal(down.keys, 0);
      // it comes back on its port: re-checked, and its keys return to it
      await proxies[victim].start();
      await waitUntil(async () => (await s.api('/api/proxies')).body.proxies.every((p) => p.state === 'up'), { what: 'proxy back' });
      const after = await round();
      assert.deepEqual([...after.entries()].sort(), [...first.entries()].sort());

      // a long list (9 URLs of ~490 characters, credentials in them) reaches the forwarders whole
      const long = Array.from({ length: 9 }, (_, i) => `http://u${i}:${'p'.repeat(460)}@127.0.0.1:${proxies[i % 2].port}`);
      assert.ok(long.join(',').length > 4096);
      assert.equal((await s.api('/api/settings', { method: 'PUT', body: { upstream_proxy: long, current_password: s.adminPassword } })).status, 200);
      const id = (u) => `x_${createHash('sha256').update(u).digest('hex').slice(0, 12)}`;
      await waitUntil(async () => {
        const l = (await s.api('/api/proxies')).body.proxies;
        return JSON.stringify(l.map((p) => p.id).sort()) === JSON.stringify(long.map(id).sort());
      }, { what: 'all nine proxies applied' });
      const listed9 = JSON.stringify((await s.api('/api/proxies')).body);
      assert.ok(!listed9.includes('p'.repeat(460)), 'credentials are redacted');
      assert.equal((await gen(s, FLASH)).status, 200);
    });
  } finally {
    for (const p of proxies) await p.stop();
  }
});
