// The bus keeps secrets: every service is a NATS user of its own with exactly the subjects it
// needs (deploy/config/nats-auth.conf, the shipped file), inboxes are private, anonymous clients are
// refused, and no key crosses the bus in clear (keypool seals it for the forwarders).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { sleep, waitUntil, withStack } from './harness.mjs';

const KEYS = 'pa:AIzaSyA-plaintext-key-alpha-00000001,pb:AQ.Ab8RN6plaintextkeybravo000000002';
const SECRETS = KEYS.split(',').map((k) => k.split(':')[1]);
const FLASH = 'gemini-2.5-flash';

test('anonymous and wrong-password connections are refused', () => withStack(KEYS, async (s) => {
  const { connect } = await import('nats');
  await assert.rejects(connect({ servers: s.natsUrl, reconnect: false }), (e) => /AUTHORIZATION_VIOLATION|Authorization/i.test(`${e.code} ${e.message}`));
  await assert.rejects(connect({ servers: s.natsUrl, user: 'edge', pass: 'wrong', reconnect: false }), (e) => /AUTHORIZATION_VIOLATION|Authorization/i.test(`${e.code} ${e.message}`));
  await assert.rejects(connect({ servers: s.natsUrl, user: 'observer2', pass: 'x', reconnect: false }));
}, { natsViolations: true }));

test('permissions: each service may do exactly its part', () => withStack(KEYS, async (s) => {
  const observer = await s.natsConnect();
  const seenAdmin = [];
  const adminSub = observer.subscribe('sb.v1.keypool.admin.>');
  (async () => { for await (const m of adminSub) seenAdmin.push(m.subject); })();
  await observer.flush();

  // a forwarder (or the scheduler) cannot ask keypool's admin operations: reveal is the edge's
  const fwd = await s.natsConnect('forwarder');
  fwd.publish('sb.v1.keypool.admin.reveal', new Uint8Array([10, 1, 120]));
  const sched = await s.natsConnect('scheduler');
  sched.publish('sb.v1.keypool.admin.reveal', new Uint8Array([10, 1, 120]));
  sched.publish('sb.v1.keypool.admin.add', new Uint8Array([10, 1, 120]));
  // the edge cannot take forward jobs, nor read another service's inbox
  const edge = await s.natsConnect('edge');
  const subs = [
    edge.subscribe('sb.v1.forward'), edge.subscribe('sb.v1.forward', { queue: 'forwarder' }),
    edge.subscribe('_INBOX_keypool.>'), edge.subscribe('sb.v1.keypool.lease'),
    fwd.subscribe('_INBOX_edge.>'), fwd.subscribe('sb.v1.keypool.admin.*'),
    sched.subscribe('sb.v1.events.requests'),
  ];
  // nor may anyone but the provisioning user create or delete JetStream objects
  edge.publish('$JS.API.STREAM.DELETE.SB_EVENTS');
  (await s.natsConnect('logger')).publish('$JS.API.STREAM.CREATE.X');
  await Promise.all([fwd.flush(), sched.flush(), edge.flush()]);
  await sleep(300);
  const log = s.logs('nats');
  const refused = (user, kind, subject) => assert.ok(
    log.includes(`${kind} Violation - User "${user}", Subject "${subject}"`), `${user} refused ${kind} ${subject}`);
  refused('forwarder', 'Publish', 'sb.v1.keypool.admin.reveal');
  refused('scheduler', 'Publish', 'sb.v1.keypool.admin.reveal');
  refused('scheduler', 'Publish', 'sb.v1.keypool.admin.add');
  refused('edge', 'Subscription', 'sb.v1.forward');
  refused('edge', 'Subscription', '_INBOX_keypool.>');
  refused('edge', 'Subscription', 'sb.v1.keypool.lease');
  refused('forwarder', 'Subscription', '_INBOX_edge.>');
  refused('forwarder', 'Subscription', 'sb.v1.keypool.admin.*');
  refused('scheduler', 'Subscription', 'sb.v1.events.requests');
  refused('edge', 'Publish', '$JS.API.STREAM.DELETE.SB_EVENTS');
  refused('logger', 'Publish', '$JS.API.STREAM.CREATE.X');
  assert.deepEqual(seenAdmin, [], 'nothing refused reached a keypool subject');
  assert.doesNotMatch(s.logs('keypool'), /event=admin|key\.reveal/);
  for (const sub of subs) sub.unsubscribe();

  // keypool takes the scheduler's operations only on the scheduler's subjects, and the admin's
  // only on the admin's: an operator's credentials for one do not reach the other
  const asker = await s.natsConnect('observer', { inboxPrefix: '_INBOX_scheduler' }); // keypool answers there
  const r = await asker.request('sb.v1.keypool.sched.reveal', new Uint8Array([10, 1, 120]), { timeout: 2000 });
  assert.match(new TextDecoder().decode(r.data), /unknown key operation/);
  const r2 = await asker.request('sb.v1.keypool.admin.reap', new Uint8Array(), { timeout: 2000 });
  assert.match(new TextDecoder().decode(r2.data), /unknown key operation/);

  // and what each may do, it does: the whole stack served through these permissions
  assert.equal((await s.gen(FLASH, 'within the rules')).status, 200);
  await asker.close();
  await observer.close();
}, { natsViolations: true, loggers: 1, schedulers: 1 }));

test('no key crosses the bus in clear: an observer of every subject sees only sealed secrets', () => withStack(KEYS, async (s) => {
  const observer = await s.natsConnect();
  const seen = [];
  const sub = observer.subscribe('>');
  (async () => { for await (const m of sub) seen.push(m); })();
  await observer.flush();
  const count = seen.length;

  // native, stream, OpenAI, an admin key test, a dead key probed back to life by the scheduler
  assert.equal((await s.gen(FLASH, 'one')).status, 200);
  await (await s.gen(FLASH, 'two three', { stream: true })).text();
  const ai = new OpenAI({ apiKey: s.token, baseURL: `${s.url}/v1` });
  const chat = await ai.chat.completions.create({ model: FLASH, messages: [{ role: 'user', content: 'hi' }] });
  assert.match(chat.choices[0].message.content, /hi/);
  s.session = await s.login();
  const keys = (await s.api('/api/keys')).body.keys;
  const t = await s.api(`/api/keys/${keys[0].id}/test`, { method: 'POST' });
  assert.equal(t.body.ok, true);
  await s.script({ key: SECRETS[1], fault: 'invalid', count: 1 });
  for (let i = 0; i < 3; i++) assert.equal((await s.gen(FLASH, `x${i}`)).status, 200);
  await waitUntil(async () => (await s.api('/api/keys')).body.keys.every((k) => k.state === 'active'),
    { tries: 150, what: 'the dead key probed and restored' });
  await sleep(300);
  sub.unsubscribe();

  assert.ok(seen.length - count > 20, 'the observer saw the traffic');
  const bytes = (m) => Buffer.concat([Buffer.from(m.subject), Buffer.from(m.data),
    Buffer.from(m.headers ? [...m.headers].map(([k, v]) => `${k}:${v.join(',')}`).join('\n') : '')]);
  for (const m of seen) {
    const b = bytes(m);
    for (const secret of SECRETS) assert.ok(!b.includes(Buffer.from(secret)), `a plaintext key on ${m.subject}`);
  }
  const sealed = seen.filter((m) => m.subject === 'sb.v1.forward' && Buffer.from(m.data).includes(Buffer.from('v1:')));
  assert.ok(sealed.length >= 5, 'forward requests carry sealed secrets');
  const probes = seen.filter((m) => m.subject === 'sb.v1.forward.probe');
  assert.ok(probes.length >= 1, 'the probe went by');
  await observer.close();
}, { loggers: 1, schedulers: 1, schedEnv: { SB_PROBE_INVALID_S: '1', SB_PROBE_DEAD_S: '1', SB_PROBE_TICK_S: '1' } }));

test('a forwarder without the right forward key refuses to run the key, and says why', () => withStack(KEYS, async (s) => {
  await s.kill('forwarder');
  await s.ready(s.forwarder({ SB_FORWARD_KEY: 'ab'.repeat(32) }, 'forwarder-wrong'));
  await s.ready(s.edgeProc);
  const r = await s.gen(FLASH, 'sealed for another');
  assert.ok(r.status >= 500, `status ${r.status}`);
  assert.match(s.logs('forwarder-wrong'), /event=forward\.unsealable/);
  assert.equal((await s.stats()).calls[SECRETS[0]] ?? 0, 0, 'Google was never called with a wrong key');
  // rotating it: forwarders take the new key and still accept the old one, then keypool moves
  await s.kill('forwarder-wrong');
  await s.ready(s.forwarder({ SB_FORWARD_KEY: 'ef'.repeat(32), SB_FORWARD_KEY_PREVIOUS: s.forwardKey }, 'forwarder-rot'));
  await s.ready(s.edgeProc);
  await waitUntil(async () => (await s.gen(FLASH, 'old key still opens')).status === 200, { tries: 20, what: 'served during the rotation' });
  const bad = s.forwarder({ SB_FORWARD_KEY: '' }, 'forwarder-nokey');
  await new Promise((res) => bad.on('exit', res));
  assert.notEqual(bad.exitCode, 0);
  assert.match(s.logs('forwarder-nokey'), /step=forward_key/);
}));

test('Redis: anonymous clients are refused, and each service reaches only its own keys', () => withStack(KEYS, async (s) => {
  const { execFileSync } = await import('node:child_process');
  const cli = (user, ...args) => {
    const auth = user ? ['--user', user, '--pass', s.redisPasswords[user], '--no-auth-warning'] : [];
    try { return execFileSync('redis-cli', ['-p', String(s.redisPort), ...auth, ...args], { stdio: 'pipe' }).toString(); } catch (e) { return `${e.stdout}${e.stderr}`; }
  };
  assert.match(cli(null, 'SET', 'sb:sess:forged', 'admin'), /NOAUTH|NOPERM|WRONGPASS/);
  assert.match(cli(null, 'GET', 'sb:k:x'), /NOAUTH|NOPERM|WRONGPASS/);
  // the classic forgery: an admin session written by anything but the edge
  assert.match(cli('keypool', 'SET', 'sb:sess:forged', 'admin'), /NOPERM/);
  assert.match(cli('scheduler', 'SET', 'sb:sess:forged', 'admin'), /NOPERM/);
  assert.match(cli('edge', 'GET', 'sb:k:anything'), /NOPERM/);
  assert.match(cli('edge', 'SET', 'sb:sched:leader', 'me'), /NOPERM/);
  assert.match(cli('keypool', 'FLUSHALL'), /NOPERM/);
  assert.equal(s.redis('EXISTS', 'sb:sess:forged'), '(integer) 0');
  // and with exactly those rights the services work: a session, limits, leases, a leader
  s.session = await s.login();
  assert.equal((await s.api('/api/status')).status, 200);
  assert.equal((await s.gen(FLASH, 'through the ACLs')).status, 200);
  await waitUntil(async () => (await s.api('/api/scheduler')).body?.leader, { what: 'a leader' });
  assert.notEqual(s.redis('KEYS', 'sb:sess:*'), '');
}, { schedulers: 1 }));

test('NATS over TLS: every service connects with NATS_TLS_CA, and a client that does not trust that CA is refused', () => withStack(KEYS, async (s) => {
  assert.equal((await s.gen(FLASH, 'over tls')).status, 200);
  await (await s.gen(FLASH, 'a stream over tls', { stream: true })).text();
  for (const name of ['edge', 'keypool', 'forwarder', 'logger', 'scheduler']) assert.equal((await s.ops(name, '/readyz')).status, 200, name);
  const { connect } = await import('nats');
  await assert.rejects(connect({ servers: s.natsUrl, user: 'edge', pass: s.natsPasswords.edge, reconnect: false, timeout: 2000 }));
  // the observer, with the CA, sees the request traffic go by
  const nc = await s.natsConnect();
  const sub = nc.subscribe('sb.v1.forward', { max: 1 });
  const got = (async () => { for await (const m of sub) return m.subject; })();
  await nc.flush();
  await s.gen(FLASH, 'seen');
  assert.equal(await got, 'sb.v1.forward');
  await nc.close();
}, { natsTls: true, loggers: 1, schedulers: 1 }));

test('PostgreSQL: once provisioned (<svc> --migrate), keypool and the edge run with a role that may only read and write', () => withStack(KEYS, async (s) => {
  s.psql(`CREATE ROLE sb_app LOGIN;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO sb_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO sb_app;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
  assert.match((() => { try { return s.psqlAs('sb_app', 'CREATE TABLE nope (x int)'); } catch (e) { return String(e.stderr ?? e); } })(), /permission denied/);
  const dsn = `host=127.0.0.1 port=${s.pgPort} user=sb_app dbname=switchboard`;
  await s.kill('keypool');
  await s.ready(s.keypool({ PG_DSN: dsn }, 'keypool-dml'));
  const e = await s.edge({ PG_DSN: dsn }, 'edge-dml');
  await s.ready(e);
  const r = await fetch(`${e.url}/v1beta/models/${FLASH}:generateContent`, { method: 'POST',
    headers: { 'x-goog-api-key': s.token, 'content-type': 'application/json' }, body: JSON.stringify({ contents: [{ parts: [{ text: 'least privilege' }] }] }) });
  assert.equal(r.status, 200);
  const session = await s.login('admin', s.adminPassword, e.url);
  assert.equal((await s.api('/api/keys', { session, url: e.url })).status, 200);
  for (const n of ['keypool-dml', 'edge-dml']) assert.doesNotMatch(s.logs(n), /permission denied|startup\.failed/);
}));
