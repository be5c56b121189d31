// Ground truth: the real Gemini traffic in shared/fixtures/gemini-recordings. Every recorded
// gemini-2.5-flash request is replayed through the gateway; the fake upstream's answers must have
// the recorded shape (fields, types, usage arithmetic, stream framing), and request bodies must
// reach the upstream byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
import { Stack, sseEvents } from './harness.mjs';

// a copy lives in the repository (tests/fixtures), so a clean clone needs nothing beside it
const DIR = [process.env.SB_RECORDINGS, path.resolve(HERE, '../fixtures/gemini-recordings'),
  path.resolve(HERE, '../../../shared/fixtures/gemini-recordings')].find((d) => d && existsSync(d));
const recs = readdirSync(DIR).filter((f) => f.endsWith('.json')).map((f) => ({ f, d: JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) }))
  .flatMap(({ f, d }) => d.interactions.map((it) => ({ f, it })))
  .filter(({ it }) => it.response.statusCode === 200 && /^\/v1beta\/models\/gemini-2\.5-flash:/.test(it.request.url))
  // one recorded stream is empty (Content-Length: 0, no events): the gateway reports such a stream
  // as truncated, which stream.test.mjs covers; it has no shape to compare here
  .filter(({ it }) => (it.response.bodySegments ?? []).length > 0);

const typeOf = (v) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
const union = (objs) => new Map(objs.flatMap((o) => Object.entries(o ?? {}).map(([k, v]) => [k, typeOf(v)])));
const recorded = recs.flatMap(({ it }) => it.response.bodySegments ?? []).filter((b) => b.candidates);
const TOP = union(recorded);
const CAND = union(recorded.map((b) => b.candidates[0]));
const USAGE = union(recorded.map((b) => b.usageMetadata));
const PART = union(recorded.flatMap((b) => b.candidates[0].content?.parts ?? []));

function sameShape(resp, where) {
  const check = (obj, known, what) => {
    for (const [k, v] of Object.entries(obj ?? {})) {
      assert.ok(known.has(k), `${where}: ${what}.${k} never appears in the recordings`);
      assert.equal(typeOf(v), known.get(k), `${where}: ${what}.${k} has another type than recorded`);
    }
  };
  check(resp, TOP, 'response');
  check(resp.candidates[0], CAND, 'candidate');
  check(resp.usageMetadata, USAGE, 'usageMetadata');
  for (const p of resp.candidates[0].content?.parts ?? []) check(p, PART, 'part');
  const u = resp.usageMetadata;
  assert.equal(u.totalTokenCount, u.promptTokenCount + (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0),
    `${where}: thoughts are counted outside candidatesTokenCount, as recorded`);
}

const s = new Stack();
before(async () => { await s.start('pa:key-alpha-0000000001'); });
after(async () => { await s.stop(); });

test('the recordings themselves obey the invariants the fake is checked for', () => {
  assert.ok(recs.length >= 8, `found ${recs.length} recorded interactions in ${DIR}`);
  for (const b of recorded) {
    const u = b.usageMetadata;
    assert.equal(u.totalTokenCount, u.promptTokenCount + (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0));
  }
});

for (const { f, it } of recs) {
  test(`replay ${f.replace(/^Client_Tests_|\.json$/g, '')}`, async () => {
    const body = JSON.stringify(it.request.bodySegments[0], null, 1);
    const r = await fetch(s.url + it.request.url, {
      method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' }, body,
    });
    assert.equal(r.status, 200, await r.clone().text());
    const st = await s.stats();
    assert.equal(st.last_body, body, 'the body reached the upstream byte for byte');
    if (it.request.url.includes(':streamGenerateContent')) {
      assert.equal(r.headers.get('content-type'), 'text/event-stream');
      const raw = await r.text();
      const chunks = sseEvents(raw).map((e) => JSON.parse(e));
      assert.ok(chunks.length >= 1);
      chunks.forEach((c, i) => sameShape(c, `${f} chunk ${i}`));
      assert.ok(chunks.every((c) => c.responseId === chunks[0].responseId));
      assert.ok(chunks.slice(0, -1).every((c) => !c.candidates[0].finishReason), 'finishReason only in the last chunk');
      assert.ok(chunks.at(-1).candidates[0].finishReason);
      // (Google's own streams may also carry STOP mid-stream: the server-side MCP recording marks
      // its tool call that way; the forwarder therefore uses the latest chunk's finish reason.)
    } else if (it.request.url.includes(':generateContent')) {
      const resp = await r.json();
      sameShape(resp, f);
      const rec = it.response.bodySegments[0];
      const recCall = rec.candidates[0].content?.parts?.find((p) => p.functionCall);
      const mode = it.request.bodySegments[0].toolConfig?.functionCallingConfig?.mode;
      if (recCall && mode === 'ANY') {
        const call = resp.candidates[0].content.parts.find((p) => p.functionCall);
        assert.ok(call, 'a forced tool call is answered with a functionCall part');
        assert.equal(typeof call.thoughtSignature, 'string');
        assert.equal(resp.candidates[0].finishReason, 'STOP', 'function calls finish with STOP, as recorded');
      }
    } else if (it.request.url.includes(':countTokens')) {
      const resp = await r.json();
      assert.equal(typeof resp.totalTokens, 'number');
    }
  });
}

test('odd but valid JSON passes through untouched and no client credential reaches Google', async () => {
  const body = '{\n  "contents" : [ {"role":"user","parts":[{"text":"caf\\u00e9 \\"q\\" \\ud83d\\ude00"}]} ],\n' +
    '"generationConfig":{"temperature":5e-1 ,"maxOutputTokens":100},\t"safetySettings":[]}  ';
  const r = await fetch(`${s.url}/v1beta/models/gemini-2.5-flash:generateContent?key=${s.token}`, {
    method: 'POST', headers: { authorization: `Bearer ${s.token}` }, body,
  });
  // the fake answers 401 to any Authorization header and 400 to an unknown key, as Google does
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await s.stats()).last_body, body);
});
