// make bench: the resident memory (RSS) of every service idle and under load (wrk, c=64), then
// BENCH_OPEN_STREAMS (10,000) streams held open at once through one edge and one forwarder: every
// stream has its first event and waits on a silent upstream; the RSS each service grew by,
// per open stream. Loopback only; the fake upstream is the one the tests use.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Stack, sleep, waitUntil } from '../tests/integration/harness.mjs';

const N = Number(process.env.BENCH_OPEN_STREAMS ?? 10000);
const DUR = process.env.BENCH_SECONDS || '5';
const FAKE_KEY = 'bench-key-000000000001';
const SERVICES = ['edge', 'keypool', 'forwarder', 'logger', 'scheduler', 'nats'];
const MODEL_PATH = '/v1beta/models/gemini-2.5-flash';

const rssKiB = (pid) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch { return NaN; }
};
const threads = (pid) => {
  try { return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return NaN; }
};

function snapshot(s) {
  const out = {};
  for (const name of SERVICES) {
    const p = s.procs.find((x) => x.sbName === name && x.exitCode === null);
    if (p) out[name] = { rss: rssKiB(p.pid), threads: threads(p.pid) };
  }
  return out;
}

// one streamed call on its own socket; resolves with the socket once the first event is in
function openStream(port, req) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '', done = false;
    sock.setNoDelay(true);
    sock.on('connect', () => sock.write(req));
    sock.on('data', (d) => {
      if (got.length < 2000) got += d;
      if (done) return;
      if (got.includes('\r\n\r\n') && !got.startsWith('HTTP/1.1 200')) { // refused: the body's first bytes say why
        done = true;
        setTimeout(() => { sock.destroy(); reject(new Error(got.slice(0, 300))); }, 50);
        return;
      }
      if (/\r\n\r\n[\s\S]*data: /.test(got)) {
        done = true;
        resolve(sock);
      }
    });
    sock.on('error', (e) => { if (!done) { done = true; reject(e); } });
    sock.on('close', () => { if (!done) { done = true; reject(new Error(`closed before the first event: ${got.slice(0, 300)}`)); } });
  });
}

const s = new Stack();
const held = [], failed = [];
try {
  const room = String(N + 2000);
  await s.start(`bench:${FAKE_KEY}`, {
    loggers: 1, schedulers: 1,
    edgeEnv: { SB_MAX_CONNECTIONS: room, SB_MAX_CONNS_PER_ADDR: '0', SB_MAX_INFLIGHT: room, SB_IDLE_TIMEOUT_MS: '600000' },
    fwdEnv: { FWD_MAX_INFLIGHT: room },
    fakeEnv: { FAKE_MAX_CONNS: room },
  });
  s.secrets.push(FAKE_KEY);
  const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'benchmark one two three' }] }] });
  // warm up: every service has served and logged a few calls
  for (let i = 0; i < 20; i++) await s.gen('gemini-2.5-flash', 'warm up');
  await sleep(1500);
  const idle = snapshot(s);

  // under load: wrk at c=64 on generateContent, the highest RSS seen
  const script = path.join(s.dir, 'load.lua');
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n` +
    `wrk.headers["Content-Type"] = "application/json"\nwrk.headers["x-goog-api-key"] = ${JSON.stringify(s.token)}\n`);
  const loaded = {};
  const wrk = spawn('wrk', ['-t', '2', '-c', '64', '-d', `${DUR}s`, '-s', script, `${s.url}${MODEL_PATH}:generateContent`], { stdio: 'ignore' });
  const exited = new Promise((r) => wrk.on('exit', r));
  let running = true;
  exited.then(() => { running = false; });
  while (running) {
    for (const [k, v] of Object.entries(snapshot(s))) if (!loaded[k] || v.rss > loaded[k].rss) loaded[k] = v;
    await sleep(200);
  }
  await sleep(1500);
  const before = snapshot(s);

  // N open streams: the first event at once, then upstream stays silent (the edge sends keep-alives)
  await fetch(`${s.fakeUrl}/_fake/chunks`, { method: 'POST', body: JSON.stringify({ ms: 300000 }) });
  const req = `POST ${MODEL_PATH}:streamGenerateContent?alt=sse HTTP/1.1\r\nHost: bench\r\n` +
    `x-goog-api-key: ${s.token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const port = Number(new URL(s.url).port);
  const t0 = performance.now();
  const WAVE = 200;
  for (let i = 0; i < N; i += WAVE) {
    const wave = [];
    for (let j = i; j < Math.min(N, i + WAVE); j++) wave.push(openStream(port, req));
    for (const r of await Promise.allSettled(wave)) {
      if (r.status === 'fulfilled') held.push(r.value);
      else failed.push(String(r.reason.message).split('\n')[0] + ' ' + (/"message": "([^"]*)/.exec(r.reason.message)?.[1] ?? ''));
    }
  }
  const openMs = performance.now() - t0;
  await sleep(2000);
  const open = snapshot(s);
  const alive = held.filter((x) => !x.destroyed).length;
  const fakeStats = await s.stats();
  for (const x of held) x.destroy();
  held.length = 0;
  // the edge cancels every transfer at its forwarder when its client leaves
  const gauge = async (proc, name) => Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec((await s.ops(proc, '/metrics')).text)?.[1] ?? NaN);
  const fwdProc = s.procs.find((x) => x.sbName === 'forwarder' && x.exitCode === null);
  await waitUntil(async () => (await gauge(s.edgeProc, 'sb_inflight')) === 0 && (await gauge(fwdProc, 'sb_forwarder_inflight')) === 0,
    { tries: 300, what: 'the edge and the forwarder to let go of the streams' });
  await sleep(2000);
  const after = snapshot(s);

  const mib = (k) => (k / 1024).toFixed(1);
  console.log(`\n| service | RSS idle MiB | under load (c=64) MiB | threads | with ${N.toLocaleString('en')} open streams MiB | growth per open stream KiB | after they closed MiB |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const name of SERVICES) {
    if (!idle[name]) continue;
    const per = (open[name].rss - before[name].rss) / N;
    console.log(`| ${name} | ${mib(idle[name].rss)} | ${mib(loaded[name]?.rss ?? NaN)} | ${idle[name].threads} | ${mib(open[name].rss)} | ${per.toFixed(2)} | ${mib(after[name].rss)} |`);
  }
  console.log(`\n${alive.toLocaleString('en')} of ${N.toLocaleString('en')} streams open at once through one edge and one forwarder ` +
    `(opened in ${(openMs / 1000).toFixed(1)} s, ${WAVE} at a time; the fake upstream counted ${fakeStats.calls?.[FAKE_KEY] ?? '?'} calls)`);
  if (failed.length) {
    const why = {};
    for (const f of failed) why[f] = (why[f] ?? 0) + 1;
    console.log('streams refused:', why);
    const retries = s.logs('edge').split('\n').filter((l) => /attempt\.retry|upstream/.test(l)).slice(0, 5);
    console.log(retries.join('\n'));
    const fwd = s.logs('forwarder').split('\n').filter((l) => /warn|error/i.test(l)).slice(0, 5);
    console.log(fwd.join('\n'));
  }
  if (alive !== N) process.exitCode = 1;
} finally {
  for (const x of held) x.destroy();
  await s.stop();
}
