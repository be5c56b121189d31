// Test harness: starts real nats-server, redis-server and PostgreSQL on free loopback ports in a
// temp dir, the fake Gemini upstream, and the real service binaries. Waiting is always a bounded
// poll. Every process is stopped by stop(); logs are kept in the temp dir and printed on failure.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, cpSync, existsSync, readFileSync, writeFileSync, rmSync, chownSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
export const NATS_USERS = ['edge', 'keypool', 'forwarder', 'logger', 'scheduler', 'provision', 'analytics'];
export const REDIS_USERS = ['keypool', 'edge', 'scheduler', 'admin'];

const BUILD = process.env.SB_BUILD_DIR || path.resolve(HERE, '../../build');
const PGBIN = '/usr/lib/postgresql/15/bin';
export const bin = (name) => ({
  edge: `${BUILD}/services/edge/edge`,
  keypool: `${BUILD}/services/keypool/keypool`,
  forwarder: `${BUILD}/services/forwarder/forwarder`,
  logger: `${BUILD}/services/logger/logger`,
  scheduler: `${BUILD}/services/scheduler/scheduler`,
  analytics: `${BUILD}/examples/analytics-consumer`,
  fake: `${BUILD}/tests/fake_gemini/fake-gemini`,
  provision: `${BUILD}/services/provision/provision`,
}[name]);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(fn, { tries = 100, interval = 100, what = 'condition' } = {}) {
  for (let i = 0; i < tries; i++) {
    try { if (await fn()) return; } catch { /* not yet */ }
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A port free now, below the kernel's ephemeral range (32768 and up): the ops listeners bind
// port 0 and every outbound connection takes an ephemeral port, so a port picked from that range
// could be taken again before the server meant for it binds.
const taken = new Set();
export async function freePort() {
  for (;;) {
    const port = 12000 + Math.floor(Math.random() * 20000);
    if (taken.has(port)) continue;
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.unref();
      s.on('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) { taken.add(port); return port; }
  }
}

// n consecutive free ports (below the ephemeral range): the first of them.
export async function freePorts(n) {
  for (;;) {
    const base = await freePort();
    let all = true;
    for (let i = 1; i < n && all; i++) all = await new Promise((resolve) => {
      const s = net.createServer();
      s.unref();
      s.on('error', () => resolve(false));
      s.listen(base + i, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (all) { for (let i = 1; i < n; i++) taken.add(base + i); return base; }
  }
}

async function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

const pgUid = () => Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
const asPostgres = (args) => execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', args], { stdio: 'pipe' });

// initdb once per build dir (it takes seconds), then copy the cluster per stack.
function pgTemplate() {
  const tpl = path.join(os.tmpdir(), `sb-pgtemplate-${process.getuid()}`);
  if (existsSync(path.join(tpl, 'data', 'PG_VERSION'))) return tpl;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sb-pgtpl-'));
  chownSync(tmp, pgUid(), 0);
  asPostgres(`${PGBIN}/initdb -D ${tmp}/data -U postgres --auth=trust -E UTF8 >/dev/null`);
  try { execFileSync('mv', ['-T', tmp, tpl]); } catch { rmSync(tmp, { recursive: true, force: true }); }
  return tpl;
}

export class Stack {
  constructor() {
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'sb-it-'));
    this.procs = [];
    this.token = 'sb-test-token-' + Math.random().toString(16).slice(2);
    this.adminPassword = 'admin-pw-' + Math.random().toString(16).slice(2);
    this.masterKey = randomBytes(32).toString('hex');
    this.forwardKey = randomBytes(32).toString('hex');
    this.secrets = [this.token, this.adminPassword, this.masterKey, this.forwardKey];
    // NATS: every service as its own user (deploy/config/nats-auth.conf), plus an observer that may
    // read and write every subject (tests only)
    this.natsPasswords = Object.fromEntries([...NATS_USERS, 'observer'].map((u) => [u, `nats-${u}-${randomBytes(9).toString('hex')}`]));
    this.secrets.push(...Object.values(this.natsPasswords));
    // Redis: ACL users (deploy/config/redis-users.acl), the admin one for the tests' own commands
    this.redisPasswords = Object.fromEntries(REDIS_USERS.map((u) => [u, `redis-${u}-${randomBytes(9).toString('hex')}`]));
    this.secrets.push(...Object.values(this.redisPasswords));
    // trust authentication ignores it: it is here to prove connection strings are never logged
    this.pgPassword = `pg-${randomBytes(9).toString('hex')}`;
    this.secrets.push(this.pgPassword);
  }

  pgDsn(user = 'postgres') {
    return `host=127.0.0.1 port=${this.pgPort} user=${user} password=${this.pgPassword} dbname=switchboard`;
  }

  redisCreds(user) { return { REDIS_USER: user, REDIS_PASSWORD: this.redisPasswords[user] }; }

  // The shipped ACL file with this stack's passwords; redis-server's arguments to use it.
  redisArgs() {
    let acl = readFileSync(path.join(ROOT, 'deploy/config/redis-users.acl'), 'utf8').split('\n').filter((l) => !l.startsWith('#')).join('\n');
    for (const u of REDIS_USERS) acl = acl.replaceAll(`\${SB_REDIS_${u.toUpperCase()}_PASSWORD}`, this.redisPasswords[u]);
    const file = path.join(this.dir, 'users.acl');
    writeFileSync(file, acl, { mode: 0o600 });
    return ['--bind', '127.0.0.1', '--port', String(this.redisPort), '--save', '', '--appendonly', 'no', '--aclfile', file];
  }

  // NATS_USER / NATS_PASSWORD of a service
  natsCreds(user) { return { NATS_USER: user, NATS_PASSWORD: this.natsPasswords[user] }; }

  // A nats.js connection as `user` (default: the observer, which may do anything).
  async natsConnect(user = 'observer', opts = {}) {
    const { connect } = await import('nats');
    const inbox = user === 'observer' ? {} : { inboxPrefix: `_INBOX_${user}` };
    const tls = this.natsCa ? { tls: { caFile: this.natsCa } } : {};
    return connect({ servers: this.natsUrl, user, pass: this.natsPasswords[user], ...inbox, ...tls, ...opts });
  }

  // A CA and a server certificate for 127.0.0.1 (openssl), for NATS over TLS; returns the tls
  // block of the server's configuration. Services then get NATS_TLS_CA.
  makeNatsTls() {
    const d = path.join(this.dir, 'tls');
    mkdirSync(d);
    const ossl = (...a) => execFileSync('openssl', a, { cwd: d, stdio: 'pipe' });
    ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=switchboard-test-ca');
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(path.join(d, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
    this.natsCa = path.join(d, 'ca.pem');
    return `tls { cert_file: "${d}/server.pem", key_file: "${d}/server.key" }\n`;
  }

  // The shipped users and permissions, plus the observer, in a NATS config of this stack's.
  writeNatsConfig(extra = '') {
    const auth = readFileSync(path.join(ROOT, 'deploy/config/nats-auth.conf'), 'utf8').replace('    # more users',
      '    { user: observer, password: $SB_NATS_OBSERVER_PASSWORD }\n    # more users');
    writeFileSync(path.join(this.dir, 'auth.conf'), auth);
    writeFileSync(path.join(this.dir, 'passwords.conf'), [...NATS_USERS, 'observer']
      .map((u) => `SB_NATS_${u.toUpperCase()}_PASSWORD: "${this.natsPasswords[u]}"\n`).join(''), { mode: 0o600 });
    const conf = path.join(this.dir, 'nats.conf');
    writeFileSync(conf, `listen: 127.0.0.1:${this.natsPort}\njetstream { store_dir: "${path.join(this.dir, 'js')}" }\n${extra}include ./auth.conf\n`);
    return conf;
  }

  // The provisioning step, as deployments run it before the services: each service's tables
  // (`<svc> --migrate`), then the stream, its consumers and the settings bucket (which the
  // services have no right to create).
  provision(env = {}) {
    if (this.pgPort && !this.migrated) {
      const pg = { PG_DSN: this.pgDsn() };
      for (const svc of ['edge', 'keypool', 'logger'])
        execFileSync(bin(svc), ['--migrate'], { env: { ...process.env, ...pg }, stdio: 'pipe' });
      this.migrated = true;
    }
    const tls = this.natsCa ? { NATS_TLS_CA: this.natsCa } : {};
    execFileSync(bin('provision'), [], { env: { ...process.env, NATS_URL: this.natsUrl, ...this.natsCreds('provision'), ...tls, ...env }, stdio: 'pipe' });
  }

  spawn(name, cmd, env) {
    const log = path.join(this.dir, `${name}.log`);
    const fd = require_fd(log);
    // every service's ops listener on a free port of its own (read back from its log), and a
    // short drain so that stopping a stack never waits on a stream
    const base = { LOG_LEVEL: 'info', SB_OPS_ADDR: '127.0.0.1:0', SB_DRAIN_S: '3', ...(this.natsCa ? { NATS_TLS_CA: this.natsCa } : {}) };
    const p = spawn(cmd, [], { env: { ...process.env, ...base, ...env }, stdio: ['ignore', fd, fd] });
    p.sbName = name;
    p.sbOurs = true;
    p.sbLog = log;
    this.procs.push(p);
    return p;
  }

  async startInfra(opts = {}) {
    this.natsPort = await freePort();
    this.redisPort = await freePort();
    this.pgPort = await freePort();
    this.natsConf = this.writeNatsConfig(opts.natsTls ? this.makeNatsTls() : '');
    this.spawnRaw('nats', 'nats-server', ['-c', this.natsConf]);
    this.spawnRaw('redis', 'redis-server', this.redisArgs());
    const tpl = pgTemplate();
    const pgdir = path.join(this.dir, 'pg');
    cpSync(tpl, pgdir, { recursive: true });
    execFileSync('chown', ['-R', 'postgres', pgdir]);
    execFileSync('chmod', ['700', path.join(pgdir, 'data')]);
    chownSync(this.dir, pgUid(), 0);
    asPostgres(`${PGBIN}/pg_ctl -D ${pgdir}/data -l ${pgdir}/log -w -o "-p ${this.pgPort} -k ${pgdir} -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null`);
    this.pgdir = pgdir;
    execFileSync('psql', ['-h', '127.0.0.1', '-p', String(this.pgPort), '-U', 'postgres', '-qc', 'CREATE DATABASE switchboard']);
    await waitUntil(() => portOpen(this.natsPort), { what: 'nats' });
    await waitUntil(() => portOpen(this.redisPort), { what: 'redis' });
    this.natsUrl = `nats://127.0.0.1:${this.natsPort}`;
    this.provision();
  }

  spawnRaw(name, cmd, args, env = process.env) {
    const log = path.join(this.dir, `${name}.log`);
    const fd = require_fd(log);
    const p = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
    p.sbName = name;
    p.sbLog = log;
    this.procs.push(p);
    return p;
  }

  // The ops listener's base URL of process p (or of the process named p), once it listens.
  async opsUrl(p) {
    if (typeof p === 'string') p = this.procs.find((x) => x.sbName === p && x.exitCode === null);
    if (p.opsUrl) return p.opsUrl;
    let port = null;
    await waitUntil(() => {
      const m = readFileSync(p.sbLog, 'utf8').match(/event=ops\.listening addr=\S+ port=(\d+)/);
      port = m && m[1];
      return port;
    }, { what: `${p.sbName} ops listener` });
    p.opsUrl = `http://127.0.0.1:${port}`;
    return p.opsUrl;
  }

  // GET path on the ops listener of process p: {status, text}.
  async ops(p, route) {
    const r = await fetch(`${await this.opsUrl(p)}${route}`);
    return { status: r.status, text: await r.text() };
  }

  // Wait until process p's /readyz answers 200.
  async ready(p, opts = {}) {
    await waitUntil(async () => (await this.ops(p, '/readyz')).status === 200, { what: `${p.sbName ?? p} ready`, ...opts });
  }

  async startFake(keys, env = {}) {
    this.fakePort = await freePort();
    this.fakeUrl = `http://127.0.0.1:${this.fakePort}`;
    this.spawn('fake', bin('fake'), { FAKE_PORT: String(this.fakePort), FAKE_KEYS: keys, ...env });
    await waitUntil(() => portOpen(this.fakePort), { what: 'fake upstream' });
  }

  keypool(env = {}, name = 'keypool') {
    return this.spawn(name, bin('keypool'), {
      NATS_URL: this.natsUrl, ...this.natsCreds('keypool'), REDIS_HOST: '127.0.0.1', REDIS_PORT: String(this.redisPort),
      ...this.redisCreds('keypool'),
      PG_DSN: this.pgDsn(),
      GEMINI_API_KEYS: this.keys, SB_MASTER_KEY: this.masterKey, SB_FORWARD_KEY: this.forwardKey, ...env,
    });
  }

  forwarder(env = {}, name = 'forwarder') {
    return this.spawn(name, bin('forwarder'), {
      NATS_URL: this.natsUrl, ...this.natsCreds('forwarder'), GEMINI_BASE_URL: this.fakeUrl,
      SB_VERTEX_BASE_URL: this.fakeUrl, SB_FORWARD_KEY: this.forwardKey, ...env,
    });
  }

  logger(env = {}, name = 'logger') {
    return this.spawn(name, bin('logger'), {
      NATS_URL: this.natsUrl, ...this.natsCreds('logger'), PG_DSN: this.pgDsn(),
      SB_LOGGER_FLUSH_MS: '50', ...env,
    });
  }

  scheduler(env = {}, name = 'scheduler') {
    return this.spawn(name, bin('scheduler'), {
      NATS_URL: this.natsUrl, ...this.natsCreds('scheduler'), REDIS_HOST: '127.0.0.1', REDIS_PORT: String(this.redisPort),
      ...this.redisCreds('scheduler'),
      SCHEDULER_ID: name, ...env,
    });
  }

  // Stop one of our processes by name (SIGTERM, bounded wait).
  async kill(name, signal = 'SIGTERM') {
    const p = this.procs.find((x) => x.sbName === name && x.exitCode === null);
    if (!p) return;
    const done = new Promise((r) => p.on('exit', r));
    p.kill(signal);
    await Promise.race([done, sleep(5000)]);
  }

  // Kill a server (nats, redis) at once, keep it down downMs, start it again on its port.
  async restartServer(which, downMs = 0) {
    const p = this.procs.find((x) => (x.sbName === which || x.sbName.startsWith(`${which}-`)) && x.exitCode === null);
    if (p) {
      const gone = new Promise((r) => p.on('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
    if (downMs) await sleep(downMs);
    const name = `${which}-${Date.now()}`;
    if (which === 'nats') this.spawnRaw(name, 'nats-server', ['-c', this.natsConf]);
    else this.spawnRaw(name, 'redis-server', this.redisArgs());
    await waitUntil(() => portOpen(which === 'nats' ? this.natsPort : this.redisPort), { tries: 100, interval: 20, what: `${which} back` });
  }

  pgStop() { asPostgres(`${PGBIN}/pg_ctl -D ${this.pgdir}/data -m immediate stop >/dev/null`); }
  pgStart() {
    asPostgres(`${PGBIN}/pg_ctl -D ${this.pgdir}/data -l ${this.pgdir}/log -w -o "-p ${this.pgPort} -k ${this.pgdir} -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null`);
  }

  async edge(env = {}, name = 'edge') {
    const port = await freePort();
    const p = this.spawn(name, bin('edge'), {
      NATS_URL: this.natsUrl, ...this.natsCreds('edge'), SB_HTTP_ADDR: '127.0.0.1', SB_HTTP_PORT: String(port),
      SB_CLIENT_TOKENS: this.token, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(this.redisPort),
      ...this.redisCreds('edge'),
      PG_DSN: this.pgDsn(),
      SB_ADMIN_PASSWORD: this.adminPassword, SB_ADMIN_PASSWORD_FILE: path.join(this.dir, 'admin_password'),
      // finished calls' events spooled in this stack's folder, by port: an edge restarted on the
      // port of one that was killed sends what it left
      SB_EVENTS_SPOOL: path.join(this.dir, `edge-${env.SB_HTTP_PORT ?? port}.spool`),
      ...env,
    });
    p.url = `http://127.0.0.1:${port}`;
    return p;
  }

  // keys: "project:key,..."; opts: { keypools, forwarders, loggers, schedulers, edgeEnv, fakeEnv,
  // kpEnv, fwdEnv, lgrEnv, schedEnv }
  async start(keys, opts = {}) {
    this.keys = keys;
    for (const k of keys.split(',')) this.secrets.push(k.split(':').pop());
    await this.startInfra(opts);
    await this.startFake(keys, opts.fakeEnv);
    for (let i = 0; i < (opts.keypools ?? 1); i++) this.keypool(opts.kpEnv, `keypool${i || ''}`);
    for (let i = 0; i < (opts.forwarders ?? 1); i++) this.forwarder(opts.fwdEnv, `forwarder${i || ''}`);
    for (let i = 0; i < (opts.loggers ?? 0); i++) this.logger(opts.lgrEnv, `logger${i || ''}`);
    for (let i = 0; i < (opts.schedulers ?? 0); i++) this.scheduler(opts.schedEnv, `scheduler${i || ''}`);
    const e = await this.edge(opts.edgeEnv);
    this.url = e.url;
    this.edgeProc = e;
    await this.ready(e);
    return this;
  }

  // --- admin API: api(path, {method, body, session, headers, url}) -> {status, body, headers}
  async api(p, { method = 'GET', body, session = this.session, headers = {}, url = this.url } = {}) {
    const h = { ...headers };
    if (session) h.authorization = `Bearer ${session}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const r = await fetch(`${url}${p}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, body: json, text, headers: r.headers };
  }
  async login(user = 'admin', password = this.adminPassword, url = this.url) {
    const r = await this.api('/api/auth/login', { method: 'POST', body: { username: user, password }, session: null, url });
    if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.text}`);
    this.secrets.push(r.body.token);
    return r.body.token;
  }

  // --- fake upstream control
  async script(s) {
    const r = await fetch(`${this.fakeUrl}/_fake/script`, { method: 'POST', body: JSON.stringify(s) });
    if (r.status !== 200) throw new Error('bad script ' + JSON.stringify(s));
  }
  async limits(l) { await fetch(`${this.fakeUrl}/_fake/limits`, { method: 'POST', body: JSON.stringify(l) }); }
  async stats() { return (await fetch(`${this.fakeUrl}/_fake/stats`)).json(); }
  async unscript(key) { await fetch(`${this.fakeUrl}/_fake/unscript`, { method: 'POST', body: JSON.stringify({ key }) }); }
  async fakeReset() { await fetch(`${this.fakeUrl}/_fake/reset`, { method: 'POST' }); }

  redisCli(user = 'admin') {
    return ['-p', String(this.redisPort), '--user', user, '--pass', this.redisPasswords[user], '--no-auth-warning'];
  }
  redis(...args) {
    return execFileSync('redis-cli', [...this.redisCli(), '--no-raw', ...args]).toString().trim();
  }
  redisRaw(...args) {
    return execFileSync('redis-cli', [...this.redisCli(), ...args]).toString().trim();
  }
  psqlAs(user, sql) {
    return execFileSync('psql', ['-h', '127.0.0.1', '-p', String(this.pgPort), '-U', user, '-d', 'switchboard', '-tAc', sql], { stdio: 'pipe' }).toString().trim();
  }
  psql(sql) {
    return execFileSync('psql', ['-h', '127.0.0.1', '-p', String(this.pgPort), '-U', 'postgres', '-d', 'switchboard', '-tAc', sql]).toString().trim();
  }

  // --- client helpers
  async gen(model, text, { stream = false, alt = 'sse', headers = {}, body, signal } = {}) {
    const action = stream ? 'streamGenerateContent' : 'generateContent';
    const q = stream && alt ? `?alt=${alt}` : '';
    return fetch(`${this.url}/v1beta/models/${model}:${action}${q}`, {
      method: 'POST',
      headers: { 'x-goog-api-key': this.token, 'content-type': 'application/json', ...headers },
      body: body ?? JSON.stringify({ contents: [{ role: 'user', parts: [{ text }] }] }),
      signal,
    });
  }

  logs(name) { return readFileSync(path.join(this.dir, `${name}.log`), 'utf8'); }
  allLogs() {
    return readdirSync(this.dir).filter((f) => f.endsWith('.log')).map((f) => readFileSync(path.join(this.dir, f), 'utf8')).join('\n');
  }

  async stop({ keep = false } = {}) {
    for (const p of [...this.procs].reverse()) {
      if (p.exitCode === null) p.kill('SIGTERM');
    }
    await Promise.all(this.procs.map((p) => p.exitCode !== null ? null : new Promise((r) => {
      // a sanitizer build reports slowly: give it time to write its stack before the kill
      const t = setTimeout(() => { p.sbKilled = true; p.kill('SIGKILL'); r(); }, /asan/.test(BUILD) ? 20000 : 5000);
      p.on('exit', () => { clearTimeout(t); r(); });
    })));
    if (this.pgdir) {
      try { asPostgres(`${PGBIN}/pg_ctl -D ${this.pgdir}/data -m immediate stop >/dev/null`); } catch { /* gone */ }
    }
    // a sanitizer report in any of our processes fails the test (make asan)
    const reports = this.procs.filter((p) => p.sbOurs).map((p) => [p.sbName, readFileSync(p.sbLog, 'utf8')])
      .filter(([, log]) => /ERROR: (Address|Leak)Sanitizer|runtime error:|event=nats\.close_slow/.test(log));
    if (keep || reports.length) console.error(`logs kept in ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
    if (reports.length) {
      throw new Error(`sanitizer report in ${reports.map(([n]) => n).join(', ')}:\n` +
        reports.map(([, l]) => l.split('\n').filter((x) => /Sanitizer|runtime error|#\d|close_slow/.test(x)).slice(0, 40).join('\n')).join('\n'));
    }
  }

  dumpLogs() {
    for (const p of this.procs) {
      try { console.error(`---- ${p.sbName} (exit ${p.exitCode})\n` + readFileSync(p.sbLog, 'utf8').split('\n').slice(-40).join('\n')); } catch { /* none */ }
    }
  }
}

// Run fn against a fresh stack; on failure print the services' logs and keep them on disk.
// Every secret the stack used must be absent from every log.
export async function withStack(keys, fn, opts = {}) {
  const s = new Stack();
  try {
    await s.start(keys, opts);
    await fn(s);
    const logs = s.allLogs();
    for (const secret of s.secrets) {
      if (logs.includes(secret)) throw new Error('a secret appeared in a service log');
    }
    // the services did all they did within their NATS permissions
    const violations = s.logs('nats').split('\n').filter((l) => /Violation/.test(l));
    if (violations.length && !opts.natsViolations) throw new Error(`NATS permissions refused a service:\n${violations.slice(0, 5).join('\n')}`);
  } catch (e) {
    s.dumpLogs();
    s.failed = true;
    throw e;
  } finally {
    await s.stop({ keep: s.failed });
  }
}

import { openSync } from 'node:fs';
function require_fd(file) { return openSync(file, 'a'); }

// Parse an SSE body into data payloads.
export function sseEvents(text) {
  return text.split(/\r\n\r\n|\n\n/).map((e) => e.trim()).filter((e) => e && !e.startsWith(':')) // comments: keep-alives
    .map((e) => e.replace(/^data: ?/, ''));
}

export function textOf(resp) {
  return (resp.candidates?.[0]?.content?.parts ?? []).filter((p) => !p.thought).map((p) => p.text ?? '').join('');
}

// next midnight in America/Los_Angeles after `ms`, computed independently of the gateway
export function nextPacificMidnight(ms) {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hour12: false,
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  // walk forward hour by hour until the local date changes, then minute by minute
  const dayOf = (t) => fmt.format(new Date(t)).split(',')[0];
  const d0 = dayOf(ms);
  let t = ms - (ms % 1000);
  while (dayOf(t + 3600e3) === d0) t += 3600e3;
  while (dayOf(t + 60e3) === d0) t += 60e3;
  while (dayOf(t + 1e3) === d0) t += 1e3;
  return t + 1e3;
}
