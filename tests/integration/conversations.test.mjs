// Sticky conversations: with the setting on, every turn of a conversation goes to one project
// while it has quota, so Gemini's implicit context cache (per project; the fake upstream keeps
// one as Google does, from 1024 tokens) serves its prefix: cached tokens in the logs and the
// usage statistics. A project out of quota hands the conversation to another, where it stays;
// with the setting off, turns spread over the projects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, waitUntil } from './harness.mjs';

const FLASH = 'gemini-2.5-flash';
const KEYS = 'pa:key-conv-0000000001,pb:key-conv-0000000002,pc:key-conv-0000000003,pd:key-conv-0000000004';
const projectOf = Object.fromEntries(KEYS.split(',').map((e) => [e.split(':')[1], e.split(':')[0]]));
const s = new Stack();

before(async () => {
  await s.start(KEYS, { loggers: 1 });
  s.session = await s.login();
});
after(async () => { await s.stop(); });

const long = (seed) => Array.from({ length: 1100 }, (_, i) => `w${seed}${i % 97}`).join(' ');
// One turn: the whole history goes up, the answer is appended; returns the project that served.
const turn = async (history, text) => {
  history.push({ role: 'user', parts: [{ text }] });
  const before = (await s.stats()).log.length;
  const r = await fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, {
    method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
    body: JSON.stringify({ systemInstruction: { parts: [{ text: 'You are terse.' }] }, contents: history }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  const j = await r.json();
  history.push(j.candidates[0].content);
  const log = (await s.stats()).log.slice(before).filter((l) => l.model === FLASH);
  return { project: projectOf[log.at(-1).key], cached: j.usageMetadata.cachedContentTokenCount ?? 0 };
};

test('ten turns of one conversation stay on one project; the implicit cache shows in the statistics', async () => {
  let r = await s.api('/api/settings', { method: 'PUT', body: { sticky_conversations: true } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.sticky_conversations, true);
  await s.fakeReset();
  const from = new Date(Date.now() - 1000).toISOString();
  const history = [];
  const served = [];
  for (let i = 0; i < 10; i++) served.push(await turn(history, i ? `turn ${i}` : long('a')));
  assert.equal(new Set(served.map((x) => x.project)).size, 1, JSON.stringify(served));
  assert.equal(served[0].cached, 0);
  for (const x of served.slice(1)) assert.ok(x.cached >= 1100, JSON.stringify(x));

  // the statistics show the cached tokens and their share
  const range = `from=${from}&to=${new Date(Date.now() + 60e3).toISOString()}`;
  await waitUntil(async () => {
    const rows = (await s.api(`/api/stats/usage?${range}&group_by=none&bucket=hour`)).body.rows;
    return rows.reduce((n, x) => n + x.requests, 0) >= 10 && rows.reduce((n, x) => n + x.tokens.cached, 0) >= 9 * 1100;
  }, { what: 'cached tokens in the statistics' });
  const rows = (await s.api(`/api/stats/usage?${range}&group_by=none&bucket=hour`)).body.rows;
  assert.ok(rows.some((x) => x.cached_share > 0.5), JSON.stringify(rows));

  // out of quota: the conversation moves to another project, and stays there
  const first = served[0].project;
  const key = Object.keys(projectOf).find((k) => projectOf[k] === first);
  await s.script({ key, fault: 'quota_minute', count: 1, retry_delay: '30s' });
  const moved = await turn(history, 'after the quota');
  assert.notEqual(moved.project, first);
  for (let i = 0; i < 3; i++) assert.equal((await turn(history, `again ${i}`)).project, moved.project);
});

test('an explicit X-Sb-Conversation header; with the setting off, turns spread over the projects', async () => {
  const byHeader = async (id, text) => {
    const before = (await s.stats()).log.length;
    const r = await fetch(`${s.url}/v1beta/models/${FLASH}:generateContent`, {
      method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json', 'x-sb-conversation': id },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
    });
    assert.equal(r.status, 200);
    return projectOf[(await s.stats()).log.slice(before).at(-1).key];
  };
  const got = new Set();
  for (let i = 0; i < 6; i++) got.add(await byHeader('thread-42', `different text ${i}`));
  assert.equal(got.size, 1);

  assert.equal((await s.api('/api/settings', { method: 'PUT', body: { sticky_conversations: false } })).status, 200);
  const history = [];
  const spread = new Set();
  for (let i = 0; i < 8; i++) spread.add((await turn(history, i ? `turn ${i}` : long('b'))).project);
  assert.ok(spread.size > 1, 'without the setting the pool rotates projects');
});
