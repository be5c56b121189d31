// Client tokens (virtual keys): created through the admin API (secret shown once, stored hashed),
// limits exact across two edge replicas (RPM, RPD, TPM, concurrency -> 429 + Retry-After),
// expiry, disabling, model allow-lists, deletion reaching every edge within a second, usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, waitUntil, sleep, nextPacificMidnight } from './harness.mjs';

const KA = 'AIzaSyTokensTestKeyA0000000000000000000';
const KB = 'AIzaSyTokensTestKeyB0000000000000000000';
const KEYS = `proj-a:${KA},proj-b:${KB}`;
const FLASH = 'gemini-2.5-flash';

async function twoEdges(s) {
  const e2 = await s.edge({}, 'edge2');
  await s.ready(e2);
  return [s.url, e2.url];
}

// Create a token, then wait until every edge knows it: a malformed body is refused with 400 by
// an edge that knows the token (401 otherwise) before any limit or key is spent.
async function create(s, body, urls = [s.url]) {
  const r = await s.api('/api/tokens', { method: 'POST', body });
  assert.equal(r.status, 201, r.text);
  s.secrets.push(r.body.secret);
  for (const u of urls) {
    await waitUntil(async () => (await fetch(`${u}/v1beta/models/${FLASH}:generateContent`, {
      method: 'POST', headers: { 'x-goog-api-key': r.body.secret }, body: '{' })).status === 400, { tries: 20, interval: 50, what: 'token known' });
  }
  return r.body;
}

function call(url, token, model = FLASH, text = 'hi') {
  return fetch(`${url}/v1beta/models/${model}:generateContent`, {
    method: 'POST', headers: { 'x-goog-api-key': token, 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
  });
}

test('token lifecycle: created once-shown and hashed, listed without secrets, usage counted, disabled/expired/deleted refused on every edge', async () => {
  await withStack(KEYS, async (s) => {
    const urls = await twoEdges(s);
    s.session = await s.login();
    const tok = await create(s, { name: 'team-a' }, urls);
    assert.match(tok.secret, /^sb-/);
    assert.match(tok.id, /^t_[0-9a-f]{12}$/);
    assert.equal(tok.prefix, tok.secret.slice(0, 7));
    // the secret is stored only as a hash, and is never listed again
    assert.equal(s.psql(`SELECT count(*) FROM edge_tokens WHERE digest = '${tok.secret}' OR prefix = '${tok.secret}'`), '0');
    const list = await s.api('/api/tokens');
    assert.ok(!list.text.includes(tok.secret));
    const names = list.body.tokens.map((t) => [t.name, t.source]);
    assert.deepEqual(names, [['SB_CLIENT_TOKENS', 'env'], ['team-a', 'api']]);

    for (const u of urls) assert.equal((await call(u, tok.secret)).status, 200);
    assert.equal((await call(urls[0], s.token)).status, 200, 'SB_CLIENT_TOKENS still work');
    await waitUntil(async () => (await s.api(`/api/tokens/${tok.id}`)).body.usage.requests === 2, { what: 'usage' });
    const usage = (await s.api(`/api/tokens/${tok.id}`)).body.usage;
    assert.ok(usage.prompt_tokens > 0 && usage.output_tokens > 0);
    assert.equal(usage.current.rpd, 2);

    // disable: refused on both edges within a second
    assert.equal((await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { enabled: false } })).status, 200);
    let t0 = Date.now();
    for (const u of urls) await waitUntil(async () => (await call(u, tok.secret)).status === 401, { tries: 10, what: 'disabled' });
    assert.ok(Date.now() - t0 < 1000);
    const off = await call(urls[1], tok.secret);
    assert.match((await off.json()).error.message, /disabled/);
    await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { enabled: true } });
    for (const u of urls) await waitUntil(async () => (await call(u, tok.secret)).status === 200, { tries: 10, what: 're-enabled' });

    // expired (a time in the past is refused when set: this one passes by while we wait)
    const old = await create(s, { name: 'old', expires_at: new Date(Date.now() + 1500).toISOString() }, urls);
    await sleep(1600);
    // an expired token is known (not "invalid") once the edge has reloaded, and refused
    let expMsg = '';
    await waitUntil(async () => {
      const r = await call(urls[1], old.secret);
      assert.equal(r.status, 401);
      expMsg = (await r.json()).error.message;
      return /expired/.test(expMsg);
    }, { tries: 20, interval: 50, what: 'expired token known' });
    const bad = await s.api('/api/tokens', { method: 'POST', body: { name: 'x', expires_at: 'not a time' } });
    assert.equal(bad.status, 400);
    assert.equal((await s.api('/api/tokens', { method: 'POST', body: { name: 'x', rpm: -1 } })).status, 400);

    // model allow-list
    const only = await create(s, { name: 'flash-only', models: [FLASH] }, urls);
    assert.equal((await call(urls[0], only.secret, FLASH)).status, 200);
    const pro = await call(urls[1], only.secret, 'gemini-2.5-pro');
    assert.equal(pro.status, 403);
    assert.equal((await pro.json()).error.status, 'PERMISSION_DENIED');

    // delete: every edge refuses within a second
    assert.equal((await s.api(`/api/tokens/${tok.id}`, { method: 'DELETE' })).status, 200);
    t0 = Date.now();
    for (const u of urls) await waitUntil(async () => (await call(u, tok.secret)).status === 401, { tries: 10, what: 'deleted' });
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    assert.equal((await s.api(`/api/tokens/${tok.id}`)).status, 404);
    assert.ok(s.logs('edge').includes(`event=admin.audit`));
  });
});

test('a model allow-list may name an alias or its target, on the native and the OpenAI routes', async () => {
  await withStack(KEYS, async (s) => {
    s.session = await s.login();
    const put = await s.api('/api/settings', { method: 'PUT', body: { aliases: { 'my-model': FLASH } } });
    assert.equal(put.status, 200, put.text);
    await waitUntil(async () => (await call(s.url, s.token, 'my-model')).status === 200, { tries: 20, what: 'alias live' });
    const oai = (token, model) => fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const byAlias = await s.api('/api/tokens', { method: 'POST', body: { name: 'alias-only', models: ['my-model'] } });
    assert.equal(byAlias.status, 201, byAlias.text);
    s.secrets.push(byAlias.body.secret);
    await waitUntil(async () => (await call(s.url, byAlias.body.secret, 'my-model')).status === 200, { tries: 20, interval: 50, what: 'token known' });
    assert.equal((await oai(byAlias.body.secret, 'my-model')).status, 200);
    assert.equal((await call(s.url, byAlias.body.secret, FLASH)).status, 403, 'the list names the alias, not its target');
    assert.equal((await oai(byAlias.body.secret, FLASH)).status, 403);
    const byTarget = await create(s, { name: 'target-only', models: [FLASH] });
    assert.equal((await call(s.url, byTarget.secret, 'my-model')).status, 200, 'the alias resolves to an allowed model');
    assert.equal((await oai(byTarget.secret, 'my-model')).status, 200);
    assert.equal((await call(s.url, byTarget.secret, 'gemini-2.5-pro')).status, 403);
  });
});

test('RPM and RPD limits are exact across two edges and answer 429 with Retry-After', async () => {
  await withStack(KEYS, async (s) => {
    const urls = await twoEdges(s);
    s.session = await s.login();
    const rpm = await create(s, { name: 'rpm3', rpm: 3 }, urls);
    const codes = await Promise.all(Array.from({ length: 8 }, (_, i) => call(urls[i % 2], rpm.secret)));
    const ok = codes.filter((r) => r.status === 200).length;
    const limited = codes.filter((r) => r.status === 429);
    assert.equal(ok, 3, `exactly the limit passes: ${codes.map((r) => r.status)}`);
    assert.equal(limited.length, 5, `statuses: ${codes.map((r) => r.status)}`);
    const retry = Number(limited[0].headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 61, `Retry-After ${retry}`);
    const err = await limited[0].json();
    assert.equal(err.error.code, 429);
    assert.equal(err.error.status, 'RESOURCE_EXHAUSTED');
    assert.match(err.error.message, /rpm/);
    // no key was spent on refused calls
    const st = await s.stats();
    assert.equal(st.calls[KA] + st.calls[KB], 3);

    const rpd = await create(s, { name: 'rpd2', rpd: 2 }, urls);
    assert.equal((await call(urls[0], rpd.secret)).status, 200);
    assert.equal((await call(urls[1], rpd.secret)).status, 200);
    const day = await call(urls[0], rpd.secret);
    assert.equal(day.status, 429);
    const expect = (nextPacificMidnight(Date.now()) - Date.now()) / 1000;
    assert.ok(Math.abs(Number(day.headers.get('retry-after')) - expect) < 5, 'Retry-After points at Pacific midnight');
    const usage = (await s.api(`/api/tokens/${rpd.id}`)).body.usage;
    assert.equal(usage.rejected, 1);
  });
});

test('TPM and concurrency limits hold across two edges', async () => {
  await withStack(KEYS, async (s) => {
    const urls = await twoEdges(s);
    s.session = await s.login();
    const tpm = await create(s, { name: 'tpm1', tpm: 1 }, urls);
    assert.equal((await call(urls[0], tpm.secret)).status, 200);
    await waitUntil(async () => (await s.api(`/api/tokens/${tpm.id}`)).body.usage.current.tpm > 1, { what: 'tpm counted' });
    const over = await call(urls[1], tpm.secret);
    assert.equal(over.status, 429);
    assert.match((await over.json()).error.message, /tpm/);

    const one = await create(s, { name: 'conc1', max_concurrent: 1 }, urls);
    await s.script({ key: KA, fault: 'latency', ms: 1500, count: 1 });
    await s.script({ key: KB, fault: 'latency', ms: 1500, count: 1 });
    const slow = call(urls[0], one.secret, FLASH, 'slow');
    await sleep(300);
    const second = await call(urls[1], one.secret);
    assert.equal(second.status, 429);
    assert.match((await second.json()).error.message, /concurrency/);
    assert.equal((await slow).status, 200);
    await waitUntil(async () => (await call(urls[1], one.secret)).status === 200, { tries: 20, what: 'slot released' });
  });
});

test('expiry times are strict RFC 3339 in the future; a reload that fails is visible (metric, /readyz, status), and a disabled token never keeps passing', async () => {
  await withStack(KEYS, async (s) => {
    s.session = await s.login();
    const tok = await create(s, { name: 'probe' });
    // what Postgres would take but an edge cannot use: refused, and nothing stored
    for (const t of ['infinity', '-infinity', 'epoch', 'tomorrow', 'now', 'today',
      '2020-01-01T00:00:00Z', '2030-02-30T00:00:00Z', '2030-01-01T00:00:00', 42]) {
      const r = await s.api('/api/tokens', { method: 'POST', body: { name: 'bad', expires_at: t } });
      assert.equal(r.status, 400, `${t}: ${r.text}`);
      assert.match(r.body.error.message, /expires_at/);
      const p = await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { expires_at: t } });
      assert.equal(p.status, 400, `PATCH ${t}`);
    }
    assert.equal(s.psql(`SELECT count(*) FROM edge_tokens WHERE name = 'bad'`), '0');
    // an offset is normalised to UTC
    const r = await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { expires_at: '2031-06-01T12:00:00+02:00' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.expires_at, '2031-06-01T10:00:00.000Z');

    // rows an older release let in no longer stop reloads: infinity never expires, -infinity has
    s.psql(`UPDATE edge_tokens SET expires_at = 'infinity' WHERE id = '${tok.id}'`);
    await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { enabled: false } });
    await waitUntil(async () => (await call(s.url, tok.secret)).status === 401, { tries: 20, interval: 50, what: 'disabled despite infinity' });
    await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { enabled: true } });
    await waitUntil(async () => (await call(s.url, tok.secret)).status === 200, { tries: 20, interval: 50, what: 'infinity: no expiry' });
    s.psql(`UPDATE edge_tokens SET expires_at = '-infinity' WHERE id = '${tok.id}'`);
    await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { name: 'probe2' } });
    await waitUntil(async () => /expired/.test(await (await call(s.url, tok.secret)).text()), { tries: 20, interval: 50, what: '-infinity expired' });

    // a reload that fails is never silent
    const metric = async (name) => {
      const m = (await s.ops(s.edgeProc, '/metrics')).text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
      return m ? Number(m[1]) : NaN;
    };
    assert.equal(await metric('sb_tokens_reload_failing'), 0);
    s.psql('ALTER TABLE edge_tokens RENAME TO edge_tokens_gone');
    await waitUntil(async () => (await metric('sb_tokens_reload_failing')) === 1, { what: 'failing metric' });
    assert.ok((await metric('sb_tokens_reload_failures_total')) >= 1);
    const st = await s.api('/api/status');
    assert.equal(st.status, 200);
    const me = st.body.services.edges[0].tokens;
    assert.ok(me.reload_failing_since && /edge_tokens/.test(me.reload_error), JSON.stringify(me));
    // beyond SB_TOKENS_STALE_S the edge leaves the load balancer, saying why
    await waitUntil(async () => (await s.ops(s.edgeProc, '/readyz')).status === 503, { what: 'readyz 503' });
    assert.match((await s.ops(s.edgeProc, '/readyz')).text, /client tokens not reloaded/);
    assert.match(s.logs('edge'), /event=tokens.reload_failed/);
    s.psql('ALTER TABLE edge_tokens_gone RENAME TO edge_tokens');
    await s.api(`/api/tokens/${tok.id}`, { method: 'PATCH', body: { name: 'probe3' } });
    await waitUntil(async () => (await s.ops(s.edgeProc, '/readyz')).status === 200, { what: 'ready again' });
    assert.equal(await metric('sb_tokens_reload_failing'), 0);
    assert.match(s.logs('edge'), /event=tokens.reload_recovered/);
  }, { edgeEnv: { SB_TOKENS_STALE_S: '1', SB_TOKEN_RELOAD_S: '1' } });
});
