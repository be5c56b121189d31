// make bench: wrk against the fake upstream directly, through an nginx reverse-proxy hop (when
// nginx is installed), through the architecture floor (bench/floor.c) and through Switchboard,
// for generateContent and a stream, at c=1 and c=64. Prints latency, added latency and RPS as
// ratios. Loopback only; bounded durations.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Stack, freePort, waitUntil } from '../tests/integration/harness.mjs';
import { rawClient } from './rawhttp.mjs';

const DUR = process.env.BENCH_SECONDS || '5';
const FAKE_KEY = 'bench-key-000000000001';
const have = (cmd) => { try { execFileSync('sh', ['-c', `command -v ${cmd}`]); return true; } catch { return false; } };

function wrkScript(dir, name, key, body, bearer = false, extra = {}) {
  const f = path.join(dir, `${name}.lua`);
  const auth = bearer ? `wrk.headers["Authorization"] = ${JSON.stringify('Bearer ' + key)}`
    : `wrk.headers["x-goog-api-key"] = ${JSON.stringify(key)}`;
  const more = Object.entries(extra).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}\n`).join('');
  writeFileSync(f, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n` +
    `wrk.headers["Content-Type"] = "application/json"\n${auth}\n${more}`);
  return f;
}

// Portkey's open-source gateway (npm @portkey-ai/gateway, pinned), on its OpenAI route with the
// Google provider and the fake upstream as custom host: the general gateway people run today.
// Installed into the build folder when npm can fetch it; its column is left out otherwise.
const PORTKEY = '@portkey-ai/gateway@1.15.2';
async function portkey() {
  const prefix = path.resolve(process.env.SB_BUILD_DIR ?? 'build', 'portkey');
  const entry = path.join(prefix, 'node_modules/@portkey-ai/gateway/build/start-server.js');
  if (!existsSync(entry)) {
    try {
      mkdirSync(prefix, { recursive: true });
      execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', prefix, PORTKEY],
        { stdio: 'ignore', timeout: 180000 });
    } catch {
      process.stderr.write(`  ${PORTKEY} could not be installed: its column stays empty\n`);
      return null;
    }
  }
  const port = await freePort();
  const p = spawn('node', [entry, `--port=${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(async () => { try { await fetch(`${url}/`); return true; } catch { return false; } }, { what: 'portkey' });
  return { p, url };
}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out}`))));
  });
}

const toMs = (v, unit) => Number(v) * ({ us: 1e-3, ms: 1, s: 1e3 }[unit]);
async function wrk(url, script, conns) {
  const out = await run('wrk', ['-t', conns > 1 ? '2' : '1', '-c', String(conns), '-d', `${DUR}s`, '--latency', '-s', script, url]);
  const p50 = out.match(/50%\s+([\d.]+)(us|ms|s)/);
  const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
  const non2xx = out.match(/Non-2xx or 3xx responses: (\d+)/);
  if (non2xx) throw new Error(`non-2xx responses from ${url}: ${non2xx[1]}`);
  return { p50: toMs(p50[1], p50[2]), rps: Number(rps[1]) };
}

async function nginx(dir, upstreamPort) {
  const port = await freePort();
  const prefix = path.join(dir, 'nginx');
  mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  writeFileSync(path.join(prefix, 'nginx.conf'), `worker_processes 1; daemon off; pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; } } }
`);
  const p = spawn('nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')], { stdio: 'ignore' });
  await waitUntil(async () => { try { await fetch(`http://127.0.0.1:${port}/`); return true; } catch { return false; } }, { what: 'nginx' });
  return { p, url: `http://127.0.0.1:${port}` };
}

// The architecture's floor (bench/floor.c): HTTP -> one NATS request -> a worker calling the
// upstream with curl -> reply. Both halves on this stack's NATS, as the tests' observer user.
async function floor(s) {
  const bin = path.join(process.env.SB_BUILD_DIR ?? 'build', 'bench/floor');
  const env = { ...process.env, NATS_URL: s.natsUrl, NATS_USER: 'observer', NATS_PASSWORD: s.natsPasswords.observer,
    FLOOR_KEY_HEADER: `x-goog-api-key: ${FAKE_KEY}` };
  const port = await freePort();
  const start = (args) => new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(p); });
    p.on('exit', (code) => reject(new Error(`floor ${args[0]} exited ${code}`)));
  });
  const procs = [await start(['worker', s.fakeUrl, '64']), await start(['server', String(port)])];
  return { procs, url: `http://127.0.0.1:${port}` };
}

// Streams at one request at a time, with upstream pausing CHUNK_MS between chunks: the gaps
// between events as the client sees them, directly and through a gateway, the targets taken in
// turn stream by stream (so both see the machine as it is then: a p99 is the run's worst 1%).
// The fake keeps when it sent each event (CLOCK_MONOTONIC, the clock of process.hrtime too), so
// each gap is also paired with upstream's own: their difference is the path's share of the gap,
// without the jitter of the pause itself, which is most of a raw gap's p99.
const CHUNK_MS = 5;
async function streamTiming(fakeUrl, targets, body, n, rounds) {
  const q = (v, p) => { const x = [...v].sort((a, b) => a - b); return x[Math.min(x.length - 1, Math.floor(p * x.length))]; };
  const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const per = targets.map(() => []);
  await fetch(`${fakeUrl}/_fake/stamps`); // forget what came before
  for (let r = 0; r < rounds; r++) {
    const gaps = targets.map(() => []), shares = targets.map(() => []);
    for (let i = 0; i < n; i++) {
      for (const [t, { url, headers }] of targets.entries()) {
        const got = await oneStream(url, headers, body, gaps[t]);
        const sent = (await (await fetch(`${fakeUrl}/_fake/stamps`)).json()).streams;
        if (sent.length !== 1 || sent[0].length !== got.length) continue; // (a retried call: not paired)
        for (let k = 1; k < got.length; k++)
          shares[t].push(Number((got[k] - got[k - 1]) - (BigInt(sent[0][k]) - BigInt(sent[0][k - 1]))) / 1e6);
      }
    }
    for (const t of targets.keys()) per[t].push({ gap50: q(gaps[t], 0.5), gap99: q(gaps[t], 0.99), ngaps: gaps[t].length,
      share50: q(shares[t], 0.5), share99: q(shares[t], 0.99), nshares: shares[t].length });
  }
  // each figure the median of the rounds' (a p99 is the worst 1% of one round)
  return per.map((v) => Object.fromEntries(Object.keys(v[0]).map((k) => [k, med(v.map((x) => x[k]))])));
}

// Reads a stream; the gaps between its events (ms) go to gaps; returns when each event was read
// (process.hrtime, ns).
async function oneStream(url, headers, body, gaps) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const reader = r.body.getReader();
  const at = [];
  let last = null, pending = '';
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const now = performance.now(), ns = process.hrtime.bigint();
    pending += dec.decode(value, { stream: true });
    const events = pending.split(/\r?\n\r?\n/);
    pending = events.pop();
    for (const ev of events) {
      if (!ev.startsWith('data:')) continue;
      if (last !== null) gaps.push(now - last);
      last = now;
      at.push(ns);
    }
  }
  return at;
}

// Time to a stream's first byte of body and a non-stream answer's last byte, c=1, on one kept-alive
// connection each to upstream and to Switchboard, the four interleaved request by request, each
// right after an unmeasured non-stream call on its own connection: every measured call finds the
// machine as the one before left it, busy (a stream's pauses leave it idle, and waking it costs
// every hop: measured after a paced stream, a call takes 0.2-0.4 ms longer). The upstream pauses
// between events, so its first event leaves alone (answering at once, the forwarder would read
// the whole stream in one go and the first byte would wait for the last). Medians in ms.
async function firstBytes(s, npath, spath, body, ms, n) {
  await fetch(`${s.fakeUrl}/_fake/chunks`, { method: 'POST', body: JSON.stringify({ ms }) });
  const d = await rawClient(s.fakeUrl), e = await rawClient(s.url);
  const hd = { 'x-goog-api-key': FAKE_KEY }, he = { 'x-goog-api-key': s.token };
  const v = { dn: [], ds: [], en: [], es: [] };
  try {
    for (let i = 0; i < n; i++) {
      for (const [c, h, k, path, what] of [[d, hd, 'dn', npath, 'whole'], [d, hd, 'ds', spath, 'firstBody'],
        [e, he, 'en', npath, 'whole'], [e, he, 'es', spath, 'firstBody']]) {
        await c.post(npath, h, body);
        v[k].push((await c.post(path, h, body))[what]);
      }
    }
  } finally { d.close(); e.close(); }
  const q = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, q(x)]));
}

const s = new Stack();
let ng, fl, pk;
try {
  // the production shape: every request logged, a scheduler leading; lease reserves on
  // (BENCH_RESERVE=0: off)
  const edgeEnv = { SB_LEASE_RESERVE: process.env.BENCH_RESERVE ?? '8' };
  await s.start(`bench:${FAKE_KEY}`, { loggers: Number(process.env.BENCH_LOGGERS ?? 1), schedulers: 1, edgeEnv });
  const quiet = await s.edge({ ...edgeEnv, SB_REQUEST_EVENTS: 'false' }, 'edge-nolog');
  await s.ready(quiet);
  s.secrets.push(FAKE_KEY);
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'benchmark one two three' }] }] });
  const direct = wrkScript(s.dir, 'direct', FAKE_KEY, body);
  const viaEdge = wrkScript(s.dir, 'edge', s.token, body);
  const targets = [['direct upstream', s.fakeUrl, direct]];
  if (have('nginx')) { ng = await nginx(s.dir, s.fakePort); targets.push(['nginx hop', ng.url, direct]); }
  fl = await floor(s);
  targets.push(['architecture floor', fl.url, direct]);
  targets.push(['switchboard', s.url, viaEdge]);
  const routes = [['generateContent', '/v1beta/models/gemini-2.5-flash:generateContent'],
                  ['stream (sse)', '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse']];
  // the same answers through the OpenAI route (translated both ways)
  const oai = (stream) => wrkScript(s.dir, `openai${stream ? '-stream' : ''}`, s.token, JSON.stringify({
    model: 'gemini-2.5-flash', stream, messages: [{ role: 'user', content: 'benchmark one two three' }] }), true);
  const openai = { generateContent: oai(false), 'stream (sse)': oai(true) };
  // and through the Anthropic Messages route, as the Anthropic SDK sends it
  const ant = (stream) => wrkScript(s.dir, `anthropic${stream ? '-stream' : ''}`, s.token, JSON.stringify({
    model: 'gemini-2.5-flash', max_tokens: 256, stream, messages: [{ role: 'user', content: 'benchmark one two three' }] }), true,
  { 'anthropic-version': '2023-06-01' });
  const anthropic = { generateContent: ant(false), 'stream (sse)': ant(true) };
  // and through the Responses route (not stored, as a stateless client such as Codex asks)
  const rsp = (stream) => wrkScript(s.dir, `responses${stream ? '-stream' : ''}`, s.token, JSON.stringify({
    model: 'gemini-2.5-flash', stream, store: false, input: 'benchmark one two three' }), true);
  const responses = { generateContent: rsp(false), 'stream (sse)': rsp(true) };
  // BENCH_ONLY=requestlog: just the request log's cost; BENCH_ONLY=streams: just the streams'
  const only = process.env.BENCH_ONLY;
  if (process.env.BENCH_PORTKEY !== '0' && !only) pk = await portkey();
  const pkScript = (stream) => wrkScript(s.dir, `portkey${stream ? '-stream' : ''}`, FAKE_KEY, JSON.stringify({
    model: 'gemini-2.5-flash', stream, messages: [{ role: 'user', content: 'benchmark one two three' }] }), true,
  { 'x-portkey-provider': 'google', 'x-portkey-custom-host': s.fakeUrl });
  const viaPortkey = { generateContent: pkScript(false), 'stream (sse)': pkScript(true) };
  const results = {};
  // where the edge's time goes: request.done's stages_us (µs after the request's headers were
  // complete) of every call in the c=1 cells, each stage's median printed at the end
  const stageRows = {};
  const median = (v) => { const x = [...v].sort((a, b) => a - b), h = x.length >> 1; return x.length % 2 ? x[h] : (x[h - 1] + x[h]) / 2; };
  const cell = async (rname, c, tname, url, script) => {
    const from = tname === 'switchboard' && c === 1 ? s.logs('edge').length : -1;
    const r = await wrk(url, script, c);
    if (from >= 0) {
      (stageRows[rname] ??= []).push(...s.logs('edge').slice(from).split('\n').map((l) => /stages_us=(\S+)/.exec(l)?.[1]).filter(Boolean)
        .map((t) => Object.fromEntries(t.split(',').map((kv) => { const [k, v] = kv.split(':'); return [k, Number(v)]; }))));
    }
    results[`${rname}|${c}|${tname}`] = r;
    process.stderr.write(`  ${rname.padEnd(16)} c=${String(c).padEnd(3)} ${tname.padEnd(18)} p50 ${r.p50.toFixed(3)} ms  ${r.rps.toFixed(0)} req/s\n`);
  };
  for (const [rname, rpath] of only ? [] : routes) {
    for (const c of [1, 64]) {
      const protos = [['switchboard openai', `${s.url}/v1/chat/completions`, openai[rname]],
        ['switchboard anthropic', `${s.url}/v1/messages`, anthropic[rname]],
        ['switchboard responses', `${s.url}/v1/responses`, responses[rname]]];
      const all = targets.map(([tname, base, script]) => [tname, base + rpath, script]);
      const seen = {};
      // one call at a time is what the machine's state moves most, and a ratio of two cells far
      // apart in time says as much about the machine as about the gateways: every target and
      // protocol in turn, in rounds (BENCH_C1_ROUNDS, 3; BENCH_C64_ROUNDS, 2), each one's median.
      // At c=64 a cell pays for what the one before it left behind (the logger's backlog), so
      // the rounds go forth and back: order must not decide
      const rounds = Math.max(1, Number((c === 1 ? process.env.BENCH_C1_ROUNDS : process.env.BENCH_C64_ROUNDS) ?? (c === 1 ? 3 : 2)));
      for (let round = 0; round < rounds; round++) {
        const order = [...all, ...protos];
        for (const [tname, url, script] of c === 1 || round % 2 === 0 ? order : order.reverse()) {
          await cell(rname, c, tname, url, script);
          (seen[tname] ??= []).push(results[`${rname}|${c}|${tname}`]);
        }
      }
      for (const [tname, v] of Object.entries(seen))
        results[`${rname}|${c}|${tname}`] = { p50: median(v.map((x) => x.p50)), rps: median(v.map((x) => x.rps)) };
    }
  }
  if (!only) {
  console.log('\n| route | c | direct p50 ms | nginx added ms | floor added ms | switchboard added ms | added vs floor | RPS vs direct | RPS vs nginx | RPS vs floor |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [rname] of routes) {
    for (const c of [1, 64]) {
      const d = results[`${rname}|${c}|direct upstream`];
      const n = results[`${rname}|${c}|nginx hop`];
      const f = results[`${rname}|${c}|architecture floor`];
      const sb = results[`${rname}|${c}|switchboard`];
      const sbAdd = sb.p50 - d.p50;
      const nAdd = n ? n.p50 - d.p50 : null;
      const fAdd = f.p50 - d.p50;
      console.log(`| ${rname} | ${c} | ${d.p50.toFixed(3)} | ${n ? nAdd.toFixed(3) : 'n/a'} | ${fAdd.toFixed(3)} | ${sbAdd.toFixed(3)} | ${fAdd > 0 ? (sbAdd / fAdd).toFixed(1) + '×' : 'n/a'} | ${(sb.rps / d.rps).toFixed(2)} | ${n ? (sb.rps / n.rps).toFixed(2) : 'n/a'} | ${(sb.rps / f.rps).toFixed(2)} |`);
    }
  }
  }
  const timelines = Object.fromEntries(Object.entries(stageRows).map(([rname, rows]) => [rname,
    Object.fromEntries(['loop', 'asked', 'leased', 'sent', 'accepted', 'head', 'first', 'end', 'done'].map((k) => {
      const v = rows.map((x) => x[k]).filter((x) => x !== undefined);
      return [k, v.length ? Math.round(median(v)) : null];
    }))]));
  if (Object.keys(timelines).length) {
    const names = Object.keys(timelines);
    console.log(`\n| stage (c=1, median µs after the headers) | ${names.join(' | ')} |`);
    console.log(`|---|${names.map(() => '---').join('|')}|`);
    const what = { loop: 'the loop took the call', asked: 'lease asked', leased: 'key leased', sent: 'sent to forwarders',
      accepted: 'a forwarder took it', head: "upstream's head", first: 'first data frame', end: 'end frame', done: 'answer written' };
    for (const [k, label] of Object.entries(what)) console.log(`| ${label} | ${names.map((n) => timelines[n][k] ?? '–').join(' | ')} |`);
  }
  // the request log's cost: the same edge build with and without publishing RequestEvents
  for (const c of only === 'streams' ? [] : [1, 64]) {
    if (only === 'requestlog') {
      await cell('generateContent', c, 'direct upstream', s.fakeUrl + routes[0][1], direct);
      await cell('generateContent', c, 'switchboard', s.url + routes[0][1], viaEdge);
    }
    await cell('generateContent', c, 'switchboard nolog', quiet.url + routes[0][1], viaEdge);
  }
  if (only !== 'streams') console.log('\n| c | added ms, request log on | added ms, off | RPS on / off |\n|---|---|---|---|');
  for (const c of only === 'streams' ? [] : [1, 64]) {
    const d = results[`generateContent|${c}|direct upstream`];
    const on = results[`generateContent|${c}|switchboard`];
    const off = results[`generateContent|${c}|switchboard nolog`];
    console.log(`| ${c} | ${(on.p50 - d.p50).toFixed(3)} | ${(off.p50 - d.p50).toFixed(3)} | ${(on.rps / off.rps).toFixed(2)} |`);
  }
  if (only !== 'requestlog') {
  // streams: added time to first byte, against the non-stream added latency measured the same
  // way (one client, interleaved, so both see the same machine), and added delay between events
  const sbody = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'benchmark one two three four five six seven eight' }] }] });
  const spath = '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse';
  const n = Number(process.env.BENCH_STREAMS ?? 150);
  const gapRounds = Math.max(1, Number(process.env.BENCH_GAP_ROUNDS ?? 3));
  const f = await firstBytes(s, routes[0][1], spath, sbody, CHUNK_MS, 2 * n);
  await fetch(`${s.fakeUrl}/_fake/chunks`, { method: 'POST', body: JSON.stringify({ ms: CHUNK_MS, stamps: true }) });
  // the floor relays a stream piece by piece too: its gaps are what the shape itself adds
  const [dt, ft, st] = await streamTiming(s.fakeUrl, [{ url: s.fakeUrl + spath, headers: { 'x-goog-api-key': FAKE_KEY } },
    { url: fl.url + spath, headers: { 'x-goog-api-key': FAKE_KEY } },
    { url: s.url + spath, headers: { 'x-goog-api-key': s.token } }], sbody, n, gapRounds);
  await fetch(`${s.fakeUrl}/_fake/chunks`, { method: 'POST', body: JSON.stringify({ ms: 0 }) });
  console.log(`\n| c=1, ${2 * n} of each, interleaved, one client | direct: stream first byte / answer ms | stream first byte added ms | non-stream added ms | stream / non-stream |`);
  console.log('|---|---|---|---|---|');
  console.log(`| upstream pausing ${CHUNK_MS} ms between events | ${f.ds.toFixed(3)} / ${f.dn.toFixed(3)} | ${(f.es - f.ds).toFixed(3)} | ${(f.en - f.dn).toFixed(3)} | ${((f.es - f.ds) / (f.en - f.dn)).toFixed(2)} |`);
  console.log(`\n| stream, c=1, upstream pausing ${CHUNK_MS} ms between events (${gapRounds} rounds of ${n} streams each, in turn, ${st.ngaps} gaps a round, fetch; each figure the rounds' median) | direct ms | floor ms | floor added ms | switchboard ms | switchboard added ms |`);
  console.log('|---|---|---|---|---|---|');
  for (const [label, k] of [['gap between events, p50', 'gap50'], ['gap between events, p99', 'gap99'],
    ["the path's share of a gap (paired with upstream's), p50", 'share50'], ["the path's share of a gap, p99", 'share99']])
    console.log(`| ${label} | ${dt[k].toFixed(3)} | ${ft[k].toFixed(3)} | ${(ft[k] - dt[k]).toFixed(3)} | ${st[k].toFixed(3)} | ${(st[k] - dt[k]).toFixed(3)} |`);
  if (!only) console.log('\n| route | c | native added ms | OpenAI added ms | OpenAI / native | OpenAI RPS vs direct | Anthropic added ms | Anthropic / OpenAI | Responses added ms | Responses / OpenAI |');
  if (!only) console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [rname] of only ? [] : routes) {
    for (const c of [1, 64]) {
      const d = results[`${rname}|${c}|direct upstream`];
      const nat = results[`${rname}|${c}|switchboard`].p50 - d.p50;
      const o = results[`${rname}|${c}|switchboard openai`];
      const a = results[`${rname}|${c}|switchboard anthropic`];
      const x = results[`${rname}|${c}|switchboard responses`];
      console.log(`| ${rname} | ${c} | ${nat.toFixed(3)} | ${(o.p50 - d.p50).toFixed(3)} | ${((o.p50 - d.p50) / nat).toFixed(2)} | ${(o.rps / d.rps).toFixed(2)} | ${(a.p50 - d.p50).toFixed(3)} | ${((a.p50 - d.p50) / (o.p50 - d.p50)).toFixed(2)} | ${(x.p50 - d.p50).toFixed(3)} | ${((x.p50 - d.p50) / (o.p50 - d.p50)).toFixed(2)} |`);
    }
  }
  // Portkey last, then stopped: a node process under load keeps the two cores busy for a while
  // (its garbage collector), which would slow whatever ran after it
  if (pk) {
    for (const [rname] of routes) for (const c of [1, 64]) await cell(rname, c, 'portkey openai', `${pk.url}/v1/chat/completions`, viaPortkey[rname]);
    pk.p.kill('SIGTERM');
  }
  if (pk) {
    console.log(`\n| route (OpenAI format) | c | Switchboard added ms | Portkey added ms | Switchboard req/s | Portkey req/s | Switchboard / Portkey RPS |`);
    console.log('|---|---|---|---|---|---|---|');
    for (const [rname] of routes) {
      for (const c of [1, 64]) {
        const d = results[`${rname}|${c}|direct upstream`];
        const o = results[`${rname}|${c}|switchboard openai`];
        const p = results[`${rname}|${c}|portkey openai`];
        console.log(`| ${rname} | ${c} | ${(o.p50 - d.p50).toFixed(3)} | ${(p.p50 - d.p50).toFixed(3)} | ${o.rps.toFixed(0)} | ${p.rps.toFixed(0)} | ${(o.rps / p.rps).toFixed(1)}× |`);
      }
    }
  }
  }
} finally {
  if (ng) ng.p.kill('SIGTERM');
  if (pk) pk.p.kill('SIGTERM');
  for (const p of fl?.procs ?? []) p.kill('SIGTERM');
  await s.stop();
}
