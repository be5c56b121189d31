// The console in a real browser (Debian's chromium, driven by playwright-core): sign in, the
// overview from the live API, Chinese, sign out; no page error and no console error (a CSP
// violation is one), no serious accessibility violation (axe-core), no full key in anything the
// browser received. Screenshots go to build/console-shots/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { withStack, waitUntil } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/console-shots');
const KA = 'AIzaSyConsoleBrowserKey0000000000000001';
const KB = 'AQ.ConsoleBrowserExpressKey00000000000000002';
const KEYS = `pa:${KA},pb:${KB}`;

async function axe(page, what) {
  await page.evaluate(AXE);
  const r = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe on ${what}`);
}

test('the console in a browser: sign in, the overview, Chinese, sign out; no errors, no full key', () => withStack(KEYS, async (s) => {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.SB_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1200, height: 800 } });
    const page = await ctx.newPage();
    const errors = [];
    let wrongPassword = false; // the one error the test provokes: a sign-in refused with 401
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (wrongPassword && / 401 /.test(m.text()) && m.location().url.endsWith('/api/auth/login')) return;
      errors.push(`console: ${m.text()} (${m.location().url})`);
    });
    const bodies = [];
    page.on('response', async (r) => { try { bodies.push(await r.text()); } catch { /* redirects have none */ } });

    await page.goto(`${s.url}/`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await page.getByLabel('Password').waitFor();
    await axe(page, 'sign in');
    await page.screenshot({ path: path.join(SHOTS, 'signin-en.png') });
    wrongPassword = true;
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /Wrong user name or password/);
    wrongPassword = false;

    await page.getByLabel('Password').fill(s.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const card = (k) => page.locator(`[data-testid="keys-${k}"] .value`).textContent();
    assert.equal(await card('total'), '2');
    assert.equal(await card('active'), '2');
    assert.equal(await card('dead'), '0');
    const cookie = (await ctx.cookies()).find((c) => c.name === 'sb_session');
    assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
    assert.equal(await page.evaluate(() => document.cookie.includes('sb_session')), false, 'not readable by script');
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k !== 'sb.lang')), []);
    await axe(page, 'overview');
    await page.screenshot({ path: path.join(SHOTS, 'overview-en.png') });

    // a key disabled through the API shows on the next refresh (every 5 s) without a reload
    const list = await s.api('/api/keys', { session: await s.login() });
    const id = list.body.keys[0].id;
    await s.api(`/api/keys/${id}`, { method: 'PATCH', body: { enabled: false }, session: await s.login() });
    await waitUntil(async () => (await card('disabled')) === '1', { tries: 80, interval: 100, what: 'the disabled key on the page' });

    await page.getByLabel('Language').selectOption('zh');
    await page.getByRole('heading', { name: '概览' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await axe(page, 'overview (zh)');
    await page.screenshot({ path: path.join(SHOTS, 'overview-zh.png') });
    await page.getByRole('button', { name: '退出登录' }).click();
    await page.getByLabel('密码').waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'signin-zh.png') });
    assert.equal((await ctx.cookies()).find((c) => c.name === 'sb_session')?.value ?? '', '', 'signed out');

    assert.deepEqual(errors, [], 'no page or console error (CSP violations included)');
    for (const k of [KA, KB]) assert.ok(!bodies.some((b) => b.includes(k)), 'no full key reached the browser');
  } finally {
    await browser.close();
  }
}));
