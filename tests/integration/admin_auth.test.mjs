// Admin identity: login / logout / password change, login rate limits, sessions shared by edge
// replicas, and a walk over every admin route proving none accepts anonymous calls, client
// tokens or expired sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, sleep } from './harness.mjs';

const KEYS = 'proj-a:AIzaSyAdminTestKey000000000000000000a';

test('login, session by bearer and cookie, logout, password change', async () => {
  await withStack(KEYS, async (s) => {
    const bad = await s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: 'wrong-password' } });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, 401);

    const ok = await s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: s.adminPassword } });
    assert.equal(ok.status, 200);
    assert.match(ok.body.token, /^sbs_/);
    assert.ok(Date.parse(ok.body.expires_at) > Date.now());
    const cookie = ok.headers.get('set-cookie');
    assert.match(cookie, /sb_session=sbs_/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const t1 = ok.body.token;
    s.secrets.push(t1);

    assert.equal((await s.api('/api/auth/me', { session: t1 })).body.user, 'admin');
    // the console's question at start: always 200, never a client token's
    assert.deepEqual((await s.api('/api/auth/session', { session: t1 })).body, { signed_in: true, user: 'admin' });
    for (const session of [null, s.token, 'sbs_forged']) {
      const r = await s.api('/api/auth/session', { session });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { signed_in: false });
    }
    const byCookie = await s.api('/api/auth/me', { session: null, headers: { cookie: `sb_session=${t1}` } });
    assert.equal(byCookie.status, 200);
    // the session token is not stored in Redis as such
    assert.ok(!s.redisRaw('--scan', '--pattern', '*').includes(t1));

    // a second session, then a password change from the first revokes the second
    const t2 = await s.login();
    const short = await s.api('/api/auth/password', { method: 'POST', session: t1, body: { current_password: s.adminPassword, new_password: 'short' } });
    assert.equal(short.status, 400);
    const wrong = await s.api('/api/auth/password', { method: 'POST', session: t1, body: { current_password: 'nope-nope-nope', new_password: 'a-new-long-password-1' } });
    assert.equal(wrong.status, 403);
    const newPw = 'a-new-long-password-' + Math.random().toString(16).slice(2);
    s.secrets.push(newPw);
    const changed = await s.api('/api/auth/password', { method: 'POST', session: t1, body: { current_password: s.adminPassword, new_password: newPw } });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((await s.api('/api/auth/me', { session: t1 })).status, 200);
    assert.equal((await s.api('/api/auth/me', { session: t2 })).status, 401);
    assert.equal((await s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: s.adminPassword } })).status, 401);
    const t3 = await s.login('admin', newPw);

    // the stored hash is a slow salted hash, never the password
    const hash = s.psql("SELECT pw_hash FROM edge_users WHERE username = 'admin'");
    assert.match(hash, /^\$y\$/);

    const out = await s.api('/api/auth/logout', { method: 'POST', session: t3 });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
    assert.equal((await s.api('/api/auth/me', { session: t3 })).status, 401);
  });
});

test('an admin answer leaves at once: twenty calls in a row take milliseconds, not a loop tick each', async () => {
  // the admin worker answers on its own thread; the edge loop, which serves HTTP, is woken for it
  await withStack(KEYS, async (s) => {
    s.session = await s.login();
    for (const path of ['/api/keys', '/api/settings']) {
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) assert.equal((await s.api(path)).status, 200);
      assert.ok(Date.now() - t0 < 500, `twenty ${path} took ${Date.now() - t0} ms`);
    }
  });
});

test('failed logins are rate-limited per user and per address', async () => {
  await withStack(KEYS, async (s) => {
    const attempt = (username, password) => s.api('/api/auth/login', { method: 'POST', body: { username, password } });
    for (let i = 0; i < 3; i++) assert.equal((await attempt('admin', 'wrong-' + i)).status, 401);
    const limited = await attempt('admin', s.adminPassword);
    assert.equal(limited.status, 429, 'even the right password is refused while limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.equal(limited.body.error.status, 'RESOURCE_EXHAUSTED');
    // per address: many user names from one client address (4 x max in the window)
    let codes = [];
    for (let i = 0; i < 10; i++) codes.push((await attempt('nobody' + i, 'x')).status);
    assert.ok(codes.includes(429), `address limit never hit: ${codes}`);
    assert.ok(s.logs('edge').includes('event=admin.login_limited'));
  }, { edgeEnv: { SB_LOGIN_MAX_FAILURES: '3', SB_LOGIN_WINDOW_S: '60' } });
});

test('every admin route refuses no credentials, client tokens and expired sessions; sessions work on every replica', async () => {
  await withStack(KEYS, async (s) => {
    const other = await s.edge({ SB_SESSION_TTL_S: '1' }, 'edge2');
    await sleep(300);
    const session = await s.login();
    // a session made on one edge works on the other
    assert.equal((await s.api('/api/auth/me', { session, url: other.url })).status, 200);

    const { routes } = (await s.api('/api/routes', { session })).body;
    assert.ok(routes.length >= 10, 'route table too small');
    assert.deepEqual(routes.filter((r) => r.public).map((r) => r.path), ['/api/auth/login', '/api/auth/session']);

    const short = await s.login('admin', s.adminPassword, other.url); // expires after 1 s
    await sleep(1600);
    for (const r of routes.filter((x) => !x.public)) {
      const p = r.path.replace(/\*/g, 't_000000000000');
      const body = ['POST', 'PUT', 'PATCH'].includes(r.method) ? {} : undefined;
      const tries = {
        none: await s.api(p, { method: r.method, body, session: null }),
        bearerClientToken: await s.api(p, { method: r.method, body, session: s.token }),
        googKey: await s.api(p, { method: r.method, body, session: null, headers: { 'x-goog-api-key': s.token } }),
        queryKey: await s.api(`${p}?key=${s.token}`, { method: r.method, body, session: null }),
        expired: await s.api(p, { method: r.method, body, session: short }),
        expiredOther: await s.api(p, { method: r.method, body, session: short, url: other.url }),
      };
      for (const [how, res] of Object.entries(tries)) {
        assert.equal(res.status, 401, `${r.method} ${r.path} with ${how}: ${res.status}`);
        assert.equal(res.body.error.status, 'UNAUTHENTICATED');
      }
    }
    // unknown admin paths are not revealed to anonymous callers either
    assert.equal((await s.api('/api/nope', { session: null })).status, 401);
    assert.equal((await s.api('/api/nope', { session })).status, 404);
  });
});
