// The official @google/genai SDK, unmodified, pointed at the edge with httpOptions.baseUrl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GoogleGenAI } from '@google/genai';
import { Stack } from './harness.mjs';

const s = new Stack();
let ai;

before(async () => {
  await s.start('pa:key-alpha-0000000001,pb:key-bravo-0000000002', { fwdEnv: { FWD_KEEPALIVE_MS: '200' } });
  ai = new GoogleGenAI({ apiKey: s.token, httpOptions: { baseUrl: s.url } });
});
after(async () => { await s.stop(); });

test('generateContent', async () => {
  const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello from the sdk' });
  assert.equal(r.text, 'Echo: hello from the sdk');
  assert.equal(r.candidates[0].finishReason, 'STOP');
  assert.ok(r.usageMetadata.totalTokenCount > 0);
});

test('generateContentStream', async () => {
  const parts = [];
  for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'one two three' })) {
    parts.push(c.text);
  }
  assert.equal(parts.length, 4);
  assert.equal(parts.join(''), 'Echo: one two three');
});

test('generateContentStream reads on through keep-alives and past an empty answer', async () => {
  await s.fakeReset();
  for (const k of ['key-alpha-0000000001', 'key-bravo-0000000002']) await s.script({ key: k, model: 'gemini-2.5-flash', fault: 'stall', after: 0, ms: 700, count: 1 });
  let text = '';
  for await (const c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'slow one' })) text += c.text ?? '';
  assert.equal(text, 'Echo: slow one');
  await s.fakeReset();
  await s.script({ key: 'key-alpha-0000000001', model: 'gemini-2.5-flash', fault: 'empty', count: 1 });
  const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'after empty' });
  assert.equal(r.text, 'Echo: after empty');
  await s.fakeReset();
});

test('countTokens', async () => {
  const r = await ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'a b c d' });
  assert.equal(r.totalTokens, 4);
});

test('embedContent', async () => {
  const r = await ai.models.embedContent({ model: 'gemini-embedding-001', contents: ['first text', 'second text'], config: { outputDimensionality: 16 } });
  assert.equal(r.embeddings.length, 2);
  assert.equal(r.embeddings[0].values.length, 16);
  assert.notDeepEqual(r.embeddings[0].values, r.embeddings[1].values);
});

test('models list and get', async () => {
  const pager = await ai.models.list({ config: { pageSize: 3 } });
  const names = [];
  for await (const m of pager) names.push(m.name);
  assert.ok(names.length >= 6, 'paged through every model');
  assert.ok(names.includes('models/gemini-2.5-flash'));
  const m = await ai.models.get({ model: 'gemini-2.5-pro' });
  assert.equal(m.name, 'models/gemini-2.5-pro');
});

test('errors surface as ApiError with Google status', async () => {
  await assert.rejects(ai.models.generateContent({ model: 'gemini-0-nope', contents: 'x' }), (e) => e.status === 404);
  const bad = new GoogleGenAI({ apiKey: 'not-a-token', httpOptions: { baseUrl: s.url } });
  await assert.rejects(bad.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }), (e) => e.status === 401);
});
