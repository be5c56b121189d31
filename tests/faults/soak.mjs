// make soak: the multi-replica topology under moderate steady load for SOAK_MINUTES (default
// 30); every service's resident memory and open descriptors are sampled every SOAK_SAMPLE_S
// (default 30). Prints the curve per service and fails when one keeps growing: the last third's
// mean above the second third's by more than 10% (and 8 MB), or descriptors up by more than 16.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack, sleep } from '../integration/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MINUTES = Number(process.env.SOAK_MINUTES ?? 30);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_S ?? 30);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 8);
const KEYS = Array.from({ length: 6 }, (_, i) => `p${i % 3}:AIzaSySoakTestKey${String(i).padStart(22, '0')}`).join(',');
const SERVICES = ['edge', 'edge2', 'keypool', 'keypool1', 'forwarder', 'forwarder1', 'logger', 'scheduler'];

const rssMb = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

const s = new Stack();
let running = true;
let requests = 0, failures = 0;
try {
  await s.start(KEYS, { keypools: 2, forwarders: 2, loggers: 1, schedulers: 1, fakeEnv: { FAKE_CHUNK_MS: '5' } });
  const e2 = await s.edge({}, 'edge2');
  await s.ready(e2);
  const urls = [s.url, e2.url];
  const workers = Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = 0; running; i++) {
      const stream = i % 2 === 0;
      try {
        const r = await fetch(`${urls[(w + i) % 2]}/v1beta/models/gemini-2.5-flash:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, {
          method: 'POST', headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: `soak ${w} ${i} ${'x'.repeat(i % 200)}` }] }] }),
        });
        await r.text();
        requests++;
        if (r.status !== 200) failures++;
      } catch {
        failures++;
      }
    }
  });
  const procs = Object.fromEntries(SERVICES.map((n) => [n, s.procs.find((p) => p.sbName === n)]));
  const samples = Object.fromEntries(SERVICES.map((n) => [n, []]));
  const t0 = Date.now();
  while (Date.now() - t0 < MINUTES * 60000) {
    await sleep(SAMPLE_S * 1000);
    const min = ((Date.now() - t0) / 60000).toFixed(1);
    for (const n of SERVICES) samples[n].push({ min, rss: rssMb(procs[n].pid), fds: fds(procs[n].pid) });
    console.log(`${min.padStart(5)} min  ${requests} requests  ` + SERVICES.map((n) => `${n} ${samples[n].at(-1).rss.toFixed(1)}MB/${samples[n].at(-1).fds}`).join('  '));
  }
  running = false;
  await Promise.all(workers);
  let ok = failures === 0;
  const summary = {};
  for (const n of SERVICES) {
    const v = samples[n];
    const third = Math.max(1, Math.floor(v.length / 3));
    const mean = (a) => a.reduce((x, y) => x + y.rss, 0) / a.length;
    const mid = mean(v.slice(third, 2 * third)), last = mean(v.slice(-third));
    const grew = last > mid * 1.1 && last - mid > 8;
    const fdGrew = v.at(-1).fds - v[Math.min(third, v.length - 1)].fds > 16;
    summary[n] = { rss_mb: v.map((x) => Number(x.rss.toFixed(1))), fds: v.map((x) => x.fds), flat: !grew && !fdGrew };
    ok &&= !grew && !fdGrew;
  }
  writeFileSync(path.join(ROOT, 'build/soak.json'), JSON.stringify({ minutes: MINUTES, requests, failures, summary }, null, 2));
  console.log(`\n${requests} requests, ${failures} failed, ${MINUTES} min`);
  for (const [n, v] of Object.entries(summary))
    console.log(`${v.flat ? 'flat ' : 'GROWS'} ${n.padEnd(11)} RSS MB ${v.rss_mb.join(' ')}  fds ${v.fds[0]}..${v.fds.at(-1)}`);
  process.exitCode = ok ? 0 : 1;
} catch (e) {
  console.error(e);
  s.dumpLogs();
  process.exitCode = 2;
} finally {
  running = false;
  await s.stop({ keep: process.exitCode !== 0 });
}
