// Every service's ops listener: /metrics parses as Prometheus text (promtool's own linter and a
// strict parser here) with the families each service must export, /healthz is a heartbeat of
// the service's loop (a test hook stalls it), /readyz says what is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { waitUntil, withStack } from './harness.mjs';

const KEYS = 'pa:key-alpha-0000000001,pb:key-bravo-0000000002';
const FLASH = 'gemini-2.5-flash';
const SERVICES = ['edge', 'keypool', 'forwarder', 'logger', 'scheduler'];

// Parse the text exposition format (0.0.4) strictly: every sample belongs to a family declared
// by a TYPE line before it, names and labels are well formed, values are numbers, each family
// appears in one block, histograms have ascending cumulative buckets ending in +Inf = _count.
export function parseProm(text) {
  const families = new Map();
  let current = null;
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m;
    if ((m = line.match(/^# (HELP|TYPE) (\S+) (.*)$/))) {
      assert.match(m[2], name, line);
      if (!families.has(m[2])) families.set(m[2], { type: 'untyped', help: '', samples: [] });
      else assert.equal(families.get(m[2]).samples.length, 0, `family ${m[2]} declared after its samples`);
      if (m[1] === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]), line);
        families.get(m[2]).type = m[3];
      } else families.get(m[2]).help = m[3];
      current = m[2];
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/);
    assert.ok(m, `malformed sample: ${line}`);
    const labels = {};
    if (m[3]) {
      for (const pair of m[3].match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
        const [k, v] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 2, -1)];
        labels[k] = v;
      }
      assert.equal(m[3].replace(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g, '').replace(/,/g, ''), '', `bad labels: ${line}`);
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    assert.ok(!Number.isNaN(value), `bad value: ${line}`);
    const base = m[1].replace(/_(bucket|sum|count)$/, '');
    const fam = families.get(m[1]) ?? families.get(base);
    assert.ok(fam && (current === m[1] || current === base), `sample outside its family block: ${line}`);
    fam.samples.push({ name: m[1], labels, value });
  }
  for (const [n, f] of families) {
    if (f.type === 'counter') for (const s of f.samples) assert.ok(s.value >= 0, `${n} negative`);
    if (f.type !== 'histogram') continue;
    const groups = new Map();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      if (!groups.has(key)) groups.set(key, { buckets: [], count: null });
      if (s.name.endsWith('_bucket')) groups.get(key).buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
      if (s.name.endsWith('_count')) groups.get(key).count = s.value;
    }
    for (const g of groups.values()) {
      for (let i = 1; i < g.buckets.length; i++) {
        assert.ok(g.buckets[i][0] > g.buckets[i - 1][0], `${n}: bounds ascend`);
        assert.ok(g.buckets[i][1] >= g.buckets[i - 1][1], `${n}: buckets are cumulative`);
      }
      assert.equal(g.buckets.at(-1)[0], Infinity, `${n}: ends with +Inf`);
      assert.equal(g.buckets.at(-1)[1], g.count, `${n}: +Inf bucket = _count`);
    }
  }
  return families;
}

const sample = (fams, n, labels = {}) => {
  const f = fams.get(n.replace(/_(bucket|sum|count)$/, '')) ?? fams.get(n);
  assert.ok(f, `family ${n} is exported`);
  const s = f.samples.find((x) => x.name === n && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(s, `${n}${JSON.stringify(labels)} is exported`);
  return s.value;
};

test('all five services serve /metrics in the Prometheus text format, with their own families', () => withStack(KEYS, async (s) => {
  for (let i = 0; i < 4; i++) assert.equal((await s.gen(FLASH, `hello ${i}`)).status, 200);
  const st = await s.gen(FLASH, 'a stream', { stream: true });
  assert.equal(st.status, 200);
  await st.text();
  await s.ready('logger');
  await waitUntil(async () => sample(parseProm((await s.ops('logger', '/metrics')).text),
    'sb_logger_events_total', { result: 'stored' }) >= 5, { what: 'the logger stored the requests' });
  await waitUntil(async () => sample(parseProm((await s.ops('scheduler', '/metrics')).text),
    'sb_scheduler_leader') === 1, { what: 'a leader' });
  await waitUntil(async () => sample(parseProm((await s.ops('keypool', '/metrics')).text),
    'sb_keypool_keys', { state: 'active' }) === 2, { tries: 120, what: 'key gauges refreshed' });

  const fams = {};
  for (const name of SERVICES) {
    const r = await fetch(`${await s.opsUrl(name)}/metrics`);
    assert.equal(r.status, 200, name);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text });
    assert.equal(lint.status, 0, `promtool on ${name}: ${lint.stdout}${lint.stderr}`);
    fams[name] = parseProm(text);
    assert.equal(sample(fams[name], 'sb_build_info', { service: name }), 1);
    assert.equal(sample(fams[name], 'sb_ready'), 1, `${name} ready`);
    assert.equal(sample(fams[name], 'sb_draining'), 0);
    assert.ok(sample(fams[name], 'process_resident_memory_bytes') > 1e6);
    assert.ok(sample(fams[name], 'process_open_fds') > 3);
    assert.ok(!text.includes(s.token) && !text.includes('key-alpha'), `${name}: no secret in metrics`);
  }
  const e = fams.edge;
  assert.equal(sample(e, 'sb_requests_total', { route: 'generateContent', code: '2xx' }), 4);
  assert.equal(sample(e, 'sb_requests_total', { route: 'streamGenerateContent', code: '2xx' }), 1);
  assert.equal(sample(e, 'sb_gateway_overhead_seconds_count'), 5);
  assert.equal(sample(e, 'sb_time_to_first_byte_seconds_count'), 5);
  assert.equal(sample(e, 'sb_inflight'), 0);
  assert.equal(sample(e, 'sb_events_dropped_total'), 0);
  assert.equal(sample(e, 'sb_events_buffered'), 0);
  const k = fams.keypool;
  assert.equal(sample(k, 'sb_keypool_leases_total', { result: 'ok' }), 5);
  assert.equal(sample(k, 'sb_keypool_lease_duration_seconds_count'), 5);
  assert.equal(sample(k, 'sb_keypool_outcomes_total'), 5);
  assert.equal(sample(k, 'sb_keypool_keys', { state: 'unusable' }), 0);
  assert.equal(sample(k, 'sb_keypool_cooling_pairs'), 0);
  const f = fams.forwarder;
  assert.equal(sample(f, 'sb_forwarder_jobs_total', { result: 'accepted' }), 5);
  assert.equal(sample(f, 'sb_upstream_responses_total', { code: '2xx' }), 5);
  assert.equal(sample(f, 'sb_upstream_duration_seconds_count'), 5);
  assert.ok(sample(f, 'sb_upstream_received_bytes_total') > 0);
  assert.equal(sample(f, 'sb_forwarder_inflight'), 0);
  const l = fams.logger;
  assert.ok(sample(l, 'sb_logger_events_total', { result: 'stored' }) >= 5);
  assert.ok(sample(l, 'sb_logger_batch_duration_seconds_count') >= 1);
  assert.equal(sample(l, 'sb_logger_postgres_up'), 1);
  assert.ok('sb_logger_consumer_lag' && sample(l, 'sb_logger_consumer_lag') >= 0);
  const sc = fams.scheduler;
  assert.equal(sample(sc, 'sb_scheduler_leader'), 1);
  assert.ok(sample(sc, 'sb_scheduler_job_runs_total', { job: 'reconcile', result: 'ok' }) >= 1);
  assert.equal(sample(sc, 'sb_scheduler_probes_total', { result: 'restored' }), 0);
}, { loggers: 1, schedulers: 1 }));

test('/healthz follows each service\'s own loop: a stalled loop turns it 503, then it recovers', () => withStack(KEYS, async (s) => {
  for (const name of SERVICES) assert.equal((await s.ops(name, '/healthz')).status, 200, name);
  // the hook exists only with SB_TEST_HOOKS; without it the route is unknown
  assert.equal((await fetch(`${await s.opsUrl('edge')}/debug/stall?ms=10`, { method: 'POST' })).status, 202);
  await Promise.all(SERVICES.map(async (name) => {
    const r = await fetch(`${await s.opsUrl(name)}/debug/stall?ms=4000`, { method: 'POST' });
    assert.equal(r.status, 202, name);
  }));
  for (const name of SERVICES) {
    await waitUntil(async () => (await s.ops(name, '/healthz')).status === 503, { tries: 40, what: `${name} unhealthy` });
    assert.match((await s.ops(name, '/healthz')).text, new RegExp(`the ${name} loop has not turned`));
  }
  for (const name of SERVICES)
    await waitUntil(async () => (await s.ops(name, '/healthz')).status === 200, { tries: 80, what: `${name} healthy again` });
  assert.equal((await s.gen(FLASH, 'after the stall')).status, 200);
}, (() => {
  const env = { SB_TEST_HOOKS: 'true', SB_HEALTH_STALL_S: '1' };
  return { loggers: 1, schedulers: 1, edgeEnv: env, kpEnv: env, fwdEnv: env, lgrEnv: env, schedEnv: env };
})()));

test('the stall hook is off unless SB_TEST_HOOKS is set; /readyz says what is missing', () => withStack(KEYS, async (s) => {
  const r = await fetch(`${await s.opsUrl('edge')}/debug/stall?ms=10`, { method: 'POST' });
  assert.equal(r.status, 404);
  assert.equal((await s.ops('edge', '/nope')).status, 404);
  await s.kill('forwarder');
  await waitUntil(async () => (await s.ops('edge', '/readyz')).status === 503, { tries: 60, what: 'edge not ready' });
  assert.match((await s.ops('edge', '/readyz')).text, /not ready: no keypool or no forwarder answers/);
  assert.equal((await s.ops('edge', '/healthz')).status, 200, 'alive, though not ready');
}));
