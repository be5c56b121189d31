// Key management through the admin API (served by keypool over NATS): bulk add from pasted text,
// secrets sealed at rest (the test reads Postgres), masked listings, audited reveal, and
// enable/disable/delete acting on live traffic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, waitUntil, textOf } from './harness.mjs';

const rnd = (n, abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-') =>
  Array.from({ length: n }, () => abc[Math.floor(Math.random() * abc.length)]).join('');

const SEEDED = 'AIzaSy' + rnd(33);
const LEGACY = 'AIzaSy' + rnd(33);
const AQ = 'AQ.Ab8RN6' + rnd(44);
const IQ = 'IQ.' + rnd(30);
const INURL = 'AIzaSy' + rnd(33);
const NEW = [LEGACY, AQ, IQ, INURL];

const BLOB = `
Here are our keys (exported from the sheet):
proj-x:${LEGACY}, ${AQ}
  - ${IQ}   <- the new kind
  again: ${AQ}
  already there: ${SEEDED}.
curl "https://generativelanguage.googleapis.com/v1beta/models?key=${INURL}&pageSize=5"
broken ones: AIzaShort AQ.x
{"note": "no keys here", "n": 42}
`;

test('bulk add reports exactly what happened; secrets sealed at rest; masked lists; audited reveal; live enable/disable/delete', async () => {
  await withStack(`proj-s:${SEEDED}`, async (s) => {
    s.secrets.push(...NEW);
    s.session = await s.login();
    const add = await s.api('/api/keys', { method: 'POST', body: { text: BLOB, project: 'pasted', label: 'batch-1' } });
    assert.equal(add.status, 201, add.text);
    assert.equal(add.body.added, 4);
    assert.equal(add.body.duplicate, 2, 'the repeated AQ key and the seeded key');
    assert.equal(add.body.invalid, 2);
    assert.equal(add.body.added_ids.length, 4);
    for (const m of add.body.invalid_samples) assert.ok(!m.includes('AIzaShort') && !m.includes('AQ.x'), 'samples are masked');
    // adding the same text again adds nothing
    const again = await s.api('/api/keys', { method: 'POST', body: { text: BLOB } });
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.added, again.body.duplicate], [0, 6]);

    // Postgres holds no plaintext key
    const dump = s.psql('SELECT row_to_json(k)::text FROM kp_keys k');
    for (const k of [SEEDED, ...NEW]) assert.ok(!dump.includes(k), 'a plaintext key is in kp_keys');
    assert.equal(s.psql('SELECT count(*) FROM kp_keys WHERE secret IS NOT NULL'), '0');
    assert.equal(s.psql("SELECT count(*) FROM kp_keys WHERE sealed LIKE 'v1:%'"), '5');

    // listings are masked, with stable ids and projects
    const list = await s.api('/api/keys?limit=500');
    assert.equal(list.status, 200);
    assert.equal(list.body.total, 5);
    for (const k of [SEEDED, ...NEW]) assert.ok(!list.text.includes(k), 'a listing returned a full key');
    const byMask = Object.fromEntries(list.body.keys.map((k) => [k.masked, k]));
    const mask = (k) => `${k.slice(0, 4)}\u2026${k.slice(-4)}`;
    assert.equal(byMask[mask(LEGACY)].project, 'proj-x');
    assert.equal(byMask[mask(AQ)].project, 'pasted');
    assert.equal(byMask[mask(AQ)].label, 'batch-1');
    assert.equal(byMask[mask(SEEDED)].state, 'active');
    // paging: two at a time walks every key once
    const seen = [];
    let after = '';
    for (let i = 0; i < 5; i++) {
      const page = await s.api(`/api/keys?limit=2${after ? `&after=${after}` : ''}`);
      seen.push(...page.body.keys.map((k) => k.id));
      if (!page.body.next) break;
      after = page.body.next;
    }
    assert.deepEqual([...seen].sort(), list.body.keys.map((k) => k.id).sort());

    // reveal returns the key, and is logged without it
    const aqId = byMask[mask(AQ)].id;
    const rev = await s.api(`/api/keys/${aqId}/reveal`, { method: 'POST' });
    assert.equal(rev.status, 200);
    assert.equal(rev.body.key, AQ);
    assert.match(s.logs('edge'), new RegExp(`event=admin.audit .*action=key.reveal target=${aqId}`));
    assert.match(s.logs('keypool'), new RegExp(`event=key.revealed key_id=${aqId}`));
    assert.equal(s.psql("SELECT count(*) FROM edge_audit WHERE action = 'key.reveal'"), '1');

    // live: disable every key but the AQ one -> traffic goes to it
    const others = list.body.keys.filter((k) => k.id !== aqId).map((k) => k.id);
    const dis = await s.api('/api/keys/actions', { method: 'POST', body: { action: 'disable', ids: others } });
    assert.deepEqual(dis.body, { changed: 4 });
    const disabled = await s.api('/api/keys?state=disabled');
    assert.equal(disabled.body.keys.length, 4);
    for (let i = 0; i < 3; i++) {
      const r = await s.gen('gemini-2.5-flash', 'via the new key');
      assert.equal(r.status, 200);
      assert.equal(textOf(await r.json()), 'Echo: via the new key');
    }
    const st = await s.stats();
    assert.equal(st.calls[AQ], 3);
    assert.equal(st.calls[SEEDED] ?? 0, 0);

    // delete the AQ key: with the rest disabled, nothing is left to serve
    assert.equal((await s.api(`/api/keys/${aqId}`, { method: 'DELETE' })).status, 200);
    assert.equal((await s.api(`/api/keys/${aqId}`, { method: 'DELETE' })).status, 404);
    const none = await s.gen('gemini-2.5-flash', 'nobody home');
    assert.equal(none.status, 503);
    // enable one again through PATCH: it serves
    const back = await s.api(`/api/keys/${byMask[mask(SEEDED)].id}`, { method: 'PATCH', body: { enabled: true, label: 'back' } });
    assert.equal(back.status, 200, back.text);
    const ok = await s.gen('gemini-2.5-flash', 'back again');
    assert.equal(ok.status, 200);
    const events = s.logs('keypool');
    assert.match(events, /event=key.state key_id=\S+ project=\S+ state=disabled admin=admin/);
    assert.match(events, /event=key.state key_id=\S+ project=\S+ state=deleted admin=admin/);
  }, { fakeEnv: { FAKE_KEYS: `proj-s:${SEEDED},proj-x:${LEGACY},pasted:${AQ},pasted:${IQ},pasted:${INURL}` } });
});

test('a keypool with the wrong master key says so, to the log and to the client; keys given again in the environment are sealed again', async () => {
  await withStack(`proj-s:${SEEDED}`, async (s) => {
    const wrong = 'ab'.repeat(32);
    await s.kill('keypool');
    s.keypool({ SB_MASTER_KEY: wrong, KP_ID: 'kp-wrong', GEMINI_API_KEYS: '' }, 'keypool-wrong');
    await waitUntil(() => s.logs('keypool-wrong').includes('event=keys.unreadable'), { what: 'unreadable keys' });
    await waitUntil(async () => (await s.gen('gemini-2.5-flash', 'x')).status === 503, { what: 'no key' });
    const r = await s.gen('gemini-2.5-flash', 'x');
    assert.match((await r.json()).error.message, /cannot be opened with this SB_MASTER_KEY/);
    await s.kill('keypool-wrong');
    // the same keys given again: sealed under this master key, and served
    s.keypool({ SB_MASTER_KEY: wrong, KP_ID: 'kp-again' }, 'keypool-again');
    await waitUntil(() => s.logs('keypool-again').includes('event=keys.sealed_again count=1'), { what: 'sealed again' });
    await waitUntil(async () => (await s.gen('gemini-2.5-flash', 'x')).status === 200, { what: 'served again' });
    assert.doesNotMatch(s.logs('keypool-again'), /event=keys.unreadable/);
    await s.kill('keypool-again');
    const bad = s.keypool({ SB_MASTER_KEY: 'not-hex' }, 'keypool-bad');
    await waitUntil(() => bad.exitCode !== null, { what: 'refusing to start' });
    assert.notEqual(bad.exitCode, 0);
    assert.match(s.logs('keypool-bad'), /step=master_key/);
  });
});

test('rotating the master key: SB_MASTER_KEY_PREVIOUS opens the old rows and they are sealed again under the new key', async () => {
  await withStack(`proj-s:${SEEDED}`, async (s) => {
    const fresh = 'cd'.repeat(32);
    s.secrets.push(fresh);
    await s.kill('keypool');
    // the new key alone cannot open the rows yet
    s.keypool({ SB_MASTER_KEY: fresh, GEMINI_API_KEYS: '' }, 'keypool-new');
    await waitUntil(() => s.logs('keypool-new').includes('event=keys.unreadable count=1'), { what: 'unreadable before the rotation' });
    await s.kill('keypool-new');
    // new + previous: resealed, served
    s.keypool({ SB_MASTER_KEY: fresh, SB_MASTER_KEY_PREVIOUS: s.masterKey, GEMINI_API_KEYS: '' }, 'keypool-rot');
    await waitUntil(() => s.logs('keypool-rot').includes('event=keys.resealed count=1'), { what: 'resealed' });
    await waitUntil(() => s.logs('keypool-rot').includes('event=ready'), { what: 'keypool ready' });
    await s.ready(s.edgeProc);
    assert.equal((await s.gen('gemini-2.5-flash', 'after rotation')).status, 200);
    await s.kill('keypool-rot');
    // from now on the new key alone opens everything, and the old one opens nothing
    s.keypool({ SB_MASTER_KEY: fresh, GEMINI_API_KEYS: '' }, 'keypool-after');
    await waitUntil(() => s.logs('keypool-after').includes('event=keys.loaded count=1'), { what: 'loaded with the new key' });
    assert.doesNotMatch(s.logs('keypool-after'), /keys\.unreadable/);
    await s.kill('keypool-after');
    s.keypool({ GEMINI_API_KEYS: '' }, 'keypool-old');
    await waitUntil(() => s.logs('keypool-old').includes('event=keys.unreadable count=1'), { what: 'the old key opens nothing' });
  });
});

test('status overview: keys by state and project, cooling pairs, live services, requests in flight', async () => {
  const K1 = 'AIzaSy' + rnd(33), K2 = 'AIzaSy' + rnd(33), K3 = 'AIzaSy' + rnd(33), K4 = 'AIzaSy' + rnd(33);
  await withStack(`pa:${K1},pa:${K2},pb:${K3},pc:${K4}`, async (s) => {
    s.secrets.push(K1, K2, K3, K4);
    const e2 = await s.edge({}, 'edge2');
    await s.ready(e2);
    s.session = await s.login();
    // K3 (project pb) cools for flash; K1 dies; K4 is disabled
    await s.script({ key: K3, fault: 'quota_minute', count: 1 });
    await s.script({ key: K1, fault: 'invalid', count: 1 });
    const list = (await s.api('/api/keys')).body.keys;
    const id = (k) => list.find((x) => x.masked === `${k.slice(0, 4)}\u2026${k.slice(-4)}`).id;
    await s.api('/api/keys/actions', { method: 'POST', body: { action: 'disable', ids: [id(K4)] } });
    for (let i = 0; i < 6; i++) assert.equal((await s.gen('gemini-2.5-flash', 'x')).status, 200);
    await s.script({ key: K2, fault: 'latency', ms: 1500, count: 1 });
    const slow = s.gen('gemini-2.5-flash', 'slow');
    await waitUntil(async () => (await s.api('/api/status')).body.inflight >= 1, { tries: 20, interval: 50, what: 'in flight' });
    const st = (await s.api('/api/status', { url: e2.url })).body;
    assert.deepEqual(st.keys.by_project, [
      { project: 'pa', active: 1, dead: 1, disabled: 0 },
      { project: 'pb', active: 1, dead: 0, disabled: 0 },
      { project: 'pc', active: 0, dead: 0, disabled: 1 },
    ]);
    assert.deepEqual([st.keys.total, st.keys.active, st.keys.dead, st.keys.disabled], [4, 2, 1, 1]);
    assert.equal(st.cooling.length, 1);
    assert.equal(st.cooling[0].project, 'pb');
    assert.equal(st.cooling[0].model, 'gemini-2.5-flash');
    assert.ok(st.cooling[0].until_ms > Date.now());
    assert.equal(st.services.keypools.length, 1);
    assert.equal(st.services.forwarders.length, 2);
    assert.equal(st.services.edges.length, 2);
    assert.equal(st.inflight, 1, 'the slow call on the first edge');
    assert.equal((await slow).status, 200);
  }, { forwarders: 2 });
});

test('test now: a cheap upstream read with the key; a dead key is found and marked', async () => {
  const K1 = 'AIzaSy' + rnd(33), K2 = 'AQ.' + rnd(40);
  await withStack(`pa:${K1},pb:${K2}`, async (s) => {
    s.secrets.push(K1, K2);
    s.session = await s.login();
    const keys = (await s.api('/api/keys')).body.keys;
    const id = (k) => keys.find((x) => x.masked === `${k.slice(0, 4)}\u2026${k.slice(-4)}`).id;
    const good = await s.api(`/api/keys/${id(K1)}/test`, { method: 'POST' });
    assert.equal(good.status, 200, good.text);
    assert.equal(good.body.ok, true);
    assert.equal(good.body.status, 200);
    await s.script({ key: K2, fault: 'invalid', count: 1 });
    const bad = await s.api(`/api/keys/${id(K2)}/test`, { method: 'POST' });
    assert.equal(bad.body.ok, false);
    assert.equal(bad.body.error_class, 'key_dead');
    await waitUntil(async () => (await s.api('/api/keys?state=dead')).body.keys.map((k) => k.id).includes(id(K2)), { tries: 20, interval: 50, what: 'marked dead' });
    // no generation was spent: only model reads reached the upstream
    assert.ok((await s.stats()).log.every((l) => !l.model), JSON.stringify((await s.stats()).log));
    assert.equal((await s.api('/api/keys/k_000000000000/test', { method: 'POST' })).status, 404);
    assert.match(s.logs('edge'), /action=key.test target=/);
  });
});

test('per-project model limits: keypool stops before Google would; a project no key belongs to is a 404, a bad model a 400', async () => {
  const K1 = 'AIzaSy' + rnd(33);
  await withStack(`pa:${K1}`, async (s) => {
    s.secrets.push(K1);
    s.session = await s.login();
    const ok = await s.api('/api/projects/pa/limits', { method: 'PUT', body: { rpm: { 'gemini-2.5-flash': 1 } } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.changed, 1);
    assert.equal((await s.gen('gemini-2.5-flash', 'one')).status, 200);
    const second = await s.gen('gemini-2.5-flash', 'two');
    assert.equal(second.status, 429, 'the second call in the minute waits, Google is not asked');
    assert.equal((await s.stats()).calls[K1], 1);
    const typo = await s.api('/api/projects/pz/limits', { method: 'PUT', body: { rpm: { 'gemini-2.5-flash': 5 } } });
    assert.equal(typo.status, 404, typo.text);
    assert.match(typo.body.error.message, /no key belongs/);
    const bad = await s.api('/api/projects/pa/limits', { method: 'PUT', body: { rpm: { '..': 5 } } });
    assert.equal(bad.status, 400);
  });
});
