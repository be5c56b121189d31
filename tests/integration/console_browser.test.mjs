// The console in a real browser against the real stack: sign in, the overview, the keys page
// (bulk paste and its exact report, masked keys, reveal once, every action reflected without a
// reload) and client tokens (created, copied, used, disabled, deleted). No page error and no
// console error (CSP violations included), no serious accessibility violation, no full key in
// anything the browser received outside "reveal". Screenshots go to build/console-shots/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, waitUntil } from './harness.mjs';
import { PLAIN_HTTP, launch, openPage, check, signIn, visit, consoleUrl, noFullKey } from './console_lib.mjs';

const KA = 'AIzaSyConsoleBrowserKey0000000000000001';
const KB = 'AQ.ConsoleBrowserExpressKey00000000000000002';
const KC = 'AIzaSyConsolePastedKey00000000000000000003'; // pasted; unknown upstream: dies when tested
const KD = 'AQ.ConsolePastedExpressKey0000000000000000004';

test('sign in, the overview, sign out; the session cookie is out of the script\'s reach', () => withStack(`pa:${KA},pb:${KB}`, async (s) => {
  const browser = await launch();
  try {
    const page = await openPage(browser);
    await page.goto(`${consoleUrl(s)}/`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await page.getByLabel('Password').waitFor();
    await check(page, 'signin-en');
    page.allowed.push(/ 401 .*\/api\/auth\/login\)$/); // the wrong password below
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.match(await page.getByRole('alert').textContent(), /Wrong user name or password/);
    page.allowed.pop();

    await page.getByLabel('Password').fill(s.adminPassword);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const card = (k) => page.locator(`[data-testid="keys-${k}"] .value`).textContent();
    assert.equal(await card('total'), '2');
    assert.equal(await card('active'), '2');
    assert.equal(await card('dead'), '0');
    const ctx = page.context();
    const cookie = (await ctx.cookies()).find((c) => c.name === 'sb_session');
    assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
    assert.equal(await page.evaluate(() => document.cookie.includes('sb_session')), false, 'not readable by script');
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k !== 'sb.lang')), []);

    // a key disabled elsewhere shows on the next refresh (every 5 s) without a reload
    const list = await s.api('/api/keys', { session: await s.login() });
    await s.api(`/api/keys/${list.body.keys[0].id}`, { method: 'PATCH', body: { enabled: false }, session: await s.login() });
    await waitUntil(async () => (await card('disabled')) === '1', { tries: 80, interval: 100, what: 'the disabled key on the page' });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Password').waitFor();
    await page.getByLabel('Language').selectOption('zh');
    await page.getByLabel('密码').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await check(page, 'signin-zh');
    assert.equal((await ctx.cookies()).find((c) => c.name === 'sb_session')?.value ?? '', '', 'signed out');
    assert.deepEqual(page.errors, [], 'no page or console error (CSP violations included)');
    noFullKey(page, [KA, KB], { except: /^$/ });
  } finally {
    await browser.close();
  }
}, PLAIN_HTTP));

test('the keys page: paste, masked keys, reveal once, enable/disable/label/test/reset/delete live', () => withStack(`pa:${KA},pb:${KB}`, async (s) => {
  const browser = await launch();
  try {
    const page = await openPage(browser);
    await signIn(page, s);
    await visit(page, s, 'keys', 'Keys');
    await page.locator('[data-testid^="key-k_"]').first().waitFor();
    assert.equal(await page.locator('[data-testid^="key-k_"]').count(), 2);

    // bulk paste: two new keys (one of each shape), one already known, one malformed, some junk
    await page.getByText('Add keys').click();
    await page.getByLabel(/Paste any text/).fill(`new ones:\n pc:${KC}\n${KD}, and again ${KA}\nAIzaTooShort junk "hello" 12345`);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByTestId('paste-report').waitFor();
    assert.equal(await page.getByTestId('added').textContent(), 'Added: 2');
    assert.equal(await page.getByTestId('duplicate').textContent(), 'Duplicates: 1');
    assert.equal(await page.getByTestId('invalid').textContent(), 'Invalid: 1');
    await waitUntil(async () => (await page.locator('[data-testid^="key-k_"]').count()) === 4, { what: 'four keys listed' });
    const text = await page.locator('main').innerText();
    for (const m of ['AIza…0001', 'AQ.C…0002', 'AIza…0003', 'AQ.C…0004']) assert.ok(text.includes(m), `masked ${m} shown`);
    await check(page, 'keys-en');

    const keys = (await s.api('/api/keys', { session: await s.login() })).body.keys;
    const idOf = (masked) => keys.find((k) => k.masked === masked).id;
    const row = (masked) => page.getByTestId(`key-${idOf(masked)}`);
    const state = (masked) => row(masked).getByTestId('state').textContent();

    // reveal: confirmed (the dialog handler accepts), shown once, gone when hidden
    await row('AIza…0001').getByRole('button', { name: 'Reveal' }).click();
    assert.equal(await page.getByTestId('revealed').textContent(), KA);
    await page.getByRole('button', { name: 'Copy' }).click();
    assert.equal(await page.getByRole('status').filter({ hasText: 'Copied.' }).count(), 1, 'copied over plain http');
    await check(page, 'keys-reveal-en');
    await page.getByRole('button', { name: 'Hide' }).click();
    assert.equal(await page.locator('main').innerText().then((t) => t.includes(KA)), false, 'hidden again');
    assert.equal(page.bodies.filter((b) => b.text.includes(KA)).length, 1, 'the key came once, in the reveal answer');

    // disable, enable: the row changes without a reload
    await row('AIza…0001').getByRole('button', { name: 'Disable' }).click();
    await waitUntil(async () => (await state('AIza…0001')) === 'Disabled', { what: 'disabled shown' });
    await row('AIza…0001').getByRole('button', { name: 'Enable' }).click();
    await waitUntil(async () => (await state('AIza…0001')) === 'Active', { what: 'enabled shown' });

    // label two keys at once
    await row('AIza…0001').getByRole('checkbox').check();
    await row('AQ.C…0002').getByRole('checkbox').check();
    await page.getByRole('group', { name: 'Selected keys' }).getByLabel('Label').fill('team-blue');
    await page.getByRole('button', { name: 'Set label' }).click();
    await waitUntil(async () => (await row('AQ.C…0002').getByTestId('label').textContent()) === 'team-blue', { what: 'label shown' });
    assert.equal(await row('AIza…0001').getByTestId('label').textContent(), 'team-blue');

    // move one to another project group; a project's known RPM
    await row('AQ.C…0002').getByRole('checkbox').uncheck();
    await page.getByRole('group', { name: 'Selected keys' }).getByLabel('Project').fill('pz');
    await page.getByRole('button', { name: 'Move to project' }).click();
    await waitUntil(async () => /^pz$/.test(await row('AIza…0001').locator('td').nth(2).textContent()), { what: 'moved to pz' });
    await row('AIza…0001').getByRole('checkbox').uncheck();
    await page.getByText('Known per-model RPM of a project').click();
    const limits = page.locator('details', { hasText: 'Known per-model RPM' });
    await limits.getByLabel('Project').fill('pz');
    await limits.getByLabel('Model').fill('gemini-2.5-flash');
    await limits.getByLabel('RPM').fill('15');
    await limits.getByRole('button', { name: 'Save' }).click();
    await limits.getByText('Changed: 1').waitFor();

    // test now: the pasted key is unknown upstream, so it is marked dead; reset brings it back
    await row('AIza…0003').getByRole('button', { name: 'Test now' }).click();
    await waitUntil(async () => /failed: 400/.test(await page.getByTestId('key-msg').textContent()), { what: 'test result' });
    await waitUntil(async () => (await state('AIza…0003')) === 'Dead', { what: 'dead after the test' });
    await row('AIza…0001').getByRole('button', { name: 'Test now' }).click();
    await waitUntil(async () => /the key works/.test(await page.getByTestId('key-msg').textContent()), { what: 'a working key' });
    await row('AIza…0003').getByRole('button', { name: 'Reset' }).click();
    await waitUntil(async () => (await state('AIza…0003')) === 'Active', { what: 'active after reset' });

    // filters are in the URL: a shared link opens the same view
    await page.getByRole('search').getByLabel('Label').fill('team-blue');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitUntil(async () => (await page.locator('[data-testid^="key-k_"]').count()) === 2, { what: 'filtered by label' });
    assert.match(page.url(), /#\/keys\?.*label=team-blue/);
    await page.goto(`${consoleUrl(s)}/console/#/keys?q=0004`);
    await waitUntil(async () => (await page.locator('[data-testid^="key-k_"]').count()) === 1, { what: 'searched by the tail' });
    await page.goto(`${consoleUrl(s)}/console/#/keys`);
    await waitUntil(async () => (await page.locator('[data-testid^="key-k_"]').count()) === 4, { what: 'all four again' });

    // delete one; then make one dead and delete every dead key
    await row('AQ.C…0004').getByRole('button', { name: 'Delete' }).click();
    await waitUntil(async () => (await page.locator('[data-testid^="key-k_"]').count()) === 3, { what: 'deleted' });
    await row('AIza…0003').getByRole('button', { name: 'Test now' }).click();
    await waitUntil(async () => (await state('AIza…0003')) === 'Dead', { what: 'dead again' });
    await page.getByRole('button', { name: 'Delete every dead key' }).click();
    await waitUntil(async () => /Dead keys deleted: 1/.test(await page.getByTestId('key-msg').textContent()), { what: 'dead keys deleted' });
    await waitUntil(async () => (await page.locator('[data-testid^="key-k_"]').count()) === 2, { what: 'two keys left' });

    // "view this key's logs" opens the logs page filtered by the key
    await row('AIza…0001').getByRole('link', { name: 'Logs' }).click();
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
    assert.match(page.url(), new RegExp(`#/logs\\?key_id=${idOf('AIza…0001')}`));
    assert.equal(await page.locator('input[name="key_id"]').inputValue(), idOf('AIza…0001'));

    assert.deepEqual(page.errors, []);
    noFullKey(page, [KA, KB, KC, KD]);
  } finally {
    await browser.close();
  }
}, PLAIN_HTTP));

test('client tokens: created with the secret shown once, copied, used, limited, disabled, deleted', () => withStack(`pa:${KA}`, async (s) => {
  const browser = await launch();
  try {
    const page = await openPage(browser);
    await signIn(page, s);
    await visit(page, s, 'tokens', 'Client tokens');
    const form = page.getByRole('form', { name: 'New token' });
    await form.getByLabel('Name').fill('billing-app');
    await form.getByLabel('Allowed models').fill('gemini-2.5-flash');
    await form.getByLabel('Requests per minute').fill('2');
    await form.getByLabel('Expires').fill('2031-05-04');
    await form.getByRole('button', { name: 'Create' }).click();
    const secret = await page.getByTestId('token-secret').textContent();
    assert.match(secret, /^sb-/);
    s.secrets.push(secret);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied.').waitFor();
    await check(page, 'tokens-en');
    await page.getByRole('button', { name: 'Hide' }).click();
    assert.equal(await page.getByTestId('token-secret').count(), 0);

    const id = (await s.api('/api/tokens', { session: await s.login() })).body.tokens.find((t) => t.name === 'billing-app').id;
    const call = (model = 'gemini-2.5-flash') => fetch(`${s.url}/v1beta/models/${model}:generateContent`, {
      method: 'POST', headers: { 'x-goog-api-key': secret, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
    });
    assert.equal((await call()).status, 200, 'the new token works');
    assert.equal((await call('gemini-2.5-pro')).status, 403, 'models outside its list are refused');
    assert.equal((await call()).status, 200);
    assert.equal((await call()).status, 429, 'its RPM limit holds');
    await page.reload();
    const row = page.getByTestId(`token-${id}`);
    // three asked within its models (two answered, one over the limit), their tokens
    await waitUntil(async () => (await row.getByTestId('usage-requests').textContent()) === '3', { what: 'usage shown' });
    assert.match(await row.getByTestId('usage').textContent(), /Rejected: 1.*Prompt: 2 · Output: 4/);
    assert.match(await row.textContent(), /Requests per minute: 2/);
    assert.match(await row.textContent(), /2031-05-04 00:00:00/);

    // edit its limit, disable it (the edge refuses it), delete it
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('form', { name: 'Edit billing-app' });
    await edit.getByLabel('Requests per minute').fill('100');
    await edit.getByRole('button', { name: 'Save' }).click();
    await waitUntil(async () => /Requests per minute: 100/.test(await row.textContent()), { what: 'new limit shown' });
    await row.getByRole('button', { name: 'Disable' }).click();
    await waitUntil(async () => (await row.getByRole('button', { name: 'Enable' }).count()) === 1, { what: 'disabled' });
    await waitUntil(async () => (await call()).status === 401, { what: 'the disabled token refused' });
    await row.getByRole('button', { name: 'Delete' }).click();
    await waitUntil(async () => (await page.getByTestId(`token-${id}`).count()) === 0, { what: 'deleted' });
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
}, PLAIN_HTTP));
