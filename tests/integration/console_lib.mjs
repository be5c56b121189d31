// What the console's browser tests share: Debian's chromium (driven by playwright-core), a page
// that records every page error, console error (a CSP violation is one) and response body, axe-core,
// screenshots in build/console-shots/, and signing in through the form.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/console-shots');

// The console is opened as http://sb.test:<port>/: a plain-http origin that is not localhost, so
// the page runs outside a "secure context" like on a LAN address (no navigator.clipboard).
export const HOST = 'sb.test';
// ... which is why the edge must not mark its cookie Secure there (README: SB_COOKIE_SECURE).
export const PLAIN_HTTP = { edgeEnv: { SB_COOKIE_SECURE: 'false' }, loggers: 1 };

export async function launch() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.SB_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', `--host-resolver-rules=MAP ${HOST} 127.0.0.1`],
  });
}

export function consoleUrl(s) { return `http://${HOST}:${new URL(s.url).port}`; }

// A page in its own context; page.errors collects what must not happen, page.bodies what the
// browser received (with the URL), page.allow(re) tolerates one expected console error.
export async function openPage(browser, { locale = 'en-US', colorScheme = 'light' } = {}) {
  const ctx = await browser.newContext({ locale, timezoneId: 'UTC', colorScheme, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.errors = [];
  page.bodies = [];
  page.allowed = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const what = `${m.text()} (${m.location().url})`;
    if (page.allowed.some((re) => re.test(what))) return;
    page.errors.push(`console: ${what}`);
  });
  page.on('response', async (r) => {
    try { page.bodies.push({ url: r.url(), text: await r.text() }); } catch { /* redirects have none */ }
  });
  page.on('dialog', (d) => d.accept());
  return page;
}

export async function axe(page, what) {
  await page.evaluate(AXE);
  const r = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const bad = r.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe on ${what}`);
}

// axe, then a full-page screenshot named <name>.png
export async function check(page, name) {
  await axe(page, name);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export async function signIn(page, s, { user = 'admin', password = s.adminPassword } = {}) {
  await page.goto(`${consoleUrl(s)}/console/`);
  await page.locator('#password').fill(password);
  await page.locator('#user').fill(user);
  await page.locator('.signin button[type=submit]').click();
  await page.locator('main#main').waitFor();
}

// Go to a page of the console (hash route) and wait for its heading.
export async function visit(page, s, route, heading) {
  await page.goto(`${consoleUrl(s)}/console/#/${route}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

export function noFullKey(page, keys, { except = /\/reveal$/ } = {}) {
  for (const k of keys) {
    const hit = page.bodies.find((b) => !except.test(new URL(b.url).pathname) && b.text.includes(k));
    assert.equal(hit?.url, undefined, 'a full key reached the browser outside "reveal"');
  }
}
