// make bench-scale: does throughput rise with forwarders? Every upstream answer takes 200 ms
// (the fake, FAKE_LATENCY_MS) and every forwarder takes at most SCALE_FWD_CAP transfers at once
// (FWD_MAX_INFLIGHT: what one pod is sized for), so capacity is forwarders x cap / 0.2 s. A
// closed-loop client keeps SCALE_CLIENTS requests in flight for SCALE_SECONDS per cell (a 503
// "every forwarder is busy" is retried after 10 ms) and counts answered requests per second.
// Then the same with two edges and two keypools, while a client token limited to RPM requests a
// minute is hammered through both edges: exactly RPM of its requests may pass.
import { Stack, sleep, waitUntil } from '../tests/integration/harness.mjs';

const SECONDS = Number(process.env.SCALE_SECONDS ?? 8);
const CLIENTS = Number(process.env.SCALE_CLIENTS ?? 384);
const CAP = Number(process.env.SCALE_FWD_CAP ?? 48);
const LATENCY = 200;
const KEYS = Array.from({ length: 8 }, (_, i) => `p${i}:scale-key-${String(i).padStart(12, '0')}`).join(',');
const BODY = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'scale' }] }] });

async function load(urls, token, seconds = SECONDS, clients = CLIENTS) {
  const end = Date.now() + seconds * 1000;
  let ok = 0, busy = 0, other = 0;
  const lat = [], statuses = {};
  const worker = async (w) => {
    const url = `${urls[w % urls.length]}/v1beta/models/gemini-2.5-flash:generateContent`;
    while (Date.now() < end) {
      const t0 = performance.now();
      try {
        const r = await fetch(url, { method: 'POST', body: BODY, headers: { 'x-goog-api-key': token, 'content-type': 'application/json' } });
        await r.arrayBuffer();
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 200) { ok++; lat.push(performance.now() - t0); } else if (r.status === 503) { busy++; await sleep(10); } else other++;
      } catch { other++; statuses.error = (statuses.error ?? 0) + 1; await sleep(10); }
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  lat.sort((a, b) => a - b);
  return { rps: ok / ((Date.now() - t0) / 1000), ok, busy, other, statuses, p50: lat[Math.floor(lat.length / 2)] ?? 0 };
}

const s = new Stack();
const rows = [];
try {
  await s.start(KEYS, { forwarders: 1, fakeEnv: { FAKE_LATENCY_MS: String(LATENCY) }, fwdEnv: { FWD_MAX_INFLIGHT: String(CAP) },
    edgeEnv: { SB_MAX_INFLIGHT: '4096' } });
  const fwdReady = async (n) => {
    for (const p of s.procs.filter((x) => x.sbName.startsWith('forwarder') && x.exitCode === null)) await s.ready(p);
    await sleep(2500); // the edges' pings see every forwarder
    return n;
  };
  let n = 1;
  for (const target of [1, 2, 4]) {
    while (n < target) s.forwarder({ FWD_MAX_INFLIGHT: String(CAP) }, `forwarder${n++}`);
    await fwdReady(n);
    await load([s.url], s.token, 2); // warm-up
    const r = await load([s.url], s.token);
    rows.push({ setup: `1 edge, 1 keypool, ${target} forwarder${target > 1 ? 's' : ''}`, capacity: (target * CAP * 1000) / LATENCY, ...r });
    console.log(JSON.stringify(rows.at(-1)));
  }
  // two edges, two keypools, four forwarders; a limited token hammered through both edges
  s.keypool({}, 'keypool1');
  await s.ready('keypool1');
  const e2 = await s.edge({}, 'edge2');
  await s.ready(e2);
  s.session = await s.login();
  const RPM = 150;
  const tok = await s.api('/api/tokens', { method: 'POST', body: { name: 'limited', rpm: RPM } });
  if (tok.status !== 201) throw new Error(`token: ${tok.status} ${tok.text}`);
  s.secrets.push(tok.body.secret);
  await waitUntil(async () => (await fetch(`${e2.url}/v1beta/models`, { headers: { 'x-goog-api-key': tok.body.secret } })).status === 200, { what: 'token on edge2' });
  await load([s.url, e2.url], s.token, 2);
  const [r, limited] = await Promise.all([load([s.url, e2.url], s.token), load([s.url, e2.url], tok.body.secret, SECONDS, 32)]);
  rows.push({ setup: '2 edges, 2 keypools, 4 forwarders', capacity: (4 * CAP * 1000) / LATENCY, ...r });
  console.log(JSON.stringify(rows.at(-1)));
  // admitted = answered + those admitted that then found every forwarder busy (a 503 still
  // counts), + the one model list that showed the token known on edge2
  const admitted = limited.ok + limited.busy + 1;
  console.log(`\nlimited token (rpm ${RPM}) through both edges at once: ${admitted} admitted (${limited.ok} answered, ` +
    `${limited.busy} found every forwarder busy, 1 model list), ${limited.other} refused with 429` +
    (admitted === RPM ? ' — exact' : ` — NOT EXACT (expected ${RPM}): ${JSON.stringify(limited.statuses)}`));
  console.log(`\nupstream ${LATENCY} ms per answer, ${CAP} transfers per forwarder, ${CLIENTS} clients, ${SECONDS} s per cell:\n`);
  console.log('| setup | capacity req/s | answered req/s | vs 1 forwarder | p50 ms | busy 503s |');
  console.log('|---|---|---|---|---|---|');
  for (const x of rows)
    console.log(`| ${x.setup} | ${x.capacity.toFixed(0)} | ${x.rps.toFixed(0)} | ${(x.rps / rows[0].rps).toFixed(2)}x | ${x.p50.toFixed(0)} | ${x.busy} |`);
  if (admitted !== RPM) process.exitCode = 1;
  if (!(rows[1].rps > rows[0].rps * 1.6 && rows[2].rps > rows[1].rps * 1.4)) { console.log('throughput did not rise with forwarders'); process.exitCode = 1; }
} finally {
  await s.stop();
}
