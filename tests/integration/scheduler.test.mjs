// Scheduler: dead-key probes (recovery, cadence, 429s, bounded concurrency), the daily quota reset
// at a configured instant, reaping leases a dead forwarder left open, job runs as events, and two
// replicas of which only the leader acts. Intervals are shortened by configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import protobuf from 'protobufjs';
import { withStack, waitUntil, sleep } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.resolve(HERE, '../../proto');
const FLASH = 'gemini-2.5-flash';
const rnd = (n) => randomBytes(n).toString('base64url').replace(/[-_]/g, 'x').slice(0, n);
const newKey = () => 'AIzaSy' + rnd(33);
const mask = (k) => `${k.slice(0, 4)}\u2026${k.slice(-4)}`;
// fast cadences: a dead key is first re-checked 2 s after it died, then 4 s, 8 s later
const FAST = { SB_PROBE_DEAD_S: '2', SB_PROBE_INVALID_S: '2', SB_PROBE_MAX_S: '60', SB_PROBE_TICK_S: '1' };

async function ids(s) {
  const keys = (await s.api('/api/keys?limit=500')).body.keys;
  return (k) => keys.find((x) => x.masked === mask(k)).id;
}
const keyState = async (s, id) => (await s.api('/api/keys?limit=500')).body.keys.find((k) => k.id === id);
// the fake upstream's model-list reads with key k after time t (probes and key tests)
const reads = async (s, k, t = 0) => (await s.stats()).log.filter((l) => l.key === k && !l.model && l.t > t).map((l) => l.t);
const job = async (s, name) => (await s.api('/api/scheduler')).body.jobs.find((j) => j.name === name);

// Kill key k now: the upstream calls it invalid, and a key test marks it dead.
async function killKey(s, k, id) {
  await s.script({ key: k, fault: 'invalid', count: -1 });
  const r = await s.api(`/api/keys/${id}/test`, { method: 'POST' });
  assert.equal(r.body.error_class, 'key_dead', r.text);
  await waitUntil(async () => (await keyState(s, id)).state === 'dead', { tries: 50, interval: 50, what: 'key dead' });
}

test('probes: a recovered key is restored, a dead one is re-checked no faster than its cadence, a 429 changes nothing', async () => {
  const KR = newKey(), KD = newKey(), KT = newKey(), KG = newKey();
  await withStack(`p1:${KR},p2:${KD},p3:${KT},p0:${KG}`, async (s) => {
    s.secrets.push(KR, KD, KT, KG);
    s.session = await s.login();
    const id = await ids(s);
    await waitUntil(async () => (await s.api('/api/scheduler')).body?.leader === 'scheduler', { what: 'a leader' });
    const diedAt = {};
    for (const k of [KR, KD, KT]) {
      await killKey(s, k, id(k));
      diedAt[k] = Date.now();
    }
    const died = diedAt[KT];
    await s.unscript(KR); // its project fixed the key: the next probe passes
    await s.unscript(KT);
    await s.script({ key: KT, fault: 'quota_minute', count: -1 }); // probes of KT get 429

    await waitUntil(async () => (await keyState(s, id(KR))).state === 'active', { tries: 100, what: 'KR restored' });
    const restoredAfter = Date.now() - diedAt[KR];
    assert.ok(restoredAfter >= 1900, `not before its first re-check (${restoredAfter} ms)`);
    assert.match(s.logs('keypool'), new RegExp(`event=key.state key_id=${id(KR)} project=p1 state=active old_state=dead reason=probe passed by=scheduler`));
    // it serves again
    await s.api('/api/keys/actions', { method: 'POST', body: { action: 'disable', ids: [id(KG)] } });
    const before = (await s.stats()).calls[KR];
    assert.equal((await s.gen(FLASH, 'back?')).status, 200);
    assert.equal((await s.stats()).calls[KR], before + 1);

    await sleep(13000 - (Date.now() - died));
    const d = await reads(s, KD, diedAt[KD]);
    // dead: probes at ~2 s, then 4 s later, then 8 s later (that one after this window)
    assert.equal(d.length, 2, `KD probed ${d.length} times in 13 s: ${d.map((t) => t - diedAt[KD])}`);
    assert.ok(d[0] - diedAt[KD] >= 1900, `first probe ${d[0] - diedAt[KD]} ms after death`);
    assert.ok(d[1] - d[0] >= 3900, `second probe ${d[1] - d[0]} ms after the first`);
    assert.equal((await keyState(s, id(KD))).state, 'dead');
    // throttled: the key stays dead with its reason, re-checked at the same 2 s cadence (no backoff)
    const t = await reads(s, KT, died);
    assert.ok(t.length >= 3, `KT probed ${t.length} times`);
    for (let i = 1; i < t.length; i++) assert.ok(t[i] - t[i - 1] >= 1900, `KT gap ${t[i] - t[i - 1]}`);
    const kt = await keyState(s, id(KT));
    assert.equal(kt.state, 'dead');
    assert.equal(kt.reason, 'API_KEY_INVALID');
    assert.match(s.logs('scheduler'), new RegExp(`event=probe.inconclusive key_id=${id(KT)} st=ok status=429 class=quota_minute`));
    // healthy keys are never probed
    assert.deepEqual(await reads(s, KG, died), []);
    const st = (await s.api('/api/scheduler')).body;
    assert.equal(st.probes.scheduled, 2);
  }, { schedulers: 1, schedEnv: FAST });
});

test('probes run at most SB_PROBE_CONCURRENCY at once; all dead keys are still checked', async () => {
  const dead = Array.from({ length: 9 }, newKey), KG = newKey();
  const keys = dead.map((k, i) => `d${i}:${k}`).join(',') + `,g:${KG}`;
  await withStack(keys, async (s) => {
    s.secrets.push(...dead, KG);
    s.session = await s.login();
    const id = await ids(s);
    for (const k of dead) await killKey(s, k, id(k));
    // every dead key answers its probe slowly, and well
    for (const k of dead) {
      await s.unscript(k);
      await s.script({ key: k, fault: 'latency', ms: 600, count: -1 });
    }
    // the scheduler starts now: reconcile finds the dead keys (no event needed)
    s.scheduler({ ...FAST, SB_PROBE_TICK_S: '3', SB_PROBE_CONCURRENCY: '3' });
    await waitUntil(async () => (await s.api('/api/keys?state=dead')).body.keys.length === 0,
      { tries: 150, what: 'every key restored' });
    assert.equal((await s.stats()).models_inflight_max, 3);
    const probe = await job(s, 'probe');
    assert.ok(probe.runs >= 2);
    assert.match((await job(s, 'reconcile')).last_result, /^dead=9$/);
  });
});

// Pacific wall time of instant ms, "HH:MM:SS"
const pacific = (ms) => new Intl.DateTimeFormat('en-GB', {
  timeZone: 'America/Los_Angeles', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
}).format(new Date(ms));

test('a (project, model) parked by a per-day quota returns at the configured reset instant', async () => {
  const KA = newKey(), KB = newKey();
  const at = Math.ceil((Date.now() + 9000) / 1000) * 1000;
  const reset = { SB_QUOTA_RESET_TIME: pacific(at) };
  await withStack(`pa:${KA},pb:${KB}`, async (s) => {
    s.secrets.push(KA, KB);
    s.session = await s.login();
    const id = await ids(s);
    await s.script({ key: KA, fault: 'quota_day', count: 1 });
    for (let i = 0; i < 4; i++) assert.equal((await s.gen(FLASH, `q${i}`)).status, 200);
    const cooling = (await s.api('/api/status')).body.cooling;
    assert.deepEqual(cooling.map((c) => [c.project, c.model, c.until_ms]), [['pa', FLASH, at]]);
    assert.equal((await job(s, 'quota_reset')).next_run, new Date(at).toISOString());
    // until then pa is skipped for flash
    await s.api('/api/keys/actions', { method: 'POST', body: { action: 'disable', ids: [id(KB)] } });
    assert.equal((await s.gen(FLASH, 'early')).status, 429);
    await waitUntil(async () => (await job(s, 'quota_reset')).runs >= 1, { tries: 150, what: 'the reset' });
    const j = await job(s, 'quota_reset');
    assert.ok(Date.parse(j.last_run) >= at, `ran at ${j.last_run}, reset ${new Date(at).toISOString()}`);
    assert.ok(Date.parse(j.last_run) < at + 1500);
    assert.equal(j.last_result, `returned=1 pairs=pa/${FLASH}`);
    assert.ok([23, 24, 25].includes((Date.parse(j.next_run) - at) / 3600000), `next ${j.next_run}`);
    assert.deepEqual((await s.api('/api/status')).body.cooling, []);
    assert.equal((await s.gen(FLASH, 'after')).status, 200);
  }, { schedulers: 1, kpEnv: reset, schedEnv: reset });
});

test('a forwarder killed with leases open: the leases are reaped after their deadline', async () => {
  const K1 = newKey();
  await withStack(`p1:${K1}`, async (s) => {
    s.secrets.push(K1);
    s.session = await s.login();
    const id = await ids(s);
    await s.script({ key: K1, fault: 'latency', ms: 20000, count: 1 });
    const t0 = Date.now();
    const pending = s.gen(FLASH, 'never answered').then((r) => r.status, () => 0);
    await waitUntil(async () => (await keyState(s, id(K1))).inflight === 1, { tries: 50, interval: 50, what: 'in flight' });
    // the forwarder dies, and the edge with it before it notices (an edge that lives gives the
    // lease of a dead forwarder back itself, within ~2 s): only the reaper is left to
    await s.kill('forwarder', 'SIGKILL');
    await s.kill('edge', 'SIGKILL');
    const status = await pending;
    assert.ok(status === 0 || status >= 500, `status ${status}`);
    const e2 = await s.edge({ SB_REQUEST_DEADLINE_MS: '3000' }, 'edge2');
    s.url = e2.url;
    await waitUntil(async () => { try { s.session = await s.login(); return true; } catch { return false; } }, { what: 'edge2 serving the admin API' });
    // lease lifetime: the deadline + 5 s; until then the count stays
    await sleep(Math.max(0, 6500 - (Date.now() - t0)));
    assert.ok((await keyState(s, id(K1))).inflight >= 1, 'not reaped before its deadline');
    await waitUntil(async () => (await keyState(s, id(K1))).inflight === 0, { tries: 80, what: 'leases reaped' });
    assert.ok(Date.now() - t0 >= 7500, 'reaped only after the lease deadline');
    await waitUntil(async () => /^reaped=[1-9]/.test((await job(s, 'leases')).last_result), { tries: 30, what: 'reap result' });
    assert.match(s.logs('keypool'), /event=lease.reaped count=\d/);
  }, { schedulers: 1, schedEnv: { SB_SCHED_LEASES_S: '1' }, edgeEnv: { SB_REQUEST_DEADLINE_MS: '3000' } });
});

test('two replicas: only the leader acts (no double probes); when it dies the other takes over within 5 s', async () => {
  const KD = newKey(), KG = newKey();
  await withStack(`p1:${KD},p0:${KG}`, async (s) => {
    s.secrets.push(KD, KG);
    s.session = await s.login();
    const id = await ids(s);
    const root = await protobuf.load(path.join(PROTO, 'events.proto'));
    const JobRun = root.lookupType('sb.v1.JobRun');
    const nc = await s.natsConnect();
    const runs = [];
    const sub = nc.subscribe('sb.v1.events.job');
    (async () => { for await (const m of sub) runs.push(JobRun.toObject(JobRun.decode(m.data))); })();

    await waitUntil(async () => (await s.api('/api/scheduler')).body?.leader, { what: 'a leader' });
    const leader = (await s.api('/api/scheduler')).body.leader;
    const other = leader === 'scheduler' ? 'scheduler1' : 'scheduler';
    await killKey(s, KD, id(KD));
    const died = Date.now();
    await sleep(9000);
    const d = await reads(s, KD, died);
    assert.equal(d.length, 2, `one probe per due time, not one per replica: ${d.map((t) => t - died)}`);
    assert.ok(d[1] - d[0] >= 3900);
    assert.ok(runs.length > 0 && runs.every((r) => r.scheduler === leader), JSON.stringify(runs.slice(0, 3)));
    for (const j of (await s.api('/api/scheduler')).body.jobs) {
      if (j.runs) assert.equal(j.last_by, leader, j.name);
    }

    // run now (an admin), answered by the leader; an unknown job is a 404
    const before = runs.length;
    const run = await s.api('/api/scheduler/leases/run', { method: 'POST' });
    assert.equal(run.status, 200, run.text);
    assert.equal(run.body.last_by, leader);
    await waitUntil(() => runs.slice(before).some((r) => r.job === 'leases' && r.trigger === 'admin' && r.admin === 'admin'), { what: 'job event' });
    assert.equal((await s.api('/api/scheduler/nope/run', { method: 'POST' })).status, 404);

    await s.kill(leader, 'SIGKILL');
    const t0 = Date.now();
    await waitUntil(async () => (await s.api('/api/scheduler')).body?.leader === other, { tries: 100, interval: 50, what: 'takeover' });
    const took = Date.now() - t0;
    assert.ok(took < 5000, `took over in ${took} ms`);
    await waitUntil(() => runs.some((r) => r.scheduler === other), { tries: 50, what: 'the new leader runs jobs' });
    await nc.close();
  }, { schedulers: 2, schedEnv: { ...FAST, SB_SCHED_LEASES_S: '1' } });
});

test('scheduler routes need an admin session; without a scheduler the edge says so', async () => {
  const K1 = newKey();
  await withStack(`p1:${K1}`, async (s) => {
    s.secrets.push(K1);
    assert.equal((await s.api('/api/scheduler', { session: null })).status, 401);
    assert.equal((await s.api('/api/scheduler', { session: null, headers: { authorization: `Bearer ${s.token}` } })).status, 401);
    s.session = await s.login();
    const r = await s.api('/api/scheduler');
    assert.equal(r.status, 503);
    assert.match(r.body.error.message, /No scheduler/);
  });
});
