// The dashboard end to end: the real service on a scripted fake OVH feed, driven through a
// headless Chromium the way a receptionist would use it. Each step waits for what it expects
// to see (text, selectors, downloads), never for a fixed time. Screenshots of every view go to
// artifacts/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fakeOvh, startService, launchBrowser, lineEvent, queueEvent, shot, TOKEN } from './harness.mjs';

const ACCUEIL = '0033972101010';
const COMPTA = '0033972101011';
const QUEUE = '0033972100100';
const CALLER = '0033655555555';
const HOSTILE = '<img src=x onerror="window.__pwned=1"> Atelier & <b>co</b>';

describe('dashboard', () => {
  let ovh, service, browser, context, page;
  const cspViolations = [];
  const pageErrors = [];

  before(async () => {
    ovh = await fakeOvh();
    service = await startService(ovh.url);
    browser = await launchBrowser();
    context = await browser.newContext({ locale: 'en-GB', acceptDownloads: true, viewport: { width: 1366, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
  });

  after(async () => {
    // The last state of the page, to see what a failing step was looking at.
    await page?.screenshot({ path: new URL('./artifacts/zz-last.png', import.meta.url).pathname, fullPage: true }).catch(() => {});
    await browser?.close();
    await service?.stop();
    await ovh?.close();
  });

  it('refuses a malformed token with a clear message, then signs in through the form', async () => {
    await page.goto(`${service.base}/`);
    await page.waitForSelector('form#login');
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.fill('#token', 'not-a-token');
    await page.click('#login-submit');
    await page.getByText('This is not a token').waitFor();
    await shot(page, '01-login');
    await page.fill('#token', `  ${TOKEN.toLowerCase()}  `);
    await page.check('#remember');
    await page.click('#login-submit');
    await page.waitForSelector('h1:text("Overview")');
    assert.equal(new URL(page.url()).pathname, '/overview');
    const header = await page.textContent('header');
    assert.match(header, /3F25…/);
    assert.ok(!header.includes(TOKEN) && !(await page.content()).includes(TOKEN), 'the token is never shown');
  });

  it('shows a line go ringing, in call and free again, live', async () => {
    const row = page.locator(`tr[data-number="${ACCUEIL}"]`);
    ovh.push(lineEvent('registered', { number: ACCUEIL, calling: ACCUEIL, called: ACCUEIL }));
    await row.getByText('free').waitFor();
    assert.equal(await row.locator('.num').first().textContent(), '+33 9 72 10 10 10');
    assert.equal(await row.locator('.num').first().getAttribute('title'), ACCUEIL);
    assert.equal(await row.locator('.raw').textContent(), ACCUEIL, 'the raw OVH form is readable text too');
    await page.locator('#feed-health').getByText('Live').waitFor();

    ovh.push(lineEvent('start_ringing', { number: ACCUEIL, callId: 'c1.', calling: CALLER, called: ACCUEIL }));
    await row.getByText('ringing').waitFor();
    await page.locator('tr[data-call="c1."]').getByText('incoming').waitFor();

    ovh.push(lineEvent('end_ringing', { number: ACCUEIL, callId: 'c1.', calling: CALLER, called: ACCUEIL }),
      lineEvent('start_calling', { number: ACCUEIL, callId: 'c1.', calling: CALLER, called: ACCUEIL }));
    await row.getByText('in call').waitFor();
    assert.match(await row.textContent(), /1 \/ 2/);
    await shot(page, '02-overview-in-call');

    ovh.push(lineEvent('end_calling', { number: ACCUEIL, callId: 'c1.', calling: CALLER, called: ACCUEIL }));
    await row.getByText('free').waitFor();
    await page.locator('tr[data-call="c1."]').waitFor({ state: 'detached' });
    // The call log has the events, newest first, with direction and latency.
    const log = page.locator('#h-log + .scroll tbody tr');
    await log.first().locator('[data-event="end_calling"]', { hasText: 'call ended' }).waitFor();
    assert.match(await log.first().textContent(), /incoming.*ms/);

    // A missed call, an outgoing call, for the history below.
    ovh.push(
      lineEvent('start_ringing', { number: COMPTA, callId: 'c2.', calling: '0033677777777', called: COMPTA, description: 'Compta', simultaneous: '1' }),
      lineEvent('end_ringing', { number: COMPTA, callId: 'c2.', calling: '0033677777777', called: COMPTA, description: 'Compta', simultaneous: '1' }),
      lineEvent('start_ringing', { number: ACCUEIL, callId: 'c3.', calling: ACCUEIL, called: '0033188888888' }),
      lineEvent('start_calling', { number: ACCUEIL, callId: 'c3.', calling: ACCUEIL, called: '0033188888888' }),
      lineEvent('end_calling', { number: ACCUEIL, callId: 'c3.', calling: ACCUEIL, called: '0033188888888' }),
    );
    await page.locator(`tr[data-number="${COMPTA}"]`).getByText('free').waitFor();
  });

  it('shows a hostile description as text, running nothing', async () => {
    ovh.push(lineEvent('registered', { number: '0033972101012', calling: '0033972101012', called: '0033972101012', description: HOSTILE }));
    const row = page.locator('tr[data-number="0033972101012"]');
    await row.waitFor();
    assert.equal(await row.locator('td.desc').textContent(), HOSTILE);
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.locator('main b').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  it('shows queue figures, waiting callers, conversations and the journal', async () => {
    const t0 = Date.now() / 1000 - 120;
    await page.click('nav a[href="/queues"]');
    await page.waitForSelector('h1:text("Call queues")');
    ovh.push(
      queueEvent('member-queue-start', { queue: QUEUE, member: 'm1', caller: CALLER, joined: t0, count: '1', at: t0 }),
      queueEvent('agent-offering', { queue: QUEUE, member: 'm1', caller: CALLER, joined: t0, agent: ACCUEIL, at: t0 + 1 }),
    );
    const section = page.locator(`section.queue[data-number="${QUEUE}"]`);
    await section.getByRole('cell', { name: 'offered', exact: true }).waitFor();
    ovh.push(queueEvent('bridge-agent-start', { queue: QUEUE, member: 'm1', caller: CALLER, joined: t0, agent: ACCUEIL, answered: t0 + 10, at: t0 + 10 }));
    await section.locator('td', { hasText: '⇒' }).waitFor();
    assert.match(await section.textContent(), /0:10/, 'time waited');
    await shot(page, '03-queues-conversation');
    ovh.push(
      queueEvent('bridge-agent-end', { queue: QUEUE, member: 'm1', caller: CALLER, joined: t0, agent: ACCUEIL, answered: t0 + 10, ended: t0 + 70, at: t0 + 70 }),
      queueEvent('member-queue-end', { queue: QUEUE, member: 'm1', caller: CALLER, joined: t0, left: t0 + 70, cause: 'Terminated', at: t0 + 70 }),
      queueEvent('member-queue-start', { queue: QUEUE, member: 'm2', caller: '0033699999999', joined: t0 + 20, count: '1', at: t0 + 20 }),
      queueEvent('member-queue-end', { queue: QUEUE, member: 'm2', caller: '0033699999999', joined: t0 + 20, left: t0 + 80, cause: 'Cancel', at: t0 + 80 }),
    );
    const figure = (name) => section.locator('.figures div', { hasText: name }).locator('dd');
    await page.waitForFunction((q) => document.querySelector(`section.queue[data-number="${q}"] .figures`)?.textContent.includes('Abandoned1'), QUEUE);
    assert.equal(await figure('Answered').first().textContent(), '1');
    assert.equal(await figure('Total').textContent(), '2');
    assert.match(await figure('Answered %').textContent(), /50/);
    assert.match(await figure('Service level').textContent(), /50.*below target/);
    const journal = page.locator('#h-journal + .scroll tbody tr');
    await journal.nth(1).waitFor();
    assert.match(await journal.first().textContent(), /abandoned/);
    assert.match(await journal.nth(1).textContent(), /answered/);
    await shot(page, '04-queues');
    await page.click('nav a[href="/wall"]');
    await page.locator(`.tile[data-number="${QUEUE}"] .huge .value`).waitFor();
    await shot(page, '05-wallboard');
    // A kiosk: no header, no menu; Escape leaves it for the overview.
    assert.equal(await page.locator('header#top').isVisible(), false);
    assert.equal(await page.locator('nav a[href="/overview"]').isVisible(), false);
    await page.keyboard.press('Escape');
    await page.waitForURL('**/overview');
    await page.locator('nav a[href="/history"]').waitFor();
  });

  it('filters the history and downloads exactly that as CSV', async () => {
    await page.click('nav a[href="/history"]');
    await page.waitForSelector('#results tbody tr');
    await page.selectOption('#f-direction', 'incoming');
    await page.selectOption('#f-outcome', 'answered');
    await page.click('#filter-apply');
    await page.getByText('1 rows shown').waitFor();
    assert.match(await page.locator('#results tbody tr').first().textContent(), /incoming.*answered/);
    assert.match(await page.locator('#results tbody tr').first().textContent(), /\+33 9 72 10 10 10 Accueil/, 'the line by its name too');
    await shot(page, '06-history');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'number,call_id,direction,calling,called,dialed,started_at,answered_at,ended_at,ring_s,talk_s,outcome,queue,queue_caller');
    assert.equal(csv.length, 2, csv.join('\n'));
    assert.match(csv[1], new RegExp(`^${ACCUEIL},c1\\.,incoming,${CALLER},.*,answered,,$`));
    // The same filter for a French spreadsheet: byte-order mark, `;`, numbers as text, names.
    const [excel] = await Promise.all([page.waitForEvent('download'), page.click('#csv-excel-fr')]);
    const fr = readFileSync(await excel.path(), 'utf8');
    assert.ok(fr.startsWith('\ufeffnumber;call_id;'), fr.slice(0, 40));
    assert.match(fr.split('\n')[1], new RegExp(`^="${ACCUEIL}";c1\\.;incoming;="${CALLER}";.*;Accueil;`));

    await page.click('#tab-journal');
    await page.selectOption('#f-outcome', 'abandoned');
    await page.click('#filter-apply');
    await page.getByText('1 rows shown').waitFor();
    assert.match(await page.locator('#results tbody tr').first().textContent(), /Support/, 'the queue by its name');
    await page.click('#tab-callbacks');
    await page.locator('#history-results tbody tr', { hasText: '+33 6 99 99 99 99' }).waitFor();
    assert.match(await page.locator('#history-results').textContent(), /\+33 6 77 77 77 77/, 'the missed caller is listed');
    assert.doesNotMatch(await page.locator('#history-results').textContent(), /\+33 6 55 55 55 55/, 'an answered caller is not');
    // Marked done, for every user of the token: it stays so when the list is read again.
    await page.locator('tr[data-number="0033699999999"] button.done-toggle').click();
    await page.locator('tr[data-number="0033699999999"].done').getByText('Not done').waitFor();
    await page.click('#tab-calls');
    await page.click('#tab-callbacks');
    await page.locator('tr[data-number="0033699999999"].done').waitFor();
    await shot(page, '07-callbacks');
  });

  it('draws the reports as charts and tables', async () => {
    await page.click('nav a[href="/reports"]');
    await page.waitForSelector('.chart svg');
    const total = page.locator('#h-rep-calls ~ table tr.total');
    assert.match(await total.textContent(), /Total\s*2\s*1\s*0\s*3/);
    await page.locator(`.report-queue[data-number="${QUEUE}"] table`).waitFor();
    await shot(page, '08-reports');
  });

  it('keeps settings across a reload, in the language chosen', async () => {
    await page.click('nav a[href="/settings"]');
    await page.waitForSelector('form#settings');
    await page.fill('#pop-url', 'ftp://nope');
    await page.getByText('Enter a full http:// or https:// address').waitFor();
    await page.fill('#pop-url', 'https://crm.example/lookup?n=*CALLING*&e=*EVENT*');
    assert.equal(await page.textContent('#pop-preview'), 'https://crm.example/lookup?n=0033655555555&e=start_ringing');
    await page.check('#only-active');
    await page.fill('#sl-s', '30');
    await page.selectOption('#settings-language', 'fr');
    await page.click('#settings-save');
    await page.getByText('Configuration enregistrée.').waitFor();
    await page.reload();
    await page.waitForSelector('h1:text("Configuration")');
    assert.equal(await page.isChecked('#only-active'), true);
    assert.equal(await page.inputValue('#sl-s'), '30');
    assert.equal(await page.inputValue('#pop-url'), 'https://crm.example/lookup?n=*CALLING*&e=*EVENT*');
    await shot(page, '09-settings-fr');
    // Only numbers in a call: idle lines are hidden from the overview.
    await page.click('nav a[href="/overview"]');
    await page.getByText("Seuls les numéros en cours d'appel").waitFor();
    assert.equal(await page.locator(`tr[data-number="${ACCUEIL}"]`).count(), 0);
    // Reset now, confirmed in a dialog: the queue figures start again.
    await page.click('nav a[href="/settings"]');
    await page.click('#reset-now');
    await page.click('#reset-confirm');
    await page.getByText('Les chiffres ont été réinitialisés.').waitFor();
    await page.click('nav a[href="/help"]');
    await page.waitForSelector('#token h2');
    await shot(page, '10-help-fr');
  });

  it('signs out and back to the login page', async () => {
    await page.click('#logout');
    await page.waitForSelector('form#login');
    const me = await page.evaluate(() => fetch('/api/me').then((r) => r.status));
    assert.equal(me, 401);
  });

  it('broke no Content-Security-Policy rule and threw no error', () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});
