// The official openai npm SDK, unmodified, on the Responses API: create (plain and stream), a
// function-call round trip with Gemini 3 thought signatures in reasoning items, json_schema
// output, previous_response_id continued through another edge replica, stored responses (GET,
// DELETE, owners; readable as soon as their answer arrives), errors and a mid-stream failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Stack, sleep, waitUntil } from './harness.mjs';

const KA = 'key-alpha-0000000001';
const KB = 'key-bravo-0000000002';
const FLASH = 'gemini-2.5-flash';
const G3 = 'gemini-3-flash-preview';
const FAKE_SIG = 'c2lnbmF0dXJlLWZha2UtMDAx';
const s = new Stack();
let ai, ai2, e2;

before(async () => {
  await s.start(`pa:${KA},pb:${KB}`, { fwdEnv: { FWD_KEEPALIVE_MS: '200' } });
  e2 = await s.edge({}, 'edge2');
  await s.ready(e2);
  ai = new OpenAI({ apiKey: s.token, baseURL: `${s.url}/v1`, maxRetries: 0 });
  ai2 = new OpenAI({ apiKey: s.token, baseURL: `${e2.url}/v1`, maxRetries: 0 });
});
after(async () => { await s.stop(); });

const lastBody = async () => JSON.parse((await s.stats()).last_body);
const tools = [{ type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] }, strict: true }];

test('create (non-stream): output_text, items, usage; instructions and options reach Gemini', async () => {
  const r = await ai.responses.create({ model: FLASH, instructions: 'be brief', input: 'hello there', max_output_tokens: 50, temperature: 0.5, store: false });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_[0-9a-f]{40}$/);
  assert.equal(r.status, 'completed');
  assert.equal(r.model, FLASH);
  assert.equal(r.output_text, 'Echo: hello there');
  assert.equal(r.output.length, 1);
  assert.equal(r.output[0].type, 'message');
  assert.equal(r.output[0].role, 'assistant');
  assert.deepEqual(r.output[0].content, [{ type: 'output_text', text: 'Echo: hello there', annotations: [] }]);
  assert.equal(r.instructions, 'be brief');
  assert.equal(r.store, false);
  // the fake counts 7 thought tokens outside candidatesTokenCount; OpenAI counts them as output
  assert.equal(r.usage.output_tokens, 3 + 7);
  assert.equal(r.usage.output_tokens_details.reasoning_tokens, 7);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  const sent = await lastBody();
  assert.deepEqual(sent.systemInstruction, { parts: [{ text: 'be brief' }] });
  assert.deepEqual(sent.generationConfig, { temperature: 0.5, maxOutputTokens: 50 });
  // a store: false response is not kept
  await assert.rejects(ai.responses.retrieve(r.id), (e) => e instanceof OpenAI.NotFoundError);
});

test('stream: typed events in order, the SDK\'s helper accumulates the final response', async () => {
  const deltas = [];
  const st = ai.responses.stream({ model: FLASH, input: [{ role: 'user', content: [{ type: 'input_text', text: 'one two three' }] }], reasoning: { effort: 'low', summary: 'auto' } });
  st.on('response.output_text.delta', (e) => deltas.push(e.delta));
  const fin = await st.finalResponse();
  assert.equal(deltas.join(''), 'Echo: one two three');
  assert.equal(fin.status, 'completed');
  assert.equal(fin.output_text, 'Echo: one two three');
  assert.deepEqual(fin.output.map((i) => i.type), ['reasoning', 'message']);
  assert.match(fin.output[0].summary[0].text, /Thinking it over/);
  const sent = await lastBody();
  assert.deepEqual(sent.generationConfig.thinkingConfig, { thinkingBudget: 1024, includeThoughts: true });

  const raw = await ai.responses.create({ model: FLASH, stream: true, input: 'hi you' });
  const types = [];
  let seq = -1;
  for await (const e of raw) { types.push(e.type); assert.equal(e.sequence_number, seq + 1); seq = e.sequence_number; }
  assert.deepEqual(types, ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
    'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta', 'response.output_text.done',
    'response.content_part.done', 'response.output_item.done', 'response.completed']);
});

test('function call round trip on Gemini 3, stateless: the signature rides a reasoning item', async () => {
  const input = [{ role: 'user', content: 'use the tool for Paris' }];
  const r1 = await ai.responses.create({ model: G3, input, tools, tool_choice: 'required', store: false, include: ['reasoning.encrypted_content'] });
  assert.deepEqual(r1.output.map((i) => i.type), ['reasoning', 'function_call']);
  assert.equal(r1.output[0].encrypted_content, `gemini.${FAKE_SIG}`);
  const call = r1.output[1];
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.arguments), { input: 'use the tool for Paris' });
  assert.match(call.call_id, /^call_/);
  let sent = await lastBody();
  assert.deepEqual(sent.toolConfig, { functionCallingConfig: { mode: 'ANY' } });
  assert.ok(sent.tools[0].functionDeclarations[0].parametersJsonSchema.properties.input);

  // turn two: the output items go back as the SDK returned them, then the call's output
  const r2 = await ai.responses.create({ model: G3, tools, store: false, input: [...input, ...r1.output, { type: 'function_call_output', call_id: call.call_id, output: '{"temp_c": 21}' }, { role: 'user', content: 'and now say thanks' }] });
  assert.equal(r2.output_text, 'Echo: and now say thanks');
  sent = await lastBody();
  assert.deepEqual(sent.contents[1], { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { input: 'use the tool for Paris' } }, thoughtSignature: FAKE_SIG }] });
  assert.deepEqual(sent.contents[2].parts, [{ functionResponse: { name: 'get_weather', response: { temp_c: 21 } } }, { text: 'and now say thanks' }]);

  // streamed: the call's arguments arrive as deltas and the helper parses the final response
  const st = ai.responses.stream({ model: G3, tools, store: false, input: 'use a tool' });
  const fin = await st.finalResponse();
  assert.deepEqual(fin.output.map((i) => i.type), ['reasoning', 'function_call']);
  assert.deepEqual(JSON.parse(fin.output[1].arguments), { input: 'use a tool' });

  await assert.rejects(ai.responses.create({ model: G3, input: [{ type: 'function_call_output', call_id: 'call_nope', output: 'x' }] }),
    (e) => e instanceof OpenAI.BadRequestError && /call_nope/.test(e.message) && e.param === 'input[0]');
});

test('json_schema output through text.format', async () => {
  const schema = { type: 'object', properties: { city: { type: 'string' }, rank: { type: 'integer' } }, required: ['city', 'rank'], additionalProperties: false };
  const r = await ai.responses.create({ model: FLASH, input: 'a city', text: { format: { type: 'json_schema', name: 'city', schema, strict: true } } });
  const out = JSON.parse(r.output_text);
  assert.equal(typeof out.city, 'string');
  assert.equal(out.rank, 42);
  const sent = await lastBody();
  assert.equal(sent.generationConfig.responseMimeType, 'application/json');
  assert.deepEqual(sent.generationConfig.responseJsonSchema, schema);
  assert.deepEqual(r.text.format.type, 'json_schema');
});

test('previous_response_id continues a stored conversation through the other replica; GET and DELETE', async () => {
  const r1 = await ai.responses.create({ model: G3, input: 'use the tool for Rome', tools, tool_choice: 'required' });
  assert.equal(r1.store, true);
  const call = r1.output.find((i) => i.type === 'function_call');
  // the other edge finds it (the shared store), with the signature the client never saw back
  const r2 = await ai2.responses.create({ model: G3, previous_response_id: r1.id, tools, input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }] });
  assert.equal(r2.previous_response_id, r1.id);
  assert.equal(r2.output_text, 'Echo: ', 'the last user turn holds no text, only the call\'s output');
  const sent = await lastBody();
  assert.deepEqual(sent.contents[0], { role: 'user', parts: [{ text: 'use the tool for Rome' }] });
  assert.equal(sent.contents[1].role, 'model');
  assert.equal(sent.contents[1].parts[0].functionCall.name, 'get_weather');
  assert.equal(sent.contents[1].parts[0].thoughtSignature, FAKE_SIG);
  assert.deepEqual(sent.contents[2].parts[0], { functionResponse: { name: 'get_weather', response: { output: 'sunny' } } });
  // a third turn chains on the second
  await ai.responses.create({ model: G3, previous_response_id: r2.id, input: 'thanks' });
  assert.equal((await lastBody()).contents.length, 5);

  const got = await ai2.responses.retrieve(r1.id);
  assert.equal(got.id, r1.id);
  assert.deepEqual(got.output, r1.output);
  // another client token cannot see it
  s.session = await s.login();
  const t = await s.api('/api/tokens', { method: 'POST', body: { name: 'other' } });
  assert.equal(t.status, 201, t.text);
  s.secrets.push(t.body.secret);
  const other = new OpenAI({ apiKey: t.body.secret, baseURL: `${s.url}/v1`, maxRetries: 0 });
  await waitUntil(async () => { try { await other.models.list(); return true; } catch { return false; } }, { what: 'token known' });
  await assert.rejects(other.responses.retrieve(r1.id), (e) => e instanceof OpenAI.NotFoundError);
  await assert.rejects(other.responses.create({ model: G3, previous_response_id: r1.id, input: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && e.param === 'previous_response_id');

  await ai.responses.delete(r1.id);
  await assert.rejects(ai2.responses.retrieve(r1.id), (e) => e instanceof OpenAI.NotFoundError && /not found/.test(e.message));
  await assert.rejects(ai.responses.create({ model: G3, previous_response_id: 'resp_missing', input: 'x' }),
    (e) => e instanceof OpenAI.NotFoundError && e.param === 'previous_response_id');
});

test('a stored response can be read the moment its answer arrives, on either edge', async () => {
  // what the store keeps is written before the answer leaves (a GET or a previous_response_id
  // right after must not miss it): create, then read at once, stream or not, each edge reading
  // the other's, over kept-alive sockets so nothing waits in between
  const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
  for (let i = 0; i < 60; i++) {
    const [from, to] = i % 2 ? [s.url, e2.url] : [e2.url, s.url];
    const stream = i % 4 >= 2;
    const r = await fetch(`${from}/v1/responses`, { method: 'POST', headers, body: JSON.stringify({ model: FLASH, input: `kept ${i}`, stream }) });
    assert.equal(r.status, 200);
    const text = await r.text();
    const id = stream ? /"id":"(resp_[^"]+)"/.exec(text)[1] : JSON.parse(text).id;
    const got = await fetch(`${to}/v1/responses/${id}`, { headers });
    assert.equal(got.status, 200, `call ${i} (${stream ? 'stream' : 'whole'}): ${await got.clone().text()}`);
    assert.equal((await got.json()).id, id);
  }
});

test('the answer waits for its stored response\'s write, not the edge: a stalled store delays it alone', async () => {
  // Redis refuses writes for a while after upstream was asked: the answer (whole, then stream)
  // must wait for its write to land before it leaves, and be readable on the other edge at once;
  // meanwhile the edge goes on serving (a refusal is answered during the stall)
  const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
  for (const stream of [false, true]) {
    for (const k of [KA, KB]) await s.script({ key: k, fault: 'latency', ms: 300, count: 1 });
    const t0 = Date.now();
    const pending = fetch(`${s.url}/v1/responses`, { method: 'POST', headers, body: JSON.stringify({ model: FLASH, input: 'stalled', stream }) });
    await sleep(100);
    s.redis('CLIENT', 'PAUSE', '1200', 'WRITE');
    for (const k of [KA, KB]) await s.unscript(k);
    await sleep(500 - (Date.now() - t0)); // upstream has answered: the write is stalled
    const other = await fetch(`${s.url}/v1/responses`, { method: 'POST', headers: { ...headers, authorization: 'Bearer nobody' }, body: JSON.stringify({ model: FLASH, input: 'x' }) });
    assert.equal(other.status, 401);
    assert.ok(Date.now() - t0 < 1000, `the edge answers others meanwhile (${Date.now() - t0} ms)`);
    const r = await pending;
    const text = await r.text();
    const waited = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.ok(waited >= 1150, `the answer left before its write could land (${waited} ms)`);
    const id = stream ? /"id":"(resp_[^"]+)"/.exec(text)[1] : JSON.parse(text).id;
    const got = await fetch(`${e2.url}/v1/responses/${id}`, { headers });
    assert.equal(got.status, 200, `${stream ? 'stream' : 'whole'}: ${await got.clone().text()}`);
  }
});

test('reads wait for a stalled store, not the edge: GET and previous_response_id answer once Redis does, others at once', async () => {
  // Redis answers nothing for a while (CLIENT PAUSE ALL): a GET of a stored response and a create
  // continuing one must wait for their reads, and then succeed; the edge serves others meanwhile
  const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
  const first = await ai.responses.create({ model: FLASH, input: 'remember seven' });
  const t0 = Date.now();
  s.redis('CLIENT', 'PAUSE', '1200', 'ALL');
  const paused = Date.now();
  const got = fetch(`${s.url}/v1/responses/${first.id}`, { headers });
  const next = fetch(`${s.url}/v1/responses`, { method: 'POST', headers, body: JSON.stringify({ model: FLASH, input: 'and now?', previous_response_id: first.id, store: false }) });
  await sleep(150);
  const t1 = Date.now();
  const other = await fetch(`${s.url}/v1/responses`, { method: 'POST', headers: { ...headers, authorization: 'Bearer nobody' }, body: JSON.stringify({ model: FLASH, input: 'x' }) });
  assert.equal(other.status, 401);
  assert.ok(Date.now() - t1 < 400, `the edge answers others while reads wait (${Date.now() - t1} ms)`);
  const [g, n] = await Promise.all([got, next]);
  assert.ok(Date.now() - paused >= 1000, `the reads waited for the store (${Date.now() - t0} ms)`);
  assert.equal(g.status, 200, await g.clone().text());
  assert.equal((await g.json()).id, first.id);
  assert.equal(n.status, 200, await n.clone().text());
  assert.match(JSON.stringify(JSON.parse((await s.stats()).last_body).contents), /remember seven/);
});

test('errors: bad key, bad request, quota; a mid-stream failure raises with no repeated text', async () => {
  const bad = new OpenAI({ apiKey: 'not-a-token', baseURL: `${s.url}/v1`, maxRetries: 0 });
  await assert.rejects(bad.responses.create({ model: FLASH, input: 'x' }), (e) => e instanceof OpenAI.AuthenticationError);
  await assert.rejects(ai.responses.create({ model: FLASH, input: 'x', tools: [{ type: 'file_search', vector_store_ids: ['v'] }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'tools[0]');
  await assert.rejects(ai.responses.create({ model: FLASH, input: 'x', reasoning: { effort: 'extreme' } }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'reasoning.effort');
  await assert.rejects(ai.responses.create({ model: FLASH, input: 42 }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'input');
  await assert.rejects(ai.responses.create({ model: 'no-such-model', input: 'x' }), (e) => e instanceof OpenAI.NotFoundError);
  const LITE = 'gemini-2.5-flash-lite';
  for (const k of [KA, KB]) await s.script({ key: k, model: LITE, fault: 'quota_minute', retry_delay: '17s', count: 1 });
  await assert.rejects(ai.responses.create({ model: LITE, input: 'x' }),
    (e) => e instanceof OpenAI.RateLimitError && Number(e.headers.get('retry-after')) >= 1);

  for (const k of [KA, KB]) await s.script({ key: k, model: FLASH, fault: 'midstream', after: 2, count: 1 });
  const got = [];
  await assert.rejects(async () => {
    for await (const e of await ai.responses.create({ model: FLASH, stream: true, input: 'a b c d e f' })) {
      if (e.type === 'response.output_text.delta') got.push(e.delta);
    }
  }, (e) => e instanceof OpenAI.APIError);
  assert.deepEqual(got, ['Echo: ', 'a ']);
  await s.fakeReset();
});
