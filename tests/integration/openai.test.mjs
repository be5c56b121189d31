// The official openai npm SDK, unmodified, with baseURL = edge + /v1: chat (plain, stream, tools
// with Gemini 3 thought signatures, JSON schema, images), embeddings, models, images.generate,
// files.create and errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { Stack, waitUntil } from './harness.mjs';

const KA = 'key-alpha-0000000001';
const KB = 'key-bravo-0000000002';
const FLASH = 'gemini-2.5-flash';
const G3 = 'gemini-3-flash-preview';
const FAKE_SIG = 'c2lnbmF0dXJlLWZha2UtMDAx';
const s = new Stack();
let ai;

before(async () => {
  // two keys in two projects: an empty answer from one fails over to the other
  // forwarders report a silent upstream every 200 ms (keep-alive comments)
  await s.start(`pa:${KA},pb:${KB}`, { fwdEnv: { FWD_KEEPALIVE_MS: '200' } });
  ai = new OpenAI({ apiKey: s.token, baseURL: `${s.url}/v1`, maxRetries: 0 });
});
after(async () => { await s.stop(); });

const lastBody = async () => JSON.parse((await s.stats()).last_body);

test('chat completion (non-stream): content, finish_reason, usage with reasoning tokens', async () => {
  const r = await ai.chat.completions.create({
    model: FLASH,
    messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }],
    temperature: 0.5, max_completion_tokens: 50, stop: ['END'],
  });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, 'Echo: hello there');
  assert.equal(r.choices[0].finish_reason, 'stop');
  // the fake counts 7 thought tokens outside candidatesTokenCount; OpenAI counts them inside
  assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 7);
  assert.equal(r.usage.completion_tokens, 3 + 7);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  const sent = await lastBody();
  assert.deepEqual(sent.systemInstruction, { parts: [{ text: 'be brief' }] });
  assert.deepEqual(sent.generationConfig, { temperature: 0.5, maxOutputTokens: 50, stopSequences: ['END'] });
});

test('stream with include_usage: deltas, one finish, a usage chunk, [DONE]', async () => {
  const stream = await ai.chat.completions.create({
    model: FLASH, stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'one two three' }],
  });
  const chunks = [];
  for await (const ch of stream) chunks.push(ch);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, 'Echo: one two three');
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(finishes.length, 1);
  assert.equal(finishes[0].choices[0].finish_reason, 'stop');
  const last = chunks[chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 4 + 7);
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
  // raw framing: [DONE] ends it
  const raw = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: FLASH, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(raw.headers.get('content-type'), 'text/event-stream');
  const body = await raw.text();
  assert.ok(body.endsWith('data: [DONE]\n\n'));
  assert.ok(!body.includes('"usage"'), 'no usage without include_usage');
});

test('two-turn tool call on Gemini 3: the thought signature goes back with the call', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] }, strict: true } }];
  const messages = [{ role: 'user', content: 'use the tool for Paris' }];
  const r1 = await ai.chat.completions.create({ model: G3, messages, tools, tool_choice: 'required' });
  const msg = r1.choices[0].message;
  assert.equal(r1.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.tool_calls.length, 1);
  assert.equal(msg.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(msg.tool_calls[0].function.arguments), { input: 'use the tool for Paris' });
  assert.equal(msg.tool_calls[0].extra_content.google.thought_signature, FAKE_SIG);
  let sent = await lastBody();
  assert.deepEqual(sent.toolConfig, { functionCallingConfig: { mode: 'ANY' } });
  assert.ok(sent.tools[0].functionDeclarations[0].parametersJsonSchema.properties.input);

  // turn two: the assistant message goes back as the SDK returned it, then the tool result
  messages.push(msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '{"temp_c": 21}' });
  messages.push({ role: 'user', content: 'and now say thanks' });
  const r2 = await ai.chat.completions.create({ model: G3, messages, tools });
  assert.equal(r2.choices[0].finish_reason, 'stop');
  assert.equal(r2.choices[0].message.content, 'Echo: and now say thanks');
  sent = await lastBody();
  const model = sent.contents[1];
  assert.equal(model.role, 'model');
  assert.equal(model.parts[0].functionCall.name, 'get_weather');
  assert.equal(model.parts[0].thoughtSignature, FAKE_SIG);
  assert.deepEqual(sent.contents[2].parts[0], { functionResponse: { name: 'get_weather', response: { temp_c: 21 } } });

  // a client that drops extra_content: the fake rejects a missing signature as Google does,
  // and the gateway sends Google's documented stand-in instead of failing the call
  const bare = { role: 'assistant', content: null, tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] };
  const r3 = await ai.chat.completions.create({ model: G3, tools, messages: [messages[0], bare, { role: 'tool', tool_call_id: 'call_x', content: 'sunny' }] });
  assert.equal(r3.choices[0].finish_reason, 'stop');
  sent = await lastBody();
  assert.ok(sent.contents[1].parts[0].thoughtSignature.length > 10);
  assert.deepEqual(sent.contents[2].parts[0].functionResponse.response, { output: 'sunny' });
});

test('tool call in a stream: one delta with index, id and the signature; finish tool_calls', async () => {
  const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { input: { type: 'string' } } } } }];
  const stream = await ai.chat.completions.create({ model: G3, stream: true, tools, messages: [{ role: 'user', content: 'use a tool' }] });
  const chunks = [];
  for await (const ch of stream) chunks.push(ch);
  const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].index, 0);
  assert.equal(calls[0].function.name, 'lookup');
  assert.equal(calls[0].extra_content.google.thought_signature, FAKE_SIG);
  assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'tool_calls');
});

test('json_schema response_format: Gemini JSON mode with the schema, parseable output', async () => {
  const schema = { type: 'object', properties: { city: { type: 'string' }, rank: { type: 'integer' }, kind: { oneOf: [{ type: 'string', enum: ['big', 'small'] }, { type: 'null' }] } }, required: ['city', 'rank'], additionalProperties: false };
  const r = await ai.chat.completions.create({
    model: FLASH, messages: [{ role: 'user', content: 'a city' }],
    response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
  });
  const out = JSON.parse(r.choices[0].message.content);
  assert.equal(typeof out.city, 'string');
  assert.equal(out.rank, 42);
  assert.equal(out.kind, 'big');
  const sent = await lastBody();
  assert.equal(sent.generationConfig.responseMimeType, 'application/json');
  assert.deepEqual(sent.generationConfig.responseJsonSchema.properties.kind, { anyOf: schema.properties.kind.oneOf });
  const j = await ai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } });
  assert.deepEqual(JSON.parse(j.choices[0].message.content), { echo: 'x' });
});

test('an image data URL arrives as inlineData', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
  const r = await ai.chat.completions.create({
    model: FLASH,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] }],
  });
  assert.equal(r.choices[0].message.content, 'Echo: what is this [image/png]');
  const sent = await lastBody();
  assert.deepEqual(sent.contents[0].parts[1], { inlineData: { mimeType: 'image/png', data: png } });
});

test('embeddings: float and base64 (the SDK default) give the same vectors', async () => {
  const b = await ai.embeddings.create({ model: 'gemini-embedding-001', input: ['first text', 'second text'], dimensions: 16 });
  const f = await ai.embeddings.create({ model: 'gemini-embedding-001', input: ['first text', 'second text'], dimensions: 16, encoding_format: 'float' });
  assert.equal(b.data.length, 2);
  assert.equal(b.data[1].index, 1);
  assert.equal(b.data[0].embedding.length, 16);
  for (let i = 0; i < 2; i++) {
    for (let k = 0; k < 16; k++) assert.ok(Math.abs(b.data[i].embedding[k] - f.data[i].embedding[k]) < 1e-6);
  }
  assert.notDeepEqual(f.data[0].embedding, f.data[1].embedding);
  const sent = await lastBody();
  assert.equal(sent.requests.length, 2);
  assert.equal(sent.requests[0].outputDimensionality, 16);
  const raw = await fetch(`${s.url}/v1/embeddings`, {
    method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gemini-embedding-001', input: 'one', encoding_format: 'base64' }),
  });
  assert.equal(typeof (await raw.json()).data[0].embedding, 'string');
});

test('models: list with an alias and without a hidden model; retrieve; aliases and hidden models in calls', async () => {
  s.session = await s.login();
  const put = await s.api('/api/settings', { method: 'PUT', body: { aliases: { 'my-model': FLASH }, hidden_models: ['gemini-2.5-pro'] } });
  assert.equal(put.status, 200);
  await waitUntil(async () => {
    const ids = [];
    for await (const m of ai.models.list()) ids.push(m.id);
    return ids.includes('my-model') && !ids.includes('gemini-2.5-pro');
  }, { tries: 40, interval: 50, what: 'settings applied' });
  const ids = [];
  for await (const m of ai.models.list()) ids.push(m);
  assert.ok(ids.every((m) => m.object === 'model' && m.owned_by === 'google'));
  const names = ids.map((m) => m.id);
  assert.ok(names.includes(FLASH) && names.includes('gemini-embedding-001'));
  assert.ok(names.includes(`${FLASH}-search`) && names.includes(`${FLASH}-nothinking`));
  assert.ok(!names.includes('gemini-2.5-pro-search'));
  assert.equal((await ai.models.retrieve('my-model')).id, 'my-model');
  await assert.rejects(ai.models.retrieve('gemini-2.5-pro'), OpenAI.NotFoundError);
  const r = await ai.chat.completions.create({ model: 'my-model', messages: [{ role: 'user', content: 'via alias' }] });
  assert.equal(r.choices[0].message.content, 'Echo: via alias');
  await assert.rejects(ai.chat.completions.create({ model: 'gemini-2.5-pro', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  // the native list under /v1 still answers Gemini clients
  const native = await fetch(`${s.url}/v1/models`, { headers: { 'x-goog-api-key': s.token } });
  assert.ok(Array.isArray((await native.json()).models));
  // the same routes under /openai/v1
  const alt = new OpenAI({ apiKey: s.token, baseURL: `${s.url}/openai/v1`, maxRetries: 0 });
  assert.equal((await alt.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'alt' }] })).choices[0].message.content, 'Echo: alt');
  await s.api('/api/settings', { method: 'PUT', body: { aliases: null, hidden_models: null } });
});

test('derived names: -search adds googleSearch, -nothinking sets the budget to 0', async () => {
  await ai.chat.completions.create({ model: `${FLASH}-search`, messages: [{ role: 'user', content: 'x' }] });
  assert.deepEqual((await lastBody()).tools, [{ googleSearch: {} }]);
  await ai.chat.completions.create({ model: `${FLASH}-nothinking`, messages: [{ role: 'user', content: 'x' }] });
  assert.deepEqual((await lastBody()).generationConfig.thinkingConfig, { thinkingBudget: 0, includeThoughts: false });
  await ai.chat.completions.create({ model: G3, reasoning_effort: 'high', messages: [{ role: 'user', content: 'x' }] });
  assert.deepEqual((await lastBody()).generationConfig.thinkingConfig, { thinkingLevel: 'high', includeThoughts: true });
});

test('errors: bad token, bad request, refused parameters, quota with retry-after', async () => {
  const bad = new OpenAI({ apiKey: 'sb-not-a-token', baseURL: `${s.url}/v1`, maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'x' }] }), OpenAI.AuthenticationError);
  const broken = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body: '{"model":',
  });
  assert.equal(broken.status, 400);
  assert.deepEqual(await broken.json(), { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null } });
  await assert.rejects(ai.chat.completions.create({ model: FLASH, messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages');
  await assert.rejects(ai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'x' }], logit_bias: { 50256: -100 } }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'logit_bias' && /not supported/.test(e.message));
  await assert.rejects(ai.chat.completions.create({ model: FLASH, messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /tool_call_id/.test(e.message));

  // quota on every key (another model, so the other tests keep theirs)
  const LITE = 'gemini-2.5-flash-lite';
  for (const k of [KA, KB]) await s.script({ key: k, model: LITE, fault: 'quota_minute', retry_delay: '17s', count: 1 });
  await assert.rejects(ai.chat.completions.create({ model: LITE, messages: [{ role: 'user', content: 'x' }] }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, String(e));
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
    assert.match(e.message, /quota|cooling/i);
    return true;
  });
  // the per-day quota used up on every key: insufficient_quota, from Google's answer and then
  // from the pool's memory of it
  const DAY = 'gemini-2.0-flash';
  for (const k of [KA, KB]) await s.script({ key: k, model: DAY, fault: 'quota_day', count: 1 });
  for (let i = 0; i < 2; i++) {
    await assert.rejects(ai.chat.completions.create({ model: DAY, messages: [{ role: 'user', content: 'x' }] }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      assert.equal(e.code, 'insufficient_quota', `call ${i}: ${e.message}`);
      assert.equal(e.type, 'insufficient_quota');
      return true;
    });
  }
});

test('an empty answer is a failure worth another key; a mid-stream failure raises with no repeated text', async () => {
  const calls = async () => { const c = (await s.stats()).calls; return c[KA] + c[KB]; };
  // both keys answer empty once: the request tries both, then says so
  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'empty', count: 1 });
  const before = await calls();
  await assert.rejects(ai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 502 && /empty answer/.test(e.message) && e.type === 'server_error');
  assert.equal(await calls(), before + 2);
  // one key answers empty: whichever key comes first, the client gets the answer
  const reset = () => fetch(`${s.fakeUrl}/_fake/reset`, { method: 'POST' });
  for (let i = 0; i < 3; i++) {
    await reset();
    await s.script({ key: KA, model: FLASH, fault: 'empty', count: 1 });
    const r = await ai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'after empty' }] });
    assert.equal(r.choices[0].message.content, 'Echo: after empty');
    await reset();
    await s.script({ key: KA, model: FLASH, fault: 'empty', count: 1 });
    let text = '';
    for await (const ch of await ai.chat.completions.create({ model: FLASH, stream: true, messages: [{ role: 'user', content: 'stream after empty' }] })) {
      text += ch.choices[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'Echo: stream after empty');
  }
  await reset();

  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'midstream', after: 2, count: 1 });
  const got = [];
  await assert.rejects(async () => {
    for await (const ch of await ai.chat.completions.create({ model: FLASH, stream: true, messages: [{ role: 'user', content: 'a b c d e f' }] })) {
      got.push(ch.choices[0]?.delta?.content ?? '');
    }
  }, (e) => e instanceof OpenAI.APIError);
  assert.deepEqual(got.filter(Boolean), ['Echo: ', 'a ']);
});

test('a stream whose upstream thinks in silence gets SSE keep-alive comments, and the SDK reads on', async () => {
  await fetch(`${s.fakeUrl}/_fake/reset`, { method: 'POST' }); // scripts left by earlier tests
  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'stall', after: 0, ms: 900, count: 1 });
  const raw = await fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: FLASH, stream: true, messages: [{ role: 'user', content: 'slow one' }] }),
  });
  const body = await raw.text();
  assert.ok(body.startsWith(': keep-alive\n\n'), body.slice(0, 80));
  assert.ok(body.endsWith('data: [DONE]\n\n'));
  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'stall', after: 0, ms: 900, count: 1 });
  let text = '';
  for await (const ch of await ai.chat.completions.create({ model: FLASH, stream: true, messages: [{ role: 'user', content: 'slow two' }] })) {
    text += ch.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, 'Echo: slow two');
  await fetch(`${s.fakeUrl}/_fake/reset`, { method: 'POST' });
});

test('images.generate through Gemini\'s image model: b64_json, n, size as the nearest aspect ratio, url as a data URL', async () => {
  const IMG = 'gemini-3.1-flash-image';
  const r = await ai.images.generate({ model: IMG, prompt: 'a red fox', n: 2, size: '1536x1024' });
  assert.equal(r.data.length, 2);
  assert.equal(Buffer.from(r.data[0].b64_json, 'base64').subarray(1, 4).toString(), 'PNG');
  assert.ok(r.created > 0 && r.usage.input_tokens > 0);
  assert.deepEqual((await lastBody()).generationConfig, { responseModalities: ['IMAGE'], candidateCount: 2, imageConfig: { aspectRatio: '3:2' } });
  const u = await ai.images.generate({ model: IMG, prompt: 'a tall tower', response_format: 'url', size: '1024x1792' });
  assert.equal(u.data.length, 1);
  assert.match(u.data[0].url, /^data:image\/png;base64,iVBOR/);
  assert.equal((await lastBody()).generationConfig.imageConfig.aspectRatio, '9:16');
  await assert.rejects(ai.images.generate({ model: IMG, prompt: 'x', size: 'big' }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'size');
  await assert.rejects(ai.images.generate({ model: IMG, prompt: 'x', n: 9 }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'n');
  // a model that answers with no image: every key tried, then a clear error
  await assert.rejects(ai.images.generate({ model: FLASH, prompt: 'x' }), (e) => e.status === 502);
});

test('files.create (purpose user_data) uploads to Gemini\'s Files API; chats using the file go to its project', async () => {
  const text = 'hello file\n'.repeat(1000);
  const f = await ai.files.create({ file: await toFile(Buffer.from(text), 'notes.txt', { type: 'text/plain' }), purpose: 'user_data' });
  assert.match(f.id, /^files\//);
  assert.equal(f.object, 'file');
  assert.equal(f.bytes, text.length);
  assert.equal(f.filename, 'notes.txt');
  assert.equal(f.purpose, 'user_data');
  // the bytes reached Gemini whole, as a multipart upload
  const dl = await fetch(`${s.url}/download/v1beta/${f.id}:download?alt=media`, { headers: { 'x-goog-api-key': s.token } });
  assert.equal(await dl.text(), text);
  assert.equal(dl.headers.get('content-type'), 'text/plain');
  for (let i = 0; i < 4; i++) { // two projects in the pool: each call must go to the file's
    const r = await ai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: [{ type: 'text', text: `summarise ${i}` }, { type: 'file', file: { file_id: f.id } }] }] });
    assert.match(r.choices[0].message.content, /summarise/);
  }
  assert.equal((await s.stats()).permission_errors, 0);
  await assert.rejects(ai.files.create({ file: await toFile(Buffer.from('{}'), 'x.jsonl'), purpose: 'batch' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'purpose');
});
