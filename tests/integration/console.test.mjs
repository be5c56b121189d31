// The console's files, as the edge serves them: "/" leads there, a strict Content-Security-Policy
// (no inline script or style), ETags and gzip, every module the pages import is there, and the
// admin API they use is never cached. (The pages themselves are driven in a real browser by
// console_browser.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { withStack } from './harness.mjs';

const KEYS = 'pa:AIzaSyConsoleKey000000000000000000000a';

test('the console is served with a strict CSP, ETags and gzip, and "/" leads to it', () => withStack(KEYS, async (s) => {
  for (const p of ['/', '/console']) {
    const r = await fetch(`${s.url}${p}`, { redirect: 'manual' });
    assert.equal(r.status, 302, p);
    assert.equal(r.headers.get('location'), '/console/');
  }
  const index = await fetch(`${s.url}/console/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  const csp = index.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /style-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.ok(!/unsafe-(inline|eval)/.test(csp), csp);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(index.headers.get('cross-origin-resource-policy'), 'same-origin');
  assert.equal(index.headers.get('x-frame-options'), 'DENY');
  const html = await index.text();
  assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(html), 'no inline script');
  assert.ok(!/<style|\sstyle=|\son[a-z]+=/i.test(html), 'no inline style or handler');

  // every module the pages import (and every file index.html names) is served
  const seen = new Set();
  const walk = async (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const r = await fetch(`${s.url}/console/${file}`);
    assert.equal(r.status, 200, file);
    const text = await r.text();
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    if (file.endsWith('.js')) {
      assert.match(r.headers.get('content-type'), /^text\/javascript/);
      for (const m of text.matchAll(/(?:^|[;\s}])import\s[^'"]*?from\s*['"](\.[^'"]+)['"]/g)) await walk(new URL(m[1], `http://x/${dir}`).pathname.slice(1));
    }
    if (file.endsWith('.html')) for (const m of text.matchAll(/(?:src|href)="([^"#:]+)"/g)) await walk(m[1]);
  };
  await walk('index.html');
  assert.ok(seen.has('app.js') && seen.has('vendor/preact.js') && seen.has('style.css'), [...seen].join(' '));

  // gzip when asked for, the same bytes; ETag revalidation answers 304 without a body
  const plain = Buffer.from(await (await fetch(`${s.url}/console/vendor/preact.js`, { headers: { 'accept-encoding': 'identity' } })).arrayBuffer());
  const { request } = await import('node:http');
  const rawGet = (path, headers) => new Promise((res, rej) => {
    const req = request(`${s.url}${path}`, { headers }, (r) => {
      const parts = [];
      r.on('data', (d) => parts.push(d));
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', rej);
    req.end();
  });
  const gz = await rawGet('/console/vendor/preact.js', { 'accept-encoding': 'gzip, deflate' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.ok(gz.body.length < plain.length / 2, `${gz.body.length} vs ${plain.length}`);
  assert.deepEqual(gunzipSync(gz.body), plain);
  assert.equal((await rawGet('/console/vendor/preact.js', { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding'], undefined);
  const etag = gz.headers.etag;
  assert.match(etag, /^"[0-9a-f]{20}"$/);
  const again = await rawGet('/console/vendor/preact.js', { 'if-none-match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  assert.equal(again.headers.etag, etag);

  assert.equal((await fetch(`${s.url}/console/nope.js`)).status, 404);
  assert.equal((await fetch(`${s.url}/console/`, { method: 'POST', body: '{}' })).status, 405);
  // the API the pages read is never cached
  assert.equal((await fetch(`${s.url}/api/auth/me`)).headers.get('cache-control'), 'no-store');
}));
