// The key-bound half of the Gemini API through the official @google/genai SDK, with three projects
// in the pool: resumable uploads larger than a bus message, files get/list/delete/download,
// prompts that use uploaded files (pinned to the project that owns them: the fake upstream, which
// enforces ownership as Google does, reports zero permission errors), a request mixing two
// projects' files, another client token's files, caches, batches, an unknown route passed through,
// and the registry surviving a restart of every service.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GoogleGenAI } from '@google/genai';
import { Stack, waitUntil } from './harness.mjs';

const KEYS = 'pa:key-alpha-0000000001,pa:key-alpha-0000000002,pb:key-bravo-0000000003,pc:key-charl-0000000004';
const FLASH = 'gemini-2.5-flash';
const s = new Stack();
let ai, ai2, e2;

before(async () => {
  await s.start(KEYS, { loggers: 1, schedulers: 1 });
  e2 = await s.edge({}, 'edge2');
  await s.ready(e2);
  ai = new GoogleGenAI({ apiKey: s.token, httpOptions: { baseUrl: s.url } });
  ai2 = new GoogleGenAI({ apiKey: s.token, httpOptions: { baseUrl: e2.url } });
});
after(async () => { await s.stop(); });

const bytes = (n, seed) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255; return b; };
const upload = (client, n, seed, name) => client.files.upload({ file: new Blob([bytes(n, seed)], { type: 'image/png' }), config: { displayName: name } });
// A second client token (made through the admin API) and Google's SDK with it.
const newClient = async (name) => {
  s.session = await s.login();
  const t = await s.api('/api/tokens', { method: 'POST', body: { name } });
  assert.equal(t.status, 201, t.text);
  s.secrets.push(t.body.secret);
  const client = new GoogleGenAI({ apiKey: t.body.secret, httpOptions: { baseUrl: s.url } });
  await waitUntil(async () => { try { await client.models.list(); return true; } catch { return false; } }, { what: 'token known' });
  return { client, id: t.body.id };
};
const projectOf = async (name) => {
  // the fake answers a GET only with the owner's key: the gateway routes it there
  const r = await fetch(`${s.url}/v1beta/${name}`, { headers: { 'x-goog-api-key': s.token } });
  assert.equal(r.status, 200);
  return (await s.stats()).last_rest.project;
};

test('files: resumable uploads (one piece over a bus message, and two 8 MiB chunks), get, list, download, delete', async () => {
  await s.fakeReset();
  const f1 = await upload(ai, 3 * 1024 * 1024 + 7, 1, 'one');
  assert.match(f1.name, /^files\//);
  assert.equal(f1.sizeBytes, String(3 * 1024 * 1024 + 7));
  assert.equal(f1.state, 'ACTIVE');
  const f2 = await upload(ai2, 9 * 1024 * 1024, 2, 'two'); // through the other replica, two chunks
  assert.equal(f2.sizeBytes, String(9 * 1024 * 1024));
  const got = await ai.files.get({ name: f2.name });
  assert.equal(got.displayName, 'two');
  // the bytes arrived whole and in order
  const dl = await fetch(`${s.url}/download/v1beta/${f1.name}:download?alt=media`, { headers: { 'x-goog-api-key': s.token } });
  assert.equal(dl.status, 200);
  assert.equal(dl.headers.get('content-type'), 'image/png');
  assert.deepEqual(new Uint8Array(await dl.arrayBuffer()), bytes(3 * 1024 * 1024 + 7, 1));
  const listed = [];
  for await (const f of await ai.files.list({ config: { pageSize: 1 } })) listed.push(f.name);
  assert.ok(listed.includes(f1.name) && listed.includes(f2.name), JSON.stringify(listed));
  await ai.files.delete({ name: f1.name });
  await assert.rejects(ai.files.get({ name: f1.name }), (e) => e.status === 404);
  assert.equal((await s.stats()).permission_errors, 0);
});

test('twenty prompts using one or several uploaded files go to the owners\' project: zero permission errors', async () => {
  await s.fakeReset();
  const files = [];
  for (let i = 0; i < 6; i++) files.push(await upload(i % 2 ? ai2 : ai, 1000 + i, 10 + i, `f${i}`));
  const owner = {};
  for (const f of files) owner[f.name] = await projectOf(f.name);
  assert.ok(new Set(Object.values(owner)).size >= 2, `uploads spread over projects: ${JSON.stringify(owner)}`);
  const byProject = {};
  for (const f of files) (byProject[owner[f.name]] ??= []).push(f);
  const groups = Object.values(byProject);
  for (let i = 0; i < 20; i++) {
    const g = groups[i % groups.length];
    const use = i % 3 === 0 ? g : [g[i % g.length]];
    const client = i % 2 ? ai2 : ai;
    const r = await client.models.generateContent({
      model: FLASH,
      contents: [{ role: 'user', parts: [{ text: `look ${i}` }, ...use.map((f) => ({ fileData: { fileUri: f.uri, mimeType: f.mimeType } }))] }],
    });
    assert.match(r.text, /look/);
  }
  // mixing two projects' files: a clear 400 before any upstream call
  const calls = (await s.stats()).log.length;
  const [a, b] = [groups[0][0], groups[1][0]];
  await assert.rejects(ai.models.generateContent({
    model: FLASH, contents: [{ role: 'user', parts: [{ text: 'mix' }, { fileData: { fileUri: a.uri } }, { fileData: { fileUri: b.name } }] }],
  }), (e) => e.status === 400 && e.message.includes(a.name) && e.message.includes(b.name) && /different Google Cloud projects/.test(e.message));
  assert.equal((await s.stats()).log.length, calls);
  assert.equal((await s.stats()).permission_errors, 0);
});

test('another client token cannot read, use or delete the files (404); a file nobody made is a 404', async () => {
  const f = await upload(ai, 500, 3, 'mine');
  const { client: other } = await newClient('other-files');
  await assert.rejects(other.files.get({ name: f.name }), (e) => e.status === 404);
  await assert.rejects(other.files.delete({ name: f.name }), (e) => e.status === 404);
  await assert.rejects(other.models.generateContent({ model: FLASH, contents: [{ role: 'user', parts: [{ text: 'x' }, { fileData: { fileUri: f.uri } }] }] }),
    (e) => e.status === 404 && e.message.includes(f.name));
  const listed = [];
  for await (const x of await other.files.list()) listed.push(x.name);
  assert.deepEqual(listed, []);
  await assert.rejects(ai.files.get({ name: 'files/never-made' }), (e) => e.status === 404);
  assert.equal((await ai.files.get({ name: f.name })).name, f.name); // still the owner's
});

test('requests naming files nobody made are 404s that never hold the edge; reads of a stalled registry wait alone', async () => {
  // thirty prompts naming unknown files at once: each a prompt 404, and the edge answers a refusal
  // meanwhile (the registry is read off the edge's loop, and once)
  const t0 = Date.now();
  const unknown = Array.from({ length: 30 }, (_, i) => fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, {
    method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }, { fileData: { fileUri: `${s.url}/v1beta/files/nobody-${i}` } }] }] }) }));
  const refused = await fetch(`${s.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'nobody' } });
  assert.ok(refused.status >= 400 && refused.status < 500, `refused: ${refused.status}`);
  const rs = await Promise.all(unknown);
  for (const r of rs) assert.equal(r.status, 404, await r.clone().text());
  assert.ok(Date.now() - t0 < 500, `thirty unknown files took ${Date.now() - t0} ms`);
  // a prompt using a real file while Redis answers nothing: it waits for the record, the edge not
  const f = await upload(ai, 300, 9, 'stalled');
  s.redis('CLIENT', 'PAUSE', '1000', 'ALL');
  const paused = Date.now();
  const pending = ai.models.generateContent({ model: FLASH, contents: [{ role: 'user', parts: [{ text: 'describe' }, { fileData: { fileUri: f.uri } }] }] });
  const listing = fetch(`${s.url}/v1beta/files?pageSize=100`, { headers: { 'x-goog-api-key': s.token } });
  await new Promise((r) => setTimeout(r, 150));
  const t1 = Date.now();
  const other = await fetch(`${s.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'nobody' } });
  assert.ok(other.status >= 400 && other.status < 500);
  assert.ok(Date.now() - t1 < 400, `the edge answers others while a read waits (${Date.now() - t1} ms)`);
  const r = await pending;
  assert.ok(Date.now() - paused >= 850, `the prompt waited for its record (${Date.now() - paused} ms)`);
  assert.ok(r.text.length > 0);
  const l = await listing; // the list, read through the store's thread: every file, the new one too
  assert.equal(l.status, 200);
  const listed = (await l.json()).files.map((x) => x.name);
  assert.ok(listed.includes(f.name), JSON.stringify(listed));
  const all = [];
  for await (const x of await ai.files.list({ config: { pageSize: 3 } })) all.push(x.name);
  assert.deepEqual(all, listed);
});

test('a resource\'s answer waits for its record\'s write, not the edge: a stalled registry delays it alone', async () => {
  // upstream takes 400 ms to make a cache; Redis refuses writes for 1.2 s from 150 ms: the answer
  // must wait for its record to land, and be usable through the other edge at once; meanwhile the
  // edge serves others (a refusal comes back at once)
  const keys = KEYS.split(',').map((x) => x.split(':')[1]);
  for (const k of keys) await s.script({ key: k, model: 'rest', fault: 'latency', ms: 400, count: 1 });
  const t0 = Date.now();
  const pending = fetch(`${s.url}/v1beta/cachedContents`, {
    method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
    body: JSON.stringify({ model: `models/${FLASH}`, contents: [{ role: 'user', parts: [{ text: 'a long prefix' }] }], ttl: '600s' }) });
  await new Promise((r) => setTimeout(r, 150));
  s.redis('CLIENT', 'PAUSE', '1200', 'WRITE');
  const paused = Date.now();
  for (const k of keys) await s.unscript(k);
  await new Promise((r) => setTimeout(r, Math.max(0, 600 - (Date.now() - t0)))); // upstream has answered
  const t1 = Date.now();
  const other = await fetch(`${s.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'nobody' } });
  assert.ok(other.status >= 400 && other.status < 500, `refused: ${other.status}`);
  assert.ok(Date.now() - t1 < 400, `the edge answers others while a record is written (${Date.now() - t1} ms)`);
  const r = await pending;
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.ok(Date.now() - paused >= 1100, `the answer left before its record could land (${Date.now() - paused} ms)`);
  const got = await fetch(`${e2.url}/v1beta/${body.name}`, { headers: { 'x-goog-api-key': s.token } });
  assert.equal(got.status, 200, await got.text());
});

test('admins see every client token\'s resources (GET /api/resources, filtered by type, client, project); a client token cannot', async () => {
  const { client: other, id } = await newClient('res-admin-view');
  const mine = await upload(ai, 100, 8, 'admin-a');
  const theirs = await upload(other, 100, 9, 'admin-b');
  const all = await s.api('/api/resources?type=files&limit=1000');
  assert.equal(all.status, 200, all.text);
  const names = all.body.resources.map((r) => r.name);
  assert.ok(names.includes(mine.name) && names.includes(theirs.name));
  const r = all.body.resources.find((x) => x.name === theirs.name);
  assert.equal(r.client, id);
  assert.ok(['pa', 'pb', 'pc'].includes(r.project));
  assert.equal(r.object.displayName, 'admin-b');
  const byClient = (await s.api(`/api/resources?type=files&client=${id}`)).body.resources.map((x) => x.name);
  assert.deepEqual(byClient, [theirs.name]);
  const byProject = (await s.api(`/api/resources?project=${r.project}&limit=1000`)).body.resources;
  assert.ok(byProject.length > 0 && byProject.every((x) => x.project === r.project));
  assert.ok(byProject.some((x) => x.name === theirs.name));
  assert.equal((await s.api('/api/resources?type=nope')).status, 400);
  // a client token is no admin session
  const asClient = await fetch(`${s.url}/api/resources`, { headers: { authorization: `Bearer ${s.token}`, 'x-goog-api-key': s.token } });
  assert.equal(asClient.status, 401);
});

test('caches: create with a file, use it in a prompt, get, update the TTL, list, delete', async () => {
  await s.fakeReset();
  const f = await upload(ai, 2000, 4, 'ctx');
  const c = await ai.caches.create({ model: FLASH, config: { contents: [{ role: 'user', parts: [{ fileData: { fileUri: f.uri, mimeType: 'image/png' } }] }], ttl: '600s' } });
  assert.match(c.name, /^cachedContents\//);
  const r = await ai2.models.generateContent({ model: FLASH, contents: 'with the cache', config: { cachedContent: c.name } });
  assert.match(r.text, /with the cache/);
  assert.equal((await ai.caches.get({ name: c.name })).name, c.name);
  const u = await ai.caches.update({ name: c.name, config: { ttl: '7200s' } });
  assert.ok(u.expireTime);
  const names = [];
  for await (const x of await ai.caches.list()) names.push(x.name);
  assert.ok(names.includes(c.name));
  await ai.caches.delete({ name: c.name });
  await assert.rejects(ai.caches.get({ name: c.name }), (e) => e.status === 404);
  assert.equal((await s.stats()).permission_errors, 0);
});

test('batches: create from inline requests, get, cancel, list, delete', async () => {
  await s.fakeReset();
  const b = await ai.batches.create({ model: FLASH, src: [{ contents: [{ role: 'user', parts: [{ text: 'one' }] }] }], config: { displayName: 'nightly' } });
  assert.match(b.name, /^batches\//);
  assert.equal(b.state, 'JOB_STATE_PENDING');
  const got = await ai2.batches.get({ name: b.name });
  assert.equal(got.displayName, 'nightly');
  await ai.batches.cancel({ name: b.name });
  assert.equal((await ai.batches.get({ name: b.name })).state, 'JOB_STATE_CANCELLED');
  const names = [];
  for await (const x of await ai.batches.list()) names.push(x.name);
  assert.ok(names.includes(b.name));
  await ai.batches.delete({ name: b.name });
  // from an input file: made on the file's project (the fake refuses any other)
  const input = await upload(ai, 300, 7, 'requests.jsonl');
  const fb = await ai2.batches.create({ model: FLASH, src: input.name });
  assert.match(fb.name, /^batches\//);
  assert.equal(JSON.parse((await s.stats()).last_body).batch.inputConfig.fileName, input.name);
  assert.equal(await projectOf(fb.name), await projectOf(input.name));
  assert.equal((await s.stats()).permission_errors, 0);
});

test('interactions: created, continued with previous_interaction_id through the other replica, streamed as it comes, resumed, cancelled, deleted', async () => {
  await s.fakeReset();
  const first = await ai.interactions.create({ model: FLASH, input: 'hello there' });
  assert.equal(first.status, 'completed');
  assert.equal(first.output_text, 'Echo: hello there');
  const owner = (await s.stats()).last_rest.project;
  // continued through the other replica: pinned to the project that holds the first
  const next = await ai2.interactions.create({ model: FLASH, input: 'and then', previous_interaction_id: first.id });
  assert.equal(next.previous_interaction_id, first.id);
  assert.equal(next.output_text, 'Echo: and then');
  assert.equal((await s.stats()).last_rest.project, owner);
  // streamed: the events arrive as upstream sends them (40 ms apart), ids and types intact
  const seen = [];
  const t0 = Date.now();
  const stream = await ai.interactions.create({ model: FLASH, input: 'one two three four', stream: true, previous_interaction_id: next.id });
  for await (const ev of stream) seen.push({ type: ev.event_type, id: ev.event_id, at: Date.now() - t0, ev });
  assert.deepEqual(seen.map((e) => e.type), ['interaction.created', 'step.delta', 'step.delta', 'step.delta', 'step.delta', 'step.delta', 'interaction.completed']);
  assert.deepEqual(seen.map((e) => e.id), ['1', '2', '3', '4', '5', '6', '7']);
  assert.equal(seen.filter((e) => e.type === 'step.delta').map((e) => e.ev.delta.text).join(''), 'Echo: one two three four');
  assert.ok(seen[6].at - seen[0].at >= 150, `events passed on as they came: ${seen.map((e) => e.at)}`);
  const sid = seen[0].ev.interaction.id;
  // the streamed one is in the registry: resumed after event 4 through the other replica
  const resumed = [];
  for await (const ev of await ai2.interactions.get(sid, { stream: true, last_event_id: '4' })) resumed.push(ev.event_id);
  assert.deepEqual(resumed, ['5', '6', '7']);
  // background: in progress, cancelled
  const bg = await ai.interactions.create({ model: FLASH, input: 'slow', background: true });
  assert.equal(bg.status, 'in_progress');
  assert.equal((await ai2.interactions.cancel(bg.id)).status, 'cancelled');
  await ai.interactions.delete(first.id);
  await assert.rejects(ai.interactions.get(first.id), (e) => e.status === 404 || e.statusCode === 404);
  // another token cannot continue it
  const { client: other } = await newClient('other-interactions');
  await assert.rejects(other.interactions.create({ model: FLASH, input: 'x', previous_interaction_id: next.id }),
    (e) => (e.status ?? e.statusCode) === 404);
  assert.equal((await s.stats()).permission_errors, 0);
});

test('file search stores: created, a file uploaded into one, a file imported (of its project; another project\'s is a clear 400), documents, a prompt using it, deleted', async () => {
  await s.fakeReset();
  const store = await ai.fileSearchStores.create({ config: { displayName: 'docs' } });
  assert.match(store.name, /^fileSearchStores\//);
  const home = await projectOf(store.name);
  const up = await ai2.fileSearchStores.uploadToFileSearchStore({ fileSearchStoreName: store.name, file: new Blob([bytes(700 * 1024, 3)], { type: 'text/plain' }), config: { displayName: 'manual' } });
  assert.equal(up.done, true);
  // files land by the pool's rule: import one of the store's project, refuse one of another's
  const files = [];
  for (let i = 0; i < 6; i++) files.push(await upload(ai, 200, 20 + i, `doc${i}`));
  const owners = [];
  for (const f of files) owners.push(await projectOf(f.name)); // one at a time: it reads the fake's last call
  const same = files[owners.indexOf(home)], other = files[owners.findIndex((p) => p !== home)];
  assert.ok(same && other, `files on the store's project and on another: ${owners}`);
  const op = await ai.fileSearchStores.importFile({ fileSearchStoreName: store.name, fileName: same.name });
  assert.equal(op.done, true);
  const got = await fetch(`${s.url}/v1beta/${op.name}`, { headers: { 'x-goog-api-key': s.token } });
  assert.equal(got.status, 200);
  await assert.rejects(ai.fileSearchStores.importFile({ fileSearchStoreName: store.name, fileName: other.name }),
    (e) => e.status === 400 && e.message.includes(store.name) && e.message.includes(other.name));
  const docs = [];
  for await (const d of await ai.fileSearchStores.documents.list({ parent: store.name })) docs.push(d.displayName);
  assert.deepEqual(docs.sort(), ['manual', same.name].sort());
  const r = await ai2.models.generateContent({ model: FLASH, contents: 'what does the manual say', config: { tools: [{ fileSearch: { fileSearchStoreNames: [store.name] } }] } });
  assert.match(r.text, /manual/);
  const stores = [];
  for await (const x of await ai.fileSearchStores.list()) stores.push(x.name);
  assert.ok(stores.includes(store.name));
  await ai.fileSearchStores.delete({ name: store.name, config: { force: true } });
  await assert.rejects(ai.fileSearchStores.get({ name: store.name }), (e) => e.status === 404);
  assert.equal((await s.stats()).permission_errors, 0);
});

test('an unknown /v1beta/ route reaches the fake unchanged, with a pooled key; SB_PASSTHROUGH=0 turns that off', async () => {
  const r = await fetch(`${s.url}/v1beta/tunedModels?pageSize=5&key=${s.token}`, { headers: { 'Api-Revision': '2026-05' } });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { tunedModels: [] });
  let last = (await s.stats()).last_rest;
  assert.equal(last.method, 'GET');
  assert.equal(last.path, '/v1beta/tunedModels');
  assert.ok(['pa', 'pb', 'pc'].includes(last.project));
  assert.deepEqual(last.query, { pageSize: '5' }); // the client's token (?key=) never goes upstream
  assert.deepEqual(last.headers, { 'Api-Revision': '2026-05' });
  // a POST to a route Google may add tomorrow: body, method, path, headers as they came; Google's
  // answer (here a 404) comes back as it is
  const body = '{ "odd" :  [1, 2.50, "\u00e9"] }';
  const p = await fetch(`${s.url}/v1beta/models/${FLASH}:someNewAction`, {
    method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json; x=1', 'api-revision': 'r9' }, body,
  });
  assert.equal(p.status, 404);
  assert.equal((await p.json()).error.message, 'Method not found.');
  const st = await s.stats();
  last = st.last_rest;
  assert.equal(last.method, 'POST');
  assert.equal(last.path, `/v1beta/models/${FLASH}:someNewAction`);
  assert.deepEqual(last.headers, { 'Api-Revision': 'r9', 'Content-Type': 'application/json; x=1' });
  assert.equal(st.last_body, body);
  const off = await s.edge({ SB_PASSTHROUGH: '0' }, 'edge-nopass');
  await s.ready(off);
  const r2 = await fetch(`${off.url}/v1beta/tunedModels`, { headers: { 'x-goog-api-key': s.token } });
  assert.equal(r2.status, 404);
  assert.equal((await r2.json()).error.status, 'NOT_FOUND');
});

test('the registry survives a restart of every service; a deleted key\'s project answers a clear error', async () => {
  const f = await upload(ai, 800, 5, 'durable');
  const project = await projectOf(f.name);
  for (const name of ['edge', 'edge2', 'edge-nopass', 'keypool', 'forwarder', 'logger', 'scheduler']) await s.kill(name);
  s.keypool({}, 'keypool-r');
  s.forwarder({}, 'forwarder-r');
  s.logger({}, 'logger-r');
  s.scheduler({}, 'scheduler-r');
  const e = await s.edge({}, 'edge-r');
  await s.ready(e);
  const again = new GoogleGenAI({ apiKey: s.token, httpOptions: { baseUrl: e.url } });
  const r = await again.models.generateContent({ model: FLASH, contents: [{ role: 'user', parts: [{ text: 'after restart' }, { fileData: { fileUri: f.uri } }] }] });
  assert.match(r.text, /after restart/);
  assert.equal((await again.files.get({ name: f.name })).name, f.name);
  // delete every key of the owning project: its resources are not routed to another project
  s.url = e.url;
  s.session = await s.login();
  const keys = (await s.api(`/api/keys?project=${project}&limit=50`)).body.keys;
  assert.ok(keys.length > 0);
  for (const k of keys) assert.equal((await s.api(`/api/keys/${k.id}`, { method: 'DELETE' })).status, 200);
  await s.fakeReset();
  await waitUntil(async () => {
    try { await again.files.get({ name: f.name }); return false; } catch (err) { return err.status === 503 && err.message.includes(f.name); }
  }, { what: 'a clear error for the deleted project' });
  assert.equal((await s.stats()).permission_errors, 0);
});
