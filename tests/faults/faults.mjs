// make faults: the multi-replica topology on loopback (2 edges, 2 keypools, 2 forwarders, a
// logger, a scheduler) under steady bounded load of stream and non-stream requests, while one
// fault at a time strikes: kill -9 of each replica kind (then a restart), NATS restarted,
// PostgreSQL stopped for FAULTS_PG_S seconds, Redis restarted. Every answer is classified; every
// request id a client was given must reach the request log. Prints a report, writes it to
// build/faults.json, and exits 1 when a bar of the issue is missed.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, sleep, waitUntil } from '../integration/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEYS = Array.from({ length: 6 }, (_, i) => `p${i % 3}:AIzaSyFaultSuiteKey${String(i).padStart(20, '0')}`).join(',');
const WORKERS = Number(process.env.FAULTS_WORKERS ?? 16);
const PG_S = Number(process.env.FAULTS_PG_S ?? 30);
const STEADY_MS = Number(process.env.FAULTS_STEADY_MS ?? 6000);
const MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite'];

const s = new Stack();
const seen = []; // every answer: {id, edge, stream, cls, ms, fault (as it ended), gapMs}
let fault = 'steady';
let running = true;
const edges = [];

// One request, classified: complete | clean_error | silent_cut | repeated | conn_error.
async function one(w, i) {
  const edge = edges[(w + i) % edges.length];
  const stream = i % 2 === 0;
  const words = Array.from({ length: 12 }, (_, k) => `w${w}i${i}k${k}`).join(' ');
  const t0 = Date.now();
  const rec = { edge: edge.name, stream, fault, ms: 0, gapMs: 0, id: null, t0 };
  try {
    const r = await fetch(`${edge.url}/v1beta/models/${MODELS[i % 3]}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, {
      method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: words }] }] }),
    });
    rec.id = r.headers.get('x-request-id');
    if (!stream) {
      const b = await r.json();
      rec.cls = r.status === 200 && b.candidates ? 'complete' : b.error ? 'clean_error' : 'silent_cut';
      rec.status = r.status;
      rec.err = b.error?.message;
    } else if (r.status !== 200) {
      rec.cls = 'clean_error';
      rec.status = r.status;
      await r.text();
    } else {
      const reader = r.body.getReader();
      let text = '', last = Date.now();
      for (;;) {
        const { value, done } = await reader.read();
        const now = Date.now();
        rec.gapMs = Math.max(rec.gapMs, now - last);
        last = now;
        if (done) break;
        text += Buffer.from(value).toString();
      }
      const events = text.split(/\r?\n\r?\n/).filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)));
      const said = events.flatMap((e) => e.candidates?.[0]?.content?.parts ?? []).map((p) => p.text ?? '').join('');
      const finish = events.at(-1)?.candidates?.[0]?.finishReason;
      rec.status = 200;
      if (events.at(-1)?.error) {
        rec.cls = 'clean_error';
        rec.err = events.at(-1).error.message;
      }
      else if (!finish) rec.cls = 'silent_cut';
      else rec.cls = said === `Echo: ${words}` ? 'complete' : 'repeated';
    }
  } catch (e) {
    rec.err = String(e.cause?.code ?? e.message);
    // refused: the edge was not there (a load balancer routes away); nothing was accepted
    rec.cls = rec.err === 'ECONNREFUSED' ? 'refused' : 'conn_error';
  }
  rec.t1 = Date.now();
  rec.ms = rec.t1 - t0;
  // a request belongs to the fault in force when its answer ended: a stream begun in one window
  // and cut by the next window's kill is that kill's doing
  rec.fault = fault;
  seen.push(rec);
}

async function worker(w) {
  for (let i = 0; running; i++) await one(w, i);
}

function counts(filter = () => true) {
  const c = {};
  for (const r of seen.filter(filter)) c[r.cls] = (c[r.cls] ?? 0) + 1;
  return c;
}

async function restartProc(name, env = {}) {
  const p = s.procs.find((x) => x.sbName === name && x.exitCode === null);
  const gone = new Promise((r) => p.on('exit', r));
  p.kill('SIGKILL');
  await gone;
  await sleep(1000);
  const kind = name.replace(/[0-9]+$/, '');
  const again = `${name}-again`; // a log of its own (the ops port is read from it)
  if (kind === 'edge') {
    const e = await s.edge({ SB_HTTP_PORT: String(new URL(edges[1].url).port), ...env }, again);
    await s.ready(e);
  } else {
    const p2 = s[kind](env, again);
    if (kind !== 'scheduler' && kind !== 'logger') await s.ready(p2);
  }
}

// calls left behind by the killed edge become `interrupted` rows this soon (default 900 s)
const LGR_ENV = { SB_INTERRUPTED_AFTER_S: '20' };
const report = { faults: {} };
async function strike(name, fn) {
  fault = name;
  const t0 = Date.now();
  const extra = (await fn()) ?? {};
  await sleep(STEADY_MS);
  const errs = seen.filter((r) => r.fault === name && !['complete', 'refused'].includes(r.cls));
  report.faults[name] = { ms: Date.now() - t0, ...counts((r) => r.fault === name), ...extra };
  if (errs.length) report.faults[name].samples = [...new Set(errs.map((r) => `${r.cls} ${r.status ?? ''} ${r.err ?? ''}`))].slice(0, 5);
  console.log(`${name.padEnd(18)} ${JSON.stringify(report.faults[name])}`);
}

try {
  await s.start(KEYS, {
    keypools: 2, forwarders: 2, loggers: 1, schedulers: 1,
    fakeEnv: { FAKE_CHUNK_MS: '30' }, lgrEnv: LGR_ENV,
  });
  edges.push({ name: 'edge', url: s.url });
  const e2 = await s.edge({}, 'edge2');
  await s.ready(e2);
  edges.push({ name: 'edge2', url: e2.url });
  s.session = await s.login();
  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  await sleep(STEADY_MS);
  report.faults.steady = counts((r) => r.fault === 'steady');
  console.log(`${'steady'.padEnd(18)} ${JSON.stringify(report.faults.steady)}`);

  await strike('kill_forwarder', () => restartProc('forwarder'));
  await strike('kill_keypool', () => restartProc('keypool'));
  await strike('kill_edge', () => restartProc('edge2'));
  await strike('kill_logger', () => restartProc('logger', LGR_ENV));
  await strike('kill_scheduler', () => restartProc('scheduler'));
  await strike('nats_restart', async () => {
    const t0 = Date.now();
    await s.restartServer('nats', 3000);
    const up = Date.now();
    let first;
    await waitUntil(() => (first = seen.find((r) => r.cls === 'complete' && r.t1 > up)), { tries: 400, interval: 25, what: 'a request after NATS' });
    return { down_ms: up - t0, recovered_ms: first.t1 - up };
  });
  await strike('postgres_stop', async () => {
    s.pgStop();
    const during = await s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: s.adminPassword } });
    await sleep(PG_S * 1000);
    s.pgStart();
    let after = 0;
    await waitUntil(async () => { after = (await s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: s.adminPassword } })).status; return after === 200; }, { tries: 100, what: 'login after postgres' });
    return { login_during: during.status, login_after: after };
  });
  await strike('redis_restart', () => s.restartServer('redis'));

  running = false;
  await Promise.all(workers);
  // every id a client was given is in the request log once the logger caught up
  const ids = [...new Set(seen.filter((r) => r.id).map((r) => r.id))];
  let missing = ids;
  for (let t = 0; t < 60 && missing.length; t++) {
    const have = new Set(s.psql('SELECT request_id FROM request_logs').split('\n'));
    missing = missing.filter((x) => !have.has(x));
    if (missing.length) await sleep(1000);
  }
  const calls = Object.values((await s.stats()).calls).reduce((a, b) => a + b, 0);
  const all = counts();
  const missingByFault = {};
  for (const r of seen) if (r.id && missing.includes(r.id)) {
    const k = `${r.fault} ${r.cls} ${r.status ?? ''} ${r.err ?? ''}`.trim();
    missingByFault[k] = (missingByFault[k] ?? 0) + 1;
  }
  // the windows again, now that every request of each has finished
  for (const name of Object.keys(report.faults)) {
    const mine = seen.filter((r) => r.fault === name);
    const errs = mine.filter((r) => !['complete', 'refused'].includes(r.cls));
    const keep = ['ms', 'down_ms', 'recovered_ms', 'login_during', 'login_after'];
    report.faults[name] = {
      ...Object.fromEntries(Object.entries(report.faults[name]).filter(([k]) => keep.includes(k))),
      ...counts((r) => r.fault === name),
      stalled_over_10s: mine.filter((r) => r.stream && r.gapMs > 10000).length,
    };
    if (errs.length) report.faults[name].samples = [...new Set(errs.map((r) => `${r.cls} ${r.status ?? ''} ${r.err ?? ''}`))].slice(0, 5);
    console.log(`${name.padEnd(18)} ${JSON.stringify(report.faults[name])}`);
  }
  Object.assign(report, {
    requests: seen.length, classes: all, events_lost: missing.length, events_lost_by_fault: missingByFault,
    logged_interrupted: Number(s.psql("SELECT count(*) FROM request_logs WHERE outcome = 'interrupted'")),
    streams_stalled_over_10s: seen.filter((r) => r.stream && r.gapMs > 10000).length,
    upstream_calls: calls, answered_ok: all.complete ?? 0,
    // every request that reached Google once: the complete ones, the streams cut after their
    // 200, those in flight when a connection broke; beyond that, a request was paid twice
    upstream_calls_twice: Math.max(0, calls - (all.complete ?? 0) - (all.repeated ?? 0) -
      seen.filter((r) => (r.cls === 'clean_error' && r.status === 200) || r.cls === 'conn_error').length),
  });
  writeFileSync(path.join(ROOT, 'build/faults.json'), JSON.stringify(report, null, 2));
  console.log(JSON.stringify({ ...report, faults: undefined }, null, 2));
  const bars = [
    ['0 request events lost', report.events_lost === 0],
    ['0 streams with repeated text', (all.repeated ?? 0) === 0],
    ['0 streams ended silently', (all.silent_cut ?? 0) === 0],
    ['0 streams stalled more than 10 s', report.streams_stalled_over_10s === 0],
    ['0 upstream calls made twice for one request', report.upstream_calls_twice === 0],
    ['NATS recovered within 2 s', (report.faults.nats_restart?.recovered_ms ?? 1e9) <= 2000],
    ['PostgreSQL away: login 503 during, 200 after', report.faults.postgres_stop?.login_during === 503 && report.faults.postgres_stop?.login_after === 200],
    ['a Redis restart costs no request', Object.keys(report.faults.redis_restart ?? {}).every((k) => !['clean_error', 'conn_error', 'silent_cut'].includes(k))],
    ['NATS restart costs no request', !report.faults.nats_restart?.clean_error && !report.faults.nats_restart?.conn_error],
    ['at most a handful of clean errors (besides streams cut on a killed forwarder or edge)',
      Object.entries(report.faults).filter(([f]) => !['kill_forwarder', 'kill_edge'].includes(f)).reduce((a, [, v]) => a + (v.clean_error ?? 0) + (v.conn_error ?? 0), 0) <= 5],
  ];
  let ok = true;
  for (const [what, pass] of bars) {
    console.log(`${pass ? 'PASS' : 'FAIL'}  ${what}`);
    ok &&= pass;
  }
  process.exitCode = ok ? 0 : 1;
} catch (e) {
  console.error(e);
  s.dumpLogs();
  process.exitCode = 2;
} finally {
  running = false;
  await s.stop({ keep: process.exitCode !== 0 });
}
