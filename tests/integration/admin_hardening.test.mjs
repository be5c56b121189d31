// The admin API against an attacker: cookie sessions and cross-site writes, where keys go
// (https and the password again), reveals limited and audited, login throttling by the real client
// address behind trusted proxies only, live tails that end with their session, and start-up
// refusing placeholder secrets or a password nobody could read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withStack, waitUntil, sleep } from './harness.mjs';

const KEY = 'AIzaSyHardeningKey0000000000000000000000';
const KEYS = `pa:${KEY}`;

test('cookie sessions: Secure by default, and writes need the console\'s own Origin', async () => {
  await withStack(KEYS, async (s) => {
    const login = await s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: s.adminPassword } });
    assert.match(login.headers.get('set-cookie'), /; Secure/);
    const tok = login.body.token;
    s.secrets.push(tok);
    const cookie = { cookie: `sb_session=${tok}` };
    const host = new URL(s.url).host;
    const write = (headers) => s.api('/api/tokens', { method: 'POST', session: null, headers: { ...cookie, 'x-sb-console': '1', ...headers }, body: { name: 'csrf' } });
    // reads with the cookie pass; writes without an Origin, or from another site, do not
    assert.equal((await s.api('/api/auth/me', { session: null, headers: cookie })).status, 200);
    for (const origin of [undefined, 'https://evil.example', 'null', `http://${host}.evil.example`]) {
      const r = await write(origin ? { origin } : {});
      assert.equal(r.status, 403, `Origin ${origin}`);
      assert.match(r.body.error.message, /own origin/);
    }
    // same origin, but without the console's header, or with a form's content type: refused too
    const own = { origin: `http://${host}` };
    let r = await s.api('/api/tokens', { method: 'POST', session: null, headers: { ...cookie, ...own }, body: { name: 'csrf' } });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /X-SB-Console/);
    r = await fetch(`${s.url}/api/tokens`, { method: 'POST', headers: { ...cookie, ...own, 'x-sb-console': '1', 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'csrf' }) });
    assert.equal(r.status, 403);
    assert.equal(s.psql("SELECT count(*) FROM edge_tokens WHERE name = 'csrf'"), '0');
    assert.equal((await write({ origin: `http://${host}` })).status, 201);
    assert.equal((await write({ origin: 'https://console.example' })).status, 201, 'SB_ADMIN_ORIGINS');
    // a Bearer session is not sent by browsers on their own: no Origin needed
    assert.equal((await s.api('/api/tokens', { method: 'POST', session: tok, body: { name: 'cli' } })).status, 201);
  }, { edgeEnv: { SB_ADMIN_ORIGINS: 'https://console.example' } });
});

test('where keys go: https only, and only with the password again; reveals are limited and audited', async () => {
  await withStack(KEYS, async (s) => {
    s.session = await s.login();
    const put = (body) => s.api('/api/settings', { method: 'PUT', body });
    let r = await put({ upstream_base_url: 'http://generativelanguage.example' });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /https:\/\//);
    assert.equal((await put({ upstream_base_url: 'https://gw.example' })).status, 403);
    assert.equal((await put({ upstream_proxy: 'http://proxy.example:3128' })).status, 403);
    r = await put({ upstream_base_url: 'https://gw.example', current_password: 'not-the-password' });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /wrong/);
    r = await put({ upstream_base_url: 'https://gw.example', current_password: s.adminPassword });
    assert.equal(r.status, 200, r.text);
    assert.equal((await put({ upstream_base_url: null })).status, 200, 'back to the default needs no password');
    assert.equal((await put({ retry_budget: 3 })).status, 200, 'other settings need none');

    const id = (await s.api('/api/keys')).body.keys[0].id;
    for (let i = 0; i < 2; i++) {
      const rv = await s.api(`/api/keys/${id}/reveal`, { method: 'POST' });
      assert.equal(rv.status, 200);
      assert.equal(rv.body.key, KEY);
    }
    r = await s.api(`/api/keys/${id}/reveal`, { method: 'POST' });
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.ok(!r.text.includes(KEY));
    const audit = s.psql("SELECT string_agg(action, ',' ORDER BY id) FROM edge_audit WHERE action LIKE 'key.reveal%'");
    assert.equal(audit, 'key.reveal,key.reveal,key.reveal_refused');
  }, { edgeEnv: { SB_REVEALS_PER_HOUR: '2' } });
});

test('login throttling counts the real client behind a trusted proxy, and X-Forwarded-For from anyone else is ignored', async () => {
  await withStack(KEYS, async (s) => {
    const attempt = (url, user, xff) => s.api('/api/auth/login', { method: 'POST', url, headers: xff ? { 'x-forwarded-for': xff } : {}, body: { username: user, password: 'wrong-password' } });
    const behind = await s.edge({ SB_TRUSTED_PROXIES: '127.0.0.0/8', SB_LOGIN_MAX_FAILURES: '2' }, 'edge-proxied');
    await s.ready(behind);
    // twelve clients behind the proxy, a failure each: none is limited by the others
    for (let i = 0; i < 12; i++) assert.equal((await attempt(behind.url, `user${i}`, `198.51.100.${i}, 127.0.0.1`)).status, 401);
    assert.match(s.logs('edge-proxied'), /event=admin.login_failed .*client=198\.51\.100\.11/);
    // one client behind the proxy trying many names is (4 x 2 failures per address)
    const codes = [];
    for (let i = 0; i < 10; i++) codes.push((await attempt(behind.url, `other${i}`, '203.0.113.50')).status);
    assert.ok(codes.includes(429), codes.join());
    // without trusted proxies the header is the client's own words: the socket's address counts
    const codes2 = [];
    for (let i = 0; i < 10; i++) codes2.push((await attempt(s.url, `direct${i}`, `198.51.100.${100 + i}`)).status);
    assert.ok(codes2.includes(429), codes2.join());
    assert.doesNotMatch(s.logs('edge'), /client=198\.51\.100\./);
  }, { edgeEnv: { SB_LOGIN_MAX_FAILURES: '2' } });
});

test('a live tail ends when its session signs out or the password changes, on every edge', async () => {
  await withStack(KEYS, async (s) => {
    const e2 = await s.edge({}, 'edge2');
    await s.ready(e2);
    const open = async (session, url) => {
      const ac = new AbortController();
      const r = await fetch(`${url}/api/logs/stream`, { headers: { authorization: `Bearer ${session}` }, signal: ac.signal });
      assert.equal(r.status, 200);
      const reader = r.body.getReader();
      const tail = { text: '', ended: false, ac };
      (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            tail.text += Buffer.from(value).toString();
          }
        } catch { /* aborted */ }
        tail.ended = true;
      })();
      await waitUntil(() => tail.text.includes(': connected'), { tries: 40, interval: 25, what: 'tail open' });
      return tail;
    };
    const a = await s.login();
    const b = await s.login();
    const tailA = await open(a, e2.url); // on the other edge
    const tailB = await open(b, s.url);
    // sign out session a on the first edge: its tail on the second edge ends at once
    assert.equal((await s.api('/api/auth/logout', { method: 'POST', session: a })).status, 200);
    await waitUntil(() => tailA.ended, { tries: 40, interval: 25, what: 'tail a ended' });
    assert.match(tailA.text, /event: end/);
    assert.equal(tailB.ended, false, 'another session\'s tail stays');
    // a password change from a third session ends every other session's tail
    const c = await s.login();
    const tailC = await open(c, e2.url);
    const pw = 'another-long-password-' + Math.random().toString(16).slice(2);
    s.secrets.push(pw);
    const ch = await s.api('/api/auth/password', { method: 'POST', session: c, body: { current_password: s.adminPassword, new_password: pw } });
    assert.equal(ch.status, 200, ch.text);
    await waitUntil(() => tailB.ended, { tries: 40, interval: 25, what: 'tail b ended' });
    await sleep(200);
    assert.equal(tailC.ended, false, 'the session that changed it keeps its tail');
    tailC.ac.abort();
  });
});

test('start-up refuses placeholder and short secrets, and never creates an admin whose password it could not write', async () => {
  await withStack(KEYS, async (s) => {
    const exits = async (name, env) => {
      const p = await s.edge(env, name);
      await waitUntil(() => p.exitCode !== null, { what: `${name} exits` });
      assert.notEqual(p.exitCode, 0);
      return s.logs(name);
    };
    assert.match(await exits('e-placeholder', { SB_ADMIN_PASSWORD: "<the first admin's password, 12+ characters>" }),
      /event=config.invalid .*SB_ADMIN_PASSWORD holds a placeholder/);
    assert.match(await exits('e-short', { SB_ADMIN_PASSWORD: 'short-pw' }), /at least 12 characters/);
    assert.match(await exits('e-token', { SB_CLIENT_TOKENS: 'changeme' }), /SB_CLIENT_TOKENS holds a placeholder/);
    const kp = s.keypool({ SB_MASTER_KEY: '<64 hex digits: openssl rand -hex 32>' }, 'kp-placeholder');
    await waitUntil(() => kp.exitCode !== null, { what: 'keypool exits' });
    assert.match(s.logs('kp-placeholder'), /SB_MASTER_KEY holds a placeholder/);

    // a fresh database without admins: the generated password goes to a folder that cannot be written
    s.psql('DELETE FROM edge_users');
    const log = await exits('e-rofs', { SB_ADMIN_PASSWORD: '', SB_ADMIN_PASSWORD_FILE: '/proc/sb-no-such-folder/admin_password' });
    assert.match(log, /event=admin.password_file_failed .*action=no_admin_created/);
    assert.equal(s.psql('SELECT count(*) FROM edge_users'), '0', 'no admin nobody knows the password of');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-pw-'));
    try {
      const file = path.join(dir, 'admin_password');
      const e = await s.edge({ SB_ADMIN_PASSWORD: '', SB_ADMIN_PASSWORD_FILE: file }, 'e-ok');
      await s.ready(e);
      const pw = readFileSync(file, 'utf8').trim();
      s.secrets.push(pw);
      assert.equal((await s.api('/api/auth/login', { method: 'POST', url: e.url, body: { username: 'admin', password: pw } })).status, 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
