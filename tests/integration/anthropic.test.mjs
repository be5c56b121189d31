// The official @anthropic-ai/sdk, unmodified, with baseURL = the edge: messages (plain, stream,
// tools with Gemini 3 thought signatures, thinking, images), count_tokens, models, errors, a
// mid-stream failure, and a Claude-Code-shaped request (tests/fixtures/anthropic).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { Stack, waitUntil } from './harness.mjs';

const KA = 'key-alpha-0000000001';
const KB = 'key-bravo-0000000002';
const FLASH = 'gemini-2.5-flash';
const G3 = 'gemini-3-flash-preview';
const FAKE_SIG = 'c2lnbmF0dXJlLWZha2UtMDAx';
const CLAUDE_CODE = JSON.parse(readFileSync(new URL('../fixtures/anthropic/claude-code-request.json', import.meta.url)));
const s = new Stack();
let ai;

before(async () => {
  await s.start(`pa:${KA},pb:${KB}`, { fwdEnv: { FWD_KEEPALIVE_MS: '200' } });
  ai = new Anthropic({ apiKey: s.token, baseURL: s.url, maxRetries: 0 });
});
after(async () => { await s.stop(); });

const lastBody = async () => JSON.parse((await s.stats()).last_body);
const post = (path, body, headers = {}) => fetch(`${s.url}${path}`, {
  method: 'POST', headers: { 'x-api-key': s.token, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
// SSE events of a raw answer: [{event, data}]
const events = (text) => text.split('\n\n').filter(Boolean).map((blk) => {
  const ev = /^event: (.*)$/m.exec(blk)?.[1];
  const data = /^data: (.*)$/m.exec(blk)?.[1];
  return { event: ev, data: data && JSON.parse(data) };
});

test('message (non-stream): text, stop_reason, usage; system and options reach Gemini', async () => {
  const r = await ai.messages.create({
    model: FLASH, max_tokens: 50, system: 'be brief', temperature: 0.5, top_p: 0.9, top_k: 20,
    stop_sequences: ['END'], metadata: { user_id: 'u1' },
    messages: [{ role: 'user', content: 'hello there' }],
  });
  assert.equal(r.type, 'message');
  assert.match(r.id, /^msg_/);
  assert.equal(r.role, 'assistant');
  assert.equal(r.model, FLASH);
  assert.deepEqual(r.content, [{ type: 'text', text: 'Echo: hello there' }]);
  assert.equal(r.stop_reason, 'end_turn');
  assert.equal(r.stop_sequence, null);
  // the fake counts 7 thought tokens outside candidatesTokenCount; Anthropic counts them in output
  assert.equal(r.usage.output_tokens, 3 + 7);
  assert.equal(r.usage.input_tokens, 2);
  assert.equal(r.usage.cache_read_input_tokens, 0);
  const sent = await lastBody();
  assert.deepEqual(sent.systemInstruction, { parts: [{ text: 'be brief' }] });
  assert.deepEqual(sent.generationConfig, { maxOutputTokens: 50, temperature: 0.5, topP: 0.9, topK: 20, stopSequences: ['END'] });
  assert.deepEqual(sent.contents, [{ role: 'user', parts: [{ text: 'hello there' }] }]);
});

test('stream: the SDK reads text deltas and the final message; the raw event sequence is Anthropic\'s', async () => {
  const stream = ai.messages.stream({ model: FLASH, max_tokens: 100, messages: [{ role: 'user', content: 'one two three' }] });
  const deltas = [];
  stream.on('text', (t) => deltas.push(t));
  const msg = await stream.finalMessage();
  assert.equal(deltas.join(''), 'Echo: one two three');
  assert.ok(deltas.length >= 4, 'one delta per upstream chunk');
  assert.deepEqual(msg.content, [{ type: 'text', text: 'Echo: one two three' }]);
  assert.equal(msg.stop_reason, 'end_turn');
  assert.equal(msg.usage.output_tokens, 4 + 7);

  const raw = await post('/v1/messages', { model: FLASH, max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi you' }] });
  assert.equal(raw.status, 200);
  assert.match(raw.headers.get('content-type'), /^text\/event-stream/);
  const ev = events(await raw.text());
  assert.deepEqual(ev.map((e) => e.event), ['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta',
    'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  for (const e of ev) assert.equal(e.data.type, e.event);
  assert.deepEqual(ev[1].data.content_block, { type: 'text', text: '' });
  assert.equal(ev[0].data.message.usage.input_tokens, 2);
  assert.deepEqual(ev[6].data.delta, { stop_reason: 'end_turn', stop_sequence: null });
  assert.equal(ev[6].data.usage.output_tokens, 3 + 7);
});

test('two-turn tool use on Gemini 3: the thought signature rides a thinking block and goes back with the call', async () => {
  const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } }];
  const messages = [{ role: 'user', content: 'use the tool for Paris' }];
  const r1 = await ai.messages.create({ model: G3, max_tokens: 200, messages, tools, tool_choice: { type: 'tool', name: 'get_weather' } });
  assert.equal(r1.stop_reason, 'tool_use');
  assert.equal(r1.content.length, 2);
  assert.deepEqual(r1.content[0], { type: 'thinking', thinking: '', signature: `gemini.${FAKE_SIG}` });
  const call = r1.content[1];
  assert.equal(call.type, 'tool_use');
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(call.input, { input: 'use the tool for Paris' });
  let sent = await lastBody();
  assert.deepEqual(sent.toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } });
  const decl = sent.tools[0].functionDeclarations[0];
  assert.equal(decl.parametersJsonSchema.$schema, undefined, '$schema dropped');
  assert.ok(decl.parametersJsonSchema.properties.input);

  // turn two: the assistant content as the SDK returned it, then the tool result
  messages.push({ role: 'assistant', content: r1.content });
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '{"temp_c": 21}' }, { type: 'text', text: 'and now say thanks' }] });
  const r2 = await ai.messages.create({ model: G3, max_tokens: 200, messages, tools });
  assert.equal(r2.stop_reason, 'end_turn');
  assert.deepEqual(r2.content, [{ type: 'text', text: 'Echo: and now say thanks' }]);
  sent = await lastBody();
  assert.deepEqual(sent.contents[1], { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { input: 'use the tool for Paris' } }, thoughtSignature: FAKE_SIG }] });
  assert.deepEqual(sent.contents[2].parts, [{ functionResponse: { name: 'get_weather', response: { temp_c: 21 } } }, { text: 'and now say thanks' }]);

  // the same exchange streamed: the tool input arrives as input_json_delta and the SDK parses it
  const st = ai.messages.stream({ model: G3, max_tokens: 200, messages: [{ role: 'user', content: 'use a tool' }], tools });
  const fin = await st.finalMessage();
  assert.equal(fin.stop_reason, 'tool_use');
  assert.equal(fin.content[0].signature, `gemini.${FAKE_SIG}`);
  assert.deepEqual(fin.content[1].input, { input: 'use a tool' });

  // a client that drops the thinking block: the fake rejects a call without a signature as
  // Google does, and the gateway sends Google's documented stand-in instead of failing
  const bare = [messages[0], { role: 'assistant', content: [call] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny', is_error: false }] }];
  const r3 = await ai.messages.create({ model: G3, max_tokens: 100, messages: bare, tools });
  assert.equal(r3.stop_reason, 'end_turn');
  sent = await lastBody();
  assert.notEqual(sent.contents[1].parts[0].thoughtSignature, FAKE_SIG);
  assert.ok(sent.contents[1].parts[0].thoughtSignature.length > 10);
  assert.deepEqual(sent.contents[2].parts[0].functionResponse.response, { output: 'sunny' });

  // a tool_result naming no earlier tool_use is refused in Anthropic's shape
  await assert.rejects(ai.messages.create({ model: G3, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_nope', content: 'x' }] }] }),
    (e) => e instanceof Anthropic.BadRequestError && e.error.error.type === 'invalid_request_error' && /tool_use_id/.test(e.message));
});

test('thinking: enabled with a budget shows thought text in a thinking block (stream and not)', async () => {
  const body = { model: FLASH, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'think first' }] };
  const r = await ai.messages.create(body);
  assert.equal(r.content[0].type, 'thinking');
  assert.match(r.content[0].thinking, /Thinking it over/);
  assert.deepEqual(r.content[1], { type: 'text', text: 'Echo: think first' });
  const sent = await lastBody();
  assert.deepEqual(sent.generationConfig.thinkingConfig, { includeThoughts: true, thinkingBudget: 2048 });

  const thoughts = [];
  const st = ai.messages.stream(body);
  st.on('thinking', (t) => thoughts.push(t));
  const fin = await st.finalMessage();
  assert.match(thoughts.join(''), /Thinking it over/);
  assert.deepEqual(fin.content.map((b) => b.type), ['thinking', 'text']);
  assert.equal(fin.content[1].text, 'Echo: think first');

  // disabled on 2.5 Flash: no thinking at all
  await ai.messages.create({ ...body, thinking: { type: 'disabled' } });
  assert.deepEqual((await lastBody()).generationConfig.thinkingConfig, { includeThoughts: false, thinkingBudget: 0 });
});

test('an image (base64 and URL) and a PDF document reach Gemini as parts', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
  const r = await ai.messages.create({
    model: FLASH, max_tokens: 50,
    messages: [{ role: 'user', content: [
      { type: 'text', text: 'what is this' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.webp' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' } },
    ] }],
  });
  assert.equal(r.content[0].text, 'Echo: what is this [image/png] [image/webp] [application/pdf]');
  const sent = await lastBody();
  assert.deepEqual(sent.contents[0].parts.slice(1), [
    { inlineData: { mimeType: 'image/png', data: png } },
    { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp' } },
    { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0xLjQK' } },
  ]);
});

test('count_tokens, models (list and one) in Anthropic\'s shape', async () => {
  const c = await ai.messages.countTokens({ model: FLASH, system: 'sys', messages: [{ role: 'user', content: 'a b c d' }] });
  const sent = await lastBody();
  assert.equal(sent.generateContentRequest.model, `models/${FLASH}`);
  assert.deepEqual(sent.generateContentRequest.systemInstruction, { parts: [{ text: 'sys' }] });
  assert.equal(c.input_tokens, 5);

  const ids = [];
  for await (const m of ai.models.list()) { assert.equal(m.type, 'model'); ids.push(m.id); }
  assert.ok(ids.includes(FLASH) && ids.includes(G3));
  assert.ok(!ids.includes('gemini-embedding-001'), 'only models that generate');
  const one = await ai.models.retrieve(FLASH);
  assert.deepEqual(one, { type: 'model', id: FLASH, display_name: 'Gemini 2.5 Flash', created_at: '1970-01-01T00:00:00Z' });
  // a Google client on the same path still gets Gemini's list
  const g = await (await fetch(`${s.url}/v1/models`, { headers: { 'x-goog-api-key': s.token } })).json();
  assert.ok(Array.isArray(g.models));
});

test('errors: bad key, unknown model, bad request, quota, empty answers; a mid-stream failure raises with no repeated text', async () => {
  const bad = new Anthropic({ apiKey: 'not-a-token', baseURL: s.url, maxRetries: 0 });
  await assert.rejects(bad.messages.create({ model: FLASH, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.AuthenticationError && e.error.error.type === 'authentication_error');
  const r = await fetch(`${s.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.type, 'authentication_error');
  await assert.rejects(ai.messages.create({ model: 'claude-nope-1', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error' && /claude-nope-1/.test(e.message));
  await assert.rejects(ai.messages.create({ model: FLASH, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /max_tokens/.test(e.message));
  await assert.rejects(ai.messages.create({ model: FLASH, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'thinking', thinking: 'x', signature: 'y' }] }] }),
    (e) => e instanceof Anthropic.BadRequestError && /messages\.0\.content\.0/.test(e.message));
  await assert.rejects(ai.messages.create({ model: FLASH, max_tokens: 5, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'bash_20250124', name: 'bash' }] }),
    (e) => e instanceof Anthropic.BadRequestError && /tools\.0\.type/.test(e.message));
  const junk = await post('/v1/messages', 'not json');
  assert.equal(junk.status, 400);
  assert.deepEqual(Object.keys(await junk.json()), ['type', 'error']);

  // quota on every key: RateLimitError with retry-after
  const LITE = 'gemini-2.5-flash-lite';
  for (const k of [KA, KB]) await s.script({ key: k, model: LITE, fault: 'quota_minute', retry_delay: '17s', count: 1 });
  await assert.rejects(ai.messages.create({ model: LITE, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.ok(e instanceof Anthropic.RateLimitError, String(e));
    assert.equal(e.error.error.type, 'rate_limit_error');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
    return true;
  });

  // one key answers empty: the client gets the other key's answer, stream or not
  await s.fakeReset();
  await s.script({ key: KA, model: FLASH, fault: 'empty', count: 1 });
  await s.script({ key: KB, model: FLASH, fault: 'empty', count: 1 });
  await assert.rejects(ai.messages.create({ model: FLASH, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof Anthropic.InternalServerError && /empty answer/.test(e.message));
  await s.script({ key: KA, model: FLASH, fault: 'empty', count: 1 });
  const text = await ai.messages.stream({ model: FLASH, max_tokens: 50, messages: [{ role: 'user', content: 'after empty' }] }).finalText();
  assert.equal(text, 'Echo: after empty');
  await s.fakeReset();

  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'midstream', after: 2, count: 1 });
  const got = [];
  const st = ai.messages.stream({ model: FLASH, max_tokens: 50, messages: [{ role: 'user', content: 'a b c d e f' }] });
  st.on('text', (t) => got.push(t));
  await assert.rejects(st.finalMessage(), (e) => e instanceof Anthropic.APIError && /mid-stream/.test(e.message));
  assert.deepEqual(got, ['Echo: ', 'a ']);
  await s.fakeReset();
});

test('a stream whose upstream thinks in silence gets ping events, and the SDK reads on', async () => {
  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'stall', after: 0, ms: 900, count: 1 });
  const raw = await post('/v1/messages', { model: FLASH, max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'slow one' }] });
  const ev = events(await raw.text());
  assert.equal(ev[0].event, 'ping');
  assert.deepEqual(ev[0].data, { type: 'ping' });
  assert.equal(ev.at(-1).event, 'message_stop');
  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'stall', after: 0, ms: 900, count: 1 });
  assert.equal(await ai.messages.stream({ model: FLASH, max_tokens: 50, messages: [{ role: 'user', content: 'slow two' }] }).finalText(), 'Echo: slow two');
  await s.fakeReset();
});

test('a Claude-Code-shaped request passes through, under /anthropic/v1 too, and streams back what the SDK accepts', async () => {
  // the README's alias set for Claude Code: its model names by prefix, the exact name first
  s.session = await s.login();
  const aliases = { 'claude-sonnet-*': G3, 'claude-haiku-*': FLASH, 'claude-sonnet-4-5-20250929': G3 };
  const put = await s.api('/api/settings', { method: 'PUT', body: { aliases: { ...aliases, 'claude-*': 'gemini-2.5-pro' } } });
  assert.equal(put.status, 200, put.text);
  const { model, messages, ...rest } = CLAUDE_CODE.body;
  await waitUntil(async () => (await post('/v1/messages/count_tokens', { model, messages: [{ role: 'user', content: 'x' }] })).status === 200);
  await ai.messages.create({ model: 'claude-haiku-4-5-20251001', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  assert.equal((await s.stats()).log.at(-1).model, FLASH);
  await ai.messages.create({ model: 'claude-opus-4-1', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  assert.equal((await s.stats()).log.at(-1).model, 'gemini-2.5-pro');
  const cc = new Anthropic({ apiKey: s.token, baseURL: `${s.url}/anthropic`, maxRetries: 0, defaultHeaders: CLAUDE_CODE.headers });
  const st = cc.messages.stream({ model, messages, ...rest });
  const fin = await st.finalMessage();
  assert.equal(fin.model, model, 'the model as the client named it');
  assert.equal(fin.stop_reason, 'tool_use');
  const use = fin.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'Task', 'the first declared tool, as the fake calls it');
  assert.deepEqual(use.input, { input: 'now use a tool to look for TODO markers' });
  const sent = await lastBody();
  assert.equal(sent.systemInstruction.parts.length, 2);
  assert.equal(sent.tools[0].functionDeclarations.length, 16);
  assert.ok(sent.tools[0].functionDeclarations.every((d) => !('$schema' in (d.parametersJsonSchema ?? {}))));
  assert.deepEqual(sent.generationConfig.thinkingConfig, { thinkingLevel: 'high', includeThoughts: true });
  assert.deepEqual(sent.toolConfig, { functionCallingConfig: { mode: 'AUTO' } });
  // the history's thinking block holds Anthropic's signature, which Gemini would refuse: the
  // call gets Google's stand-in, the text part none
  const hist = sent.contents[1];
  assert.equal(hist.role, 'model');
  assert.deepEqual(hist.parts[0], { text: "I'll list the files." });
  assert.equal(hist.parts[1].functionCall.name, 'Bash');
  assert.ok(hist.parts[1].thoughtSignature && !hist.parts[1].thoughtSignature.startsWith('ErUB'));
  assert.deepEqual(sent.contents[2].parts[0], { functionResponse: { name: 'Bash', response: { output: 'README.md\nsrc\ntests' } } });
  await s.api('/api/settings', { method: 'PUT', body: { aliases: null } });
});
