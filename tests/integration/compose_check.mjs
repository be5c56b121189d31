// Run by make compose-test against compose.yaml in containers: the official SDKs through both
// edges, then a mixed load during which one forwarder container is stopped (SIGTERM: it drains).
// Env: SB_EDGES (comma-separated base URLs), SB_TOKEN, SB_FORWARDER (the container to stop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';

const EDGES = process.env.SB_EDGES.split(',');
const TOKEN = process.env.SB_TOKEN;
const MODEL = 'gemini-2.5-flash';
const WORDS = Array.from({ length: 20 }, (_, i) => `w${i + 1}`).join(' ');

test('the official SDKs succeed through both edges', async () => {
  for (const url of EDGES) {
    const g = new GoogleGenAI({ apiKey: TOKEN, httpOptions: { baseUrl: url } });
    const r = await g.models.generateContent({ model: MODEL, contents: 'hello compose' });
    assert.equal(r.text, 'Echo: hello compose');
    let streamed = '';
    for await (const c of await g.models.generateContentStream({ model: MODEL, contents: 'a b c' })) streamed += c.text ?? '';
    assert.equal(streamed, 'Echo: a b c');
    const o = new OpenAI({ apiKey: TOKEN, baseURL: `${url}/v1` });
    const chat = await o.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi there' }] });
    assert.match(chat.choices[0].message.content, /hi there/);
  }
});

test('stopping a forwarder mid-load fails no request and cuts no stream', async () => {
  const results = [];
  let stopped = false;
  const one = async (i) => {
    const url = EDGES[i % EDGES.length];
    const g = new GoogleGenAI({ apiKey: TOKEN, httpOptions: { baseUrl: url } });
    const started = Date.now();
    try {
      if (i % 2) {
        let text = '', finish = null;
        for await (const c of await g.models.generateContentStream({ model: MODEL, contents: `${i} ${WORDS}` })) {
          text += c.text ?? '';
          finish = c.candidates?.[0]?.finishReason ?? finish;
        }
        results.push({ i, ok: text === `Echo: ${i} ${WORDS}` && finish === 'STOP', kind: 'stream', text: text.slice(-40), finish, started, stopped });
      } else {
        const r = await g.models.generateContent({ model: MODEL, contents: `plain ${i}` });
        results.push({ i, ok: r.text === `Echo: plain ${i}`, kind: 'plain', started, stopped });
      }
    } catch (e) {
      results.push({ i, ok: false, error: String(e).slice(0, 200), started, stopped });
    }
  };
  const load = [];
  for (let i = 0; i < 120; i++) {
    load.push(one(i));
    if (i === 40) {
      await new Promise((r) => setTimeout(r, 500)); // streams are in flight on both forwarders
      execSync(`podman stop -t 60 ${process.env.SB_FORWARDER} >/dev/null 2>&1 &`);
      stopped = true;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  await Promise.all(load);
  const failed = results.filter((r) => !r.ok);
  console.log(`requests ${results.length}, streams ${results.filter((r) => r.kind === 'stream').length}, failed ${failed.length}`);
  assert.deepEqual(failed, [], 'no request failed, no stream was cut');
  assert.equal(results.length, 120);
  assert.ok(results.filter((r) => r.stopped).length >= 60, 'load went on after the stop');
  // the forwarder really stopped, by draining what it carried, and exited cleanly
  const state = execSync(`podman inspect -f '{{.State.Status}} {{.State.ExitCode}}' ${process.env.SB_FORWARDER}`).toString().trim();
  assert.equal(state, 'exited 0');
  const logs = execSync(`podman logs ${process.env.SB_FORWARDER} 2>&1`).toString();
  const drained = logs.match(/event=draining inflight=(\d+)/);
  assert.ok(drained, 'the forwarder drained');
  console.log(`the stopped forwarder had ${drained[1]} transfers in hand`);
  assert.doesNotMatch(logs, /drain\.timeout/);
});
