// The console's logs, statistics and settings pages in a real browser, from known traffic: a
// request appears in the live log within a second and is found by the filters with its
// attempts; every statistics view shows the numbers that traffic makes; a settings change takes
// effect on the edge; "run now" runs a job; the password changes. Then every page in Chinese.
// Screenshots of every page in both languages go to build/console-shots/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, waitUntil } from './harness.mjs';
import { PLAIN_HTTP, launch, openPage, check, signIn, visit, consoleUrl, noFullKey } from './console_lib.mjs';

const KA = 'AIzaSyConsolePagesKey00000000000000000001';
const KB = 'AIzaSyConsolePagesKey00000000000000000002';
const FLASH = 'gemini-2.5-flash';
const PRO = 'gemini-2.5-pro';

// The rows of a chart's data table: [[time, v1, v2, ...], ...]
async function chartRows(page, id) {
  return page.getByTestId(id).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
}
// The sum of a column over every bucket (the test may straddle an hour).
async function colSum(page, id, col) {
  return (await chartRows(page, id)).reduce((a, r) => a + (r[col] === '–' ? 0 : parseFloat(r[col].replaceAll(',', ''))), 0);
}
async function chartHead(page, id) {
  return page.getByTestId(id).locator('thead th').evaluateAll((ths) => ths.map((th) => th.textContent));
}

test('logs (live within 1 s, filters, attempts), statistics from known traffic, settings, Chinese', () => withStack(`pa:${KA},pb:${KB}`, async (s) => {
  // known traffic: one request that finds both projects out of per-minute quota for flash (two
  // failed attempts, 429), then three answered on gemini-2.5-pro
  await s.script({ key: KA, model: FLASH, fault: 'quota_minute', retry_delay: '120s', count: 1 });
  await s.script({ key: KB, model: FLASH, fault: 'quota_minute', retry_delay: '120s', count: 1 });
  assert.equal((await s.gen(FLASH, 'one')).status, 429);
  for (let i = 0; i < 3; i++) assert.equal((await s.gen(PRO, `ok ${i}`)).status, 200);
  const session = await s.login();
  await waitUntil(async () => (await s.api('/api/logs?limit=10', { session })).body.items?.length === 4, { what: 'four requests logged' });

  const browser = await launch();
  try {
    const page = await openPage(browser);
    await signIn(page, s);

    // overview: the cooling pairs count down; the day's numbers
    await page.getByTestId('cooling').waitFor();
    assert.equal(await page.getByTestId('cooling').locator('tbody tr').count(), 2);
    const before = await page.getByTestId('cooling').locator('tbody tr td').nth(2).textContent();
    await waitUntil(async () => (await page.getByTestId('cooling').locator('tbody tr td').nth(2).textContent()) !== before, { what: 'the countdown moves' });
    await waitUntil(async () => (await colSum(page, 'ov-requests', 1)) === 4, { what: 'requests chart' });
    const errRates = (await chartRows(page, 'ov-errors')).map((r) => r[1]);
    if (errRates.length === 1) assert.equal(errRates[0], '25.0%');
    assert.match(await page.getByTestId('tokens-by-model').textContent(), new RegExp(PRO));
    await check(page, 'overview-en');

    // live: a request sent now shows within a second
    await visit(page, s, 'logs?live=1', 'Logs');
    await page.getByText('Live: new requests appear').waitFor();
    const sent = Date.now();
    const r = await s.gen(PRO, 'live one');
    assert.equal(r.status, 200);
    const rid = r.headers.get('x-request-id');
    await page.getByTestId(`log-${rid}`).waitFor({ timeout: 5000 });
    const took = Date.now() - sent;
    assert.ok(took < 1000, `live row after ${took} ms`);
    // pause holds new rows back; resume shows them
    await page.getByRole('button', { name: 'Pause' }).click();
    const held = await s.gen(PRO, 'while paused');
    const hid = held.headers.get('x-request-id');
    await page.getByRole('button', { name: 'Resume (1)' }).waitFor();
    assert.equal(await page.getByTestId(`log-${hid}`).count(), 0);
    await page.getByRole('button', { name: 'Resume (1)' }).click();
    await page.getByTestId(`log-${hid}`).waitFor();
    await check(page, 'logs-live-en');

    // history with filters from the form; the URL carries them
    await visit(page, s, 'logs', 'Logs');
    await page.getByRole('search').getByLabel('Status').fill('429');
    await page.getByRole('search').getByLabel('Model').fill(FLASH);
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitUntil(async () => (await page.locator('[data-testid^="log-"]').count()) === 1, { what: 'one 429 on flash' });
    assert.match(page.url(), /status=429/);
    const failed = page.locator('[data-testid^="log-"]').first();
    await failed.getByRole('button').click();
    const attempts = page.getByTestId('log-detail').getByTestId('attempts');
    await attempts.waitFor();
    const rows = await attempts.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    const keys = (await s.api('/api/keys', { session })).body.keys;
    assert.equal(rows.length, 2, 'both attempts');
    assert.deepEqual(rows.map((x) => x[1]).sort(), keys.map((k) => k.id).sort(), 'each key tried once');
    assert.deepEqual(rows.map((x) => [x[3], x[4]]), [['429', 'quota_minute'], ['429', 'quota_minute']]);
    await check(page, 'logs-detail-en');
    await page.getByRole('button', { name: 'Close' }).click();
    // the live request is found by its id, in a shared link
    await page.goto(`${consoleUrl(s)}/console/#/logs?request_id=${rid}`);
    await page.getByTestId(`log-${rid}`).waitFor();
    assert.equal(await page.locator('[data-testid^="log-"]').count(), 1);

    // statistics: 6 requests (the 429 and five answered), by model, success, errors, heatmap, keys
    await visit(page, s, 'stats?bucket=day', 'Statistics');
    await waitUntil(async () => (await page.getByTestId('stat-requests').locator('.value').textContent()) === '6', { what: 'six requests' });
    assert.equal(await page.getByTestId('stat-success').locator('.value').textContent(), '83.3%');
    assert.deepEqual((await chartHead(page, 'st-requests')).slice(1).sort(), [FLASH, PRO].sort());
    const col = (await chartHead(page, 'st-requests')).indexOf(PRO);
    assert.equal(await colSum(page, 'st-requests', col), 5);
    assert.equal(await colSum(page, 'st-requests', 3 - col), 1);
    const success = await chartRows(page, 'st-success');
    if (success.length === 1) assert.deepEqual([success[0][col], success[0][3 - col]], ['100.0%', '0.0%']);
    assert.deepEqual(await chartHead(page, 'st-errors'), ['Time', 'quota_minute']);
    assert.equal(await colSum(page, 'st-errors', 1), 2);
    assert.deepEqual(await chartHead(page, 'st-keys'), ['Time', 'Active']);
    assert.equal((await chartRows(page, 'st-keys')).at(-1)[1], '2');
    const logged = (await s.api('/api/logs?limit=50', { session })).body.items.filter((l) => l.model === PRO);
    const want = logged.reduce((a, l) => a + l.tokens.prompt + l.tokens.output + l.tokens.thought, 0);
    assert.ok(want > 0);
    assert.equal(await colSum(page, 'st-tokens', col), want, 'the tokens of the answered requests');
    assert.ok(await colSum(page, 'st-latency', 1) > 0, 'a p95 time');
    const heat = await page.getByTestId('heatmap').locator('td[data-testid^="heat-"]').evaluateAll((tds) => tds.map((td) => Number(td.textContent || 0)));
    assert.equal(heat.reduce((a, b) => a + b, 0), 6, 'the heatmap holds every request');
    const now = new Date();
    assert.ok(Number(await page.getByTestId(`heat-${now.getUTCDay() || 7}-${now.getUTCHours()}`).textContent()) > 0, 'in this hour of this weekday');
    await check(page, 'stats-en');
    await page.getByLabel('Group by').selectOption('project');
    await waitUntil(async () => /project=|group_by=project/.test(page.url()), { what: 'grouping in the URL' });
    await waitUntil(async () => (await chartHead(page, 'st-requests')).slice(1).sort().join() === 'pa,pb', { what: 'by project' });

    // settings: hide a model through the form (with the difference shown first); the edge refuses it
    await visit(page, s, 'settings', 'Settings');
    await page.getByLabel('Upstream attempts per request').fill('99');
    assert.match(await page.locator('#err-retry_budget').textContent(), /1–32/);
    await page.getByLabel('Upstream attempts per request').fill('');
    await page.getByLabel('Hidden models').fill(PRO);
    await page.getByRole('button', { name: 'Review changes' }).click();
    assert.match(await page.getByTestId('settings-diff').textContent(), new RegExp(`hidden_models.*${PRO}`));
    await check(page, 'settings-en');
    await page.getByTestId('settings-diff').getByRole('button', { name: 'Save' }).click();
    await waitUntil(async () => /Saved/.test(await page.getByTestId('settings-msg').textContent()), { what: 'saved' });
    await waitUntil(async () => (await s.gen(PRO, 'hidden?')).status === 404, { what: 'the hidden model refused' });
    assert.equal((await s.gen('gemini-2.5-flash-lite', 'other')).status, 200);

    // the scheduler's job runs now
    const runs = Number(await page.getByTestId('job-leases').getByTestId('runs').textContent());
    await page.getByTestId('job-leases').getByRole('button', { name: /Run now/ }).click();
    await waitUntil(async () => Number(await page.getByTestId('job-leases').getByTestId('runs').textContent()) > runs, { what: 'the job ran' });
    assert.match(await page.getByTestId('sched-msg').textContent(), /leases: reaped=/);

    // every page in Chinese
    await page.getByLabel('Language').selectOption('zh');
    for (const [route, heading] of [['overview', '概览'], ['keys', '密钥'], ['tokens', '客户端令牌'], ['logs', '日志'], ['stats', '统计'], ['settings', '设置']]) {
      await visit(page, s, route, heading);
      await page.waitForTimeout(300);
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
      await check(page, `${route}-zh`);
    }
    await visit(page, s, 'logs', '日志');
    await page.locator('[data-testid^="log-"]').first().getByRole('button').click();
    await page.getByTestId('log-detail').getByTestId('attempts').waitFor();
    await check(page, 'logs-detail-zh');
    await page.getByRole('button', { name: '关闭' }).click();

    // dark mode: the same pages keep their contrast
    const dark = await openPage(browser, { colorScheme: 'dark' });
    await signIn(dark, s);
    await dark.getByTestId('keys-total').waitFor();
    await check(dark, 'overview-dark');
    await visit(dark, s, 'keys', 'Keys');
    await dark.locator('[data-testid^="key-k_"]').first().waitFor();
    await check(dark, 'keys-dark');
    assert.deepEqual(dark.errors, []);

    // the password, last: it ends every other session
    await page.getByLabel('语言').selectOption('en');
    await visit(page, s, 'settings', 'Settings');
    const pw = `console-new-pw-${Date.now()}`;
    s.secrets.push(pw);
    await page.getByLabel('Current password').fill(s.adminPassword);
    await page.getByLabel('New password (12 characters or more)').fill(pw);
    await page.getByLabel('New password again').fill(pw);
    await page.getByRole('button', { name: 'Change password' }).click();
    await waitUntil(async () => /Password changed/.test(await page.getByTestId('pw-msg').textContent()), { what: 'password changed' });
    assert.equal((await s.api('/api/auth/login', { method: 'POST', body: { username: 'admin', password: pw }, session: null })).status, 200);

    assert.deepEqual(page.errors, []);
    noFullKey(page, [KA, KB]);
  } finally {
    await browser.close();
  }
}, { loggers: 1, schedulers: 1, ...PLAIN_HTTP }));
