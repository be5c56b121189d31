// `make run` as a user sees it: tools/run.sh on free ports with a temp data folder, in demo mode;
// the banner's curl line must return a Gemini answer; Ctrl-C (SIGINT) must stop every process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execSync, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, freePorts, waitUntil } from './harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.SB_BUILD_DIR || path.join(ROOT, 'build');

// Start tools/run.sh on free ports with data folder `data`; resolves once its banner is out.
async function startRun(data) {
  const ports = { SB_HTTP_PORT: await freePort(), SB_NATS_PORT: await freePort(), SB_REDIS_PORT: await freePort(),
    SB_PG_PORT: await freePort(), SB_FAKE_PORT: await freePort() };
  const opsBase = await freePorts(5); // five ports from here
  const env = { ...process.env, BUILD, SB_DATA_DIR: data, SB_OPS_PORT_BASE: String(opsBase) };
  for (const [k, v] of Object.entries(ports)) env[k] = String(v);
  for (const k of ['GEMINI_API_KEYS', 'SB_CLIENT_TOKENS', 'GEMINI_BASE_URL']) delete env[k];
  const p = spawn('bash', [path.join(ROOT, 'tools/run.sh')], { env, cwd: ROOT, detached: true });
  const run = { p, ports, opsBase, out: '' };
  p.stdout.on('data', (d) => { run.out += d; });
  p.stderr.on('data', (d) => { run.out += d; });
  run.stop = async () => {
    if (p.exitCode === null) {
      process.kill(-p.pid, 'SIGINT');
      await new Promise((r) => p.on('exit', r));
    }
  };
  try {
    await waitUntil(() => run.out.includes('Ctrl-C stops everything'), { tries: 600, what: 'the banner' });
  } catch (e) {
    await run.stop();
    throw new Error(`${e.message}\n${run.out}`);
  }
  return run;
}

test('make run serves in demo mode, its curl line answers, and Ctrl-C stops everything', async () => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'sb-run-'));
  chmodSync(data, 0o755); // postgres keeps its cluster inside (else run.sh uses /var/lib/switchboard)
  const run = await startRun(data);
  const { ports, opsBase } = run;
  let out = run.out;
  try {
    assert.match(out, /DEMO MODE/);
    assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${ports.SB_HTTP_PORT}`));
    const curl = out.match(/curl -s[\s\S]*?-d '[^']*'/)[0].replace(/\\\n\s*/g, ' ');
    const answer = JSON.parse(execSync(curl, { shell: '/bin/bash' }).toString());
    assert.equal(answer.candidates[0].content.parts[0].text, 'Echo: Hello');
    // the console the banner names is there
    const consoleUrl = out.match(/Console: (\S+)/)[1];
    const page = await fetch(consoleUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="app.js">/);
    // first start: a generated admin password is shown once, kept 0600, and signs in
    const pw = out.match(/Admin: user admin, password (\S+)\s+\(shown once/)[1];
    assert.equal(statSync(path.join(data, 'admin_password')).mode & 0o777, 0o600);
    const login = await fetch(`http://127.0.0.1:${ports.SB_HTTP_PORT}/api/auth/login`, {
      method: 'POST', body: JSON.stringify({ username: 'admin', password: pw }) });
    assert.equal(login.status, 200);
    // the logger runs too: the banner's request is in the request log
    const session = (await login.json()).token;
    await waitUntil(async () => {
      const r = await fetch(`http://127.0.0.1:${ports.SB_HTTP_PORT}/api/logs?model=gemini-2.5-flash`, { headers: { authorization: `Bearer ${session}` } });
      return r.status === 200 && (await r.json()).items.length === 1;
    }, { tries: 100, what: 'the request in /api/logs' });
    // and the scheduler leads
    await waitUntil(async () => {
      const r = await fetch(`http://127.0.0.1:${ports.SB_HTTP_PORT}/api/scheduler`, { headers: { authorization: `Bearer ${session}` } });
      return r.status === 200 && (await r.json()).leader;
    }, { tries: 100, what: 'a scheduler leader in /api/scheduler' });
    const logs = readdirSync(path.join(data, 'logs')).map((f) => readFileSync(path.join(data, 'logs', f), 'utf8')).join('\n');
    assert.ok(logs.includes('event=admin.created'));
    assert.ok(!logs.includes(pw), 'the admin password is in no log');
    // every service answers on its ops port, as the banner says
    for (let i = 0; i < 5; i++) {
      assert.match(out, new RegExp(`127\\.0\\.0\\.1:${opsBase + i}`));
      const r = await fetch(`http://127.0.0.1:${opsBase + i}/metrics`);
      assert.equal(r.status, 200);
      assert.match(await r.text(), /^sb_build_info\{service="(edge|keypool|forwarder|logger|scheduler)"/m);
    }
  } finally {
    await run.stop();
  }
  out = run.out;
  assert.match(out, /stopped\./);
  let left = '';
  try { left = execFileSync('pgrep', ['-f', data]).toString().trim(); } catch { /* none left */ }
  assert.equal(left, '', 'no process of this run is left');
  for (const [name, port] of Object.entries(ports)) {
    const open = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('connect', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    assert.equal(open, false, `${name} ${port} is closed after Ctrl-C`);
  }
  rmSync(data, { recursive: true, force: true });
});

test('a data folder the postgres user cannot reach gets a cluster of its own, never a shared one', async () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'sb-run-hidden-'));
  chmodSync(parent, 0o700); // like /root: postgres cannot pass
  const data = path.join(parent, 'var');
  const where = `/var/lib/switchboard/${createHash('sha256').update(data).digest('hex').slice(0, 16)}`;
  const run = await startRun(data);
  try {
    assert.match(run.out, /the postgres user cannot reach .*var; this data folder's cluster is \/var\/lib\/switchboard\/[0-9a-f]{16}\/pg/);
    assert.equal(readFileSync(path.join(data, 'pg.location'), 'utf8').trim(), `${where}/pg`);
    assert.ok(statSync(`${where}/pg/data/PG_VERSION`).isFile());
  } finally {
    await run.stop();
    rmSync(where, { recursive: true, force: true });
    rmSync(parent, { recursive: true, force: true });
  }
});
