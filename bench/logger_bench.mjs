// make bench: the logger's ingest rate. N RequestEvents (two attempts each, realistic sizes, in
// batches of 100 as edges send them) wait in SB_EVENTS while no logger runs; then one logger
// starts and the time until Postgres holds all N rows gives events per second (COPY batches into
// day partitions, acknowledged after commit).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Stack, waitUntil } from '../tests/integration/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// the NATS client and protobufjs come with the integration tests' packages
const requireIt = createRequire(path.resolve(HERE, '../tests/integration/package.json'));
const { headers } = requireIt('nats');
const protobuf = requireIt('protobufjs');
const N = Number(process.env.BENCH_EVENTS || 100000);

const s = new Stack();
try {
  await s.startInfra();
  s.logger({}, 'logger-setup'); // creates the stream and the tables
  await waitUntil(() => /event=ready/.test(s.logs('logger-setup')), { what: 'logger' });
  await s.kill('logger-setup');
  const root = await protobuf.load(path.join(HERE, '../proto/events.proto'));
  const RES = root.lookupType('sb.v1.RequestEvents');
  const nc = await s.natsConnect();
  const js = nc.jetstream();
  const now = Date.now() * 1000;
  let pending = [];
  // as edges send them: batches (here of 100), one message each
  for (let i = 0; i < N; i += 100) {
    const events = [];
    for (let j = i; j < Math.min(N, i + 100); j++) events.push({
      requestId: `b${j.toString(16).padStart(10, '0')}`, tsUs: now - (N - j) * 1000, tokenId: 't_bench',
      route: 'generateContent', api: 'gemini', model: 'gemini-2.5-flash', modelUsed: 'gemini-2.5-flash',
      attempts: [{ keyId: 'k_aaaaaaaaaaaa', project: 'p1', status: 429, errorClass: 'quota_minute', latencyUs: 900 },
                 { keyId: 'k_bbbbbbbbbbbb', project: 'p2', status: 200, latencyUs: 1800 }],
      status: 200, outcome: 'ok', finishReason: 'STOP', ttfbUs: 2500, totalUs: 3100, overheadUs: 400,
      promptTokens: 120, outputTokens: 480, thoughtTokens: 64, bytesIn: 900, bytesOut: 2400, edge: 'bench',
      attemptsTotal: 2 });
    const h = headers();
    h.set('Sb-Events', String(events.length));
    pending.push(js.publish('sb.v1.events.requests', RES.encode(RES.create({ events })).finish(), { headers: h, msgID: events[0].requestId }));
    if (pending.length === 20) { await Promise.all(pending); pending = []; }
  }
  await Promise.all(pending);
  await nc.close();
  const t0 = process.hrtime.bigint();
  s.logger({ SB_LOGGER_BATCH: process.env.BENCH_LOGGER_BATCH || '2000' }, 'logger');
  await waitUntil(() => Number(s.psql('SELECT count(*) FROM request_logs')) === N, { tries: 6000, interval: 50, what: `${N} rows` });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const attempts = Number(s.psql('SELECT count(*) FROM request_attempts'));
  console.log(`\nlogger: ${N} events (${attempts} attempt rows) into Postgres in ${secs.toFixed(2)} s = ` +
    `${Math.round(N / secs)} events/s (one logger, start-up included)`);
} finally {
  await s.stop();
}
