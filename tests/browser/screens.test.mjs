// Screens that fought their users (issue 9): the overview redrew itself under the mouse (a
// selection in the call log vanished on every event) and grew into a 7,000 px page; History
// lost its filter on a reload and its Line filter was empty after a bookmark; words stayed in
// English on the French pages; the wallboard had the menu and small type on a TV; a phone
// scrolled sideways; reports drew "0.5 calls" and empty charts.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fakeOvh, startService, launchBrowser, lineEvent, queueEvent, shot, TOKEN, until } from './harness.mjs';

const ACCUEIL = '0033972101010';
const QUEUE = '0033972100100';

/// A whole answered call on Accueil from `caller`, `ago` seconds ago.
function call(caller, callId, ago) {
  const t0 = Date.now() / 1000 - ago;
  const e = (name, at) => lineEvent(name, { number: ACCUEIL, callId, calling: caller, called: ACCUEIL, at });
  return [e('start_ringing', t0), e('start_calling', t0 + 3), e('end_ringing', t0 + 3), e('end_calling', t0 + 40)];
}

/// A queue caller who left with `cause` (and OVH's cancel reason, if any).
function queueCaller(caller, member, ago, { answered = false, cancel } = {}) {
  const t0 = Date.now() / 1000 - ago;
  const m = { queue: QUEUE, member, caller, joined: t0 };
  const events = [queueEvent('member-queue-start', { ...m, count: '1', at: t0 })];
  if (answered) {
    events.push(queueEvent('bridge-agent-start', { ...m, agent: ACCUEIL, answered: t0 + 5, at: t0 + 5 }));
    events.push(queueEvent('bridge-agent-end', { ...m, agent: ACCUEIL, answered: t0 + 5, ended: t0 + 30, at: t0 + 30 }));
  }
  const end = queueEvent('member-queue-end', { ...m, left: t0 + 30, cause: answered ? 'Terminated' : 'Cancel', at: t0 + 30 });
  if (cancel) end.Data.QueueCancelReason = cancel;
  events.push(end);
  return events;
}

async function signIn(page, base) {
  await page.goto(`${base}/login`);
  await page.fill('#token', TOKEN);
  await page.click('#login-submit');
  // Not just any heading: the login page has one too, before the session exists.
  await page.waitForURL('**/overview');
}

describe('screens', () => {
  let ovh, service, browser, page;

  before(async () => {
    ovh = await fakeOvh();
    service = await startService(ovh.url);
    browser = await launchBrowser();
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1366, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    await signIn(page, service.base);
    ovh.push(
      // Times from now on: the live views show what happened since the figures' start.
      ...call('0033611111111', 'h1.', -1),
      ...call('0033622222222', 'h2.', -2),
      ...queueCaller('0033633333333', 'q1', -3, { answered: true }),
      ...queueCaller('0033644444444', 'q2', -4),
      ...queueCaller('0033655555555', 'q3', -5, { cancel: 'TIMEOUT' }),
    );
    await until(page, async () => ((await (await fetch('/api/queue-journal')).json()).entries || []).length === 3);
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await ovh?.close();
  });

  it('keeps a selection in the call log while events arrive, and pages the log', async () => {
    // 70 more events, three pages of the log (the log shows events since the figures' start).
    const t0 = Date.now() / 1000;
    for (let i = 0; i < 35; i += 1) {
      ovh.push(
        lineEvent('start_ringing', { number: ACCUEIL, callId: `p${i}.`, calling: `00336700000${String(i).padStart(2, '0')}`, called: ACCUEIL, at: t0 + i / 100 }),
        lineEvent('end_ringing', { number: ACCUEIL, callId: `p${i}.`, calling: `00336700000${String(i).padStart(2, '0')}`, called: ACCUEIL, at: t0 + i / 100 + 0.005 }),
      );
    }
    await page.goto(`${service.base}/overview`);
    await page.waitForFunction(() => document.querySelectorAll('#log tbody tr').length === 25);
    assert.match(await page.textContent('#log-page'), /^Page 1 of \d+$/);
    assert.ok((await page.evaluate(() => document.documentElement.scrollHeight)) < 3000, 'a page, not a 7,000 px scroll');

    // Select the description of the third row, then let an event arrive.
    const selected = await page.evaluate(() => {
      const tr = document.querySelectorAll('#log tbody tr')[2];
      window.selectedRow = tr;
      const range = document.createRange();
      range.selectNodeContents(tr.querySelector('.num'));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      return getSelection().toString();
    });
    assert.ok(selected.length > 5, selected);
    ovh.push(lineEvent('start_ringing', { number: ACCUEIL, callId: 'late.', calling: '0033699999998', called: ACCUEIL }));
    await page.locator('#log tbody tr').first().filter({ hasText: '+33 6 99 99 99 98' }).waitFor();
    assert.equal(await page.evaluate(() => window.selectedRow.isConnected), true, 'the row was kept, not redrawn');
    assert.equal(await page.evaluate(() => getSelection().toString()), selected, 'the selection survived');

    // An older page holds still while events arrive.
    await page.click('#log-older');
    await page.waitForFunction(() => /^Page 2 /.test(document.getElementById('log-page').textContent));
    const top = await page.locator('#log tbody tr').first().getAttribute('data-key');
    ovh.push(lineEvent('end_ringing', { number: ACCUEIL, callId: 'late.', calling: '0033699999998', called: ACCUEIL }));
    await page.waitForFunction(() => document.querySelectorAll('[data-event]').length && /Page 2 of/.test(document.getElementById('log-page').textContent));
    await until(page, async () => ((await (await fetch('/api/events?limit=1')).json()).events || [])[0]?.event === 'end_ringing');
    assert.equal(await page.locator('#log tbody tr').first().getAttribute('data-key'), top);
    await shot(page, '50-overview-log-paged');
    await page.click('#log-newest');
    await page.waitForFunction(() => /^Page 1 /.test(document.getElementById('log-page').textContent));
  });

  it('keeps the history filter in the address, through a reload and a bookmark', async () => {
    // A bookmark: the Line filter shows the line by name although the live board was not
    // loaded by this view.
    await page.goto(`${service.base}/history?number=${ACCUEIL}&direction=incoming`);
    await page.waitForSelector('#results tbody tr');
    assert.equal(await page.inputValue('#f-number'), ACCUEIL);
    await page.waitForFunction(() => /Accueil/.test(document.querySelector('#f-number').selectedOptions[0].textContent));
    assert.equal(await page.inputValue('#f-direction'), 'incoming');
    await page.fill('#f-q', '06 22 22 22 22');
    await page.click('#filter-apply');
    await page.getByText('1 rows shown').waitFor();
    assert.match(page.url(), /q=06\+22\+22\+22\+22/);
    await page.reload();
    await page.getByText('1 rows shown').waitFor();
    assert.equal(await page.inputValue('#f-q'), '06 22 22 22 22');
    assert.match(await page.locator('#results tbody tr').first().textContent(), /\+33 6 22 22 22 22/);
    // No "Dialled" column of empty cells.
    assert.doesNotMatch(await page.locator('#results thead').textContent(), /Dialled/);
    await page.click('#tab-journal');
    await page.waitForURL(/tab=journal/);
    await page.goBack();
    await page.getByText('1 rows shown').waitFor();
    assert.equal(await page.inputValue('#f-q'), '06 22 22 22 22');
  });

  it('draws reports in whole calls, and no chart for an empty period', async () => {
    await page.goto(`${service.base}/reports`);
    await page.waitForSelector('#h-rep-calls ~ figure svg');
    const axis = await page.locator('#h-rep-calls ~ figure text.axis[text-anchor="end"]').allTextContents();
    assert.ok(axis.length >= 2 && axis.every((x) => /^\d+$/.test(x)), axis.join(','));
    assert.match(await page.locator('.report-queue h3').first().textContent(), /Support/, 'the queue by its name');
    await page.fill('#r-from', '2020-01-06');
    await page.fill('#r-to', '2020-01-06');
    await page.click('#report-show');
    await page.waitForSelector('.empty-report');
    assert.equal(await page.locator('#report figure.chart').count(), 0);
    await shot(page, '51-reports-empty');
  });

  it('speaks French everywhere once French is chosen on the login page', async () => {
    const context = await browser.newContext({ locale: 'en-GB' });
    const fr = await context.newPage();
    fr.setDefaultTimeout(10000);
    await fr.goto(`${service.base}/login`);
    await fr.selectOption('#login-language', 'fr');
    await fr.waitForSelector('h1:text("Connexion")');
    await fr.fill('#token', TOKEN);
    await fr.click('#login-submit');
    await fr.waitForSelector('h1:text("Vue d\'ensemble")');
    // English words that once showed through on the French pages.
    const english = /\b(hangup|terminated|timeout|start_ringing|end_ringing|end_calling|Overview|Queues?|History|Reports|Settings|Wallboard|answered|abandoned|missed|waiting|Caller|Called|Show more|Apply|Page \d+ of)\b/;
    const visit = async (path, ready, words = english) => {
      await fr.goto(`${service.base}${path}`);
      await fr.waitForSelector(ready);
      // OVH's own event names stay beside their words, in brackets: receivers use them.
      const text = (await fr.evaluate(() => document.body.innerText)).replace(/\([a-z_-]+\)/g, '');
      const found = words.exec(text);
      assert.equal(found && found[0], null, `${path}: "${found && text.slice(Math.max(0, found.index - 60), found.index + 40)}"`);
    };
    await visit('/overview', '#log tbody tr[data-key]');
    // A journal row with its reason, not the "nothing yet" row drawn before the journal loads.
    await visit('/queues', '#h-journal + .scroll tbody tr .reason');
    const reasons = await fr.locator('#h-journal + .scroll .reason').allTextContents();
    assert.deepEqual(new Set(reasons), new Set(['après une conversation', "l'appelant a raccroché", 'attente maximale atteinte']));
    await shot(fr, '52-queues-fr');
    await visit('/wall', '.tile');
    await visit('/history', '#results tbody tr');
    await visit('/history?tab=journal', '#results tbody tr');
    await visit('/history?tab=callbacks', '#callbacks');
    await visit('/reports', '.report-queue');
    await visit('/webhooks', '#hook-url');
    await visit('/settings', 'form');
    // Help documents OVH's event names (the template's *EVENT*): only the words are checked.
    await visit('/help', 'h1', new RegExp(english.source.replace('start_ringing|end_ringing|end_calling|', '')));
    await context.close();
  });

  it('makes /wall a kiosk readable from across the room on a 1920 px screen', async () => {
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1920, height: 1080 } });
    const tv = await context.newPage();
    tv.setDefaultTimeout(10000);
    await signIn(tv, service.base);
    await tv.goto(`${service.base}/wall`);
    await tv.waitForSelector('.tile .huge .value');
    // Found and measured in one step of the page: the wall redraws itself, and CI once
    // measured a tile it had just replaced (detached, it has no style: NaN).
    const px = (sel) => tv.evaluate((s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize), sel);
    assert.ok((await px('.tile .huge')) >= 96, 'waiting count');
    assert.ok((await px('.tile .large')) >= 36, 'figures');
    assert.ok((await px('.tile .large .label')) >= 24, 'labels');
    assert.ok((await px('.wall-strip')) >= 28, 'clock and feed state');
    // The feed's state is on the wall too (figures that stopped must say so).
    await tv.locator('#wall-health[data-state="connected"]').waitFor();
    // Nothing to navigate to, nothing to change.
    const controls = await tv.evaluate(() => [...document.querySelectorAll('a, button, input, select, textarea')]
      .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().right > 0).map((el) => el.outerHTML));
    assert.deepEqual(controls, []);
    await shot(tv, '53-wall-1920');
    await context.close();
  });

  it('fits a 390 px phone on every view', async () => {
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const phone = await context.newPage();
    phone.setDefaultTimeout(10000);
    await signIn(phone, service.base);
    for (const [path, ready] of [['/overview', '#log tbody tr[data-key]'], ['/queues', '.queue'], ['/wall', '.tile'], ['/history', '#results tbody tr'],
      ['/history?tab=callbacks', '#callbacks'], ['/reports', '.report-queue'], ['/settings', 'form'], ['/webhooks', '#hook-url'], ['/help', 'h1']]) {
      await phone.goto(`${service.base}${path}`);
      await phone.waitForSelector(ready);
      const width = await phone.evaluate(() => document.documentElement.scrollWidth);
      const wide = await phone.evaluate(() => [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > 391 && !el.closest('.scroll, table, header nav')).slice(0, 3).map((el) => el.outerHTML.slice(0, 120)));
      assert.ok(width <= 390, `${path} is ${width} px wide: ${wide.join(' | ')}`);
      if (path === '/overview' || path === '/history') await shot(phone, `54-phone${path.replace('/', '-')}`);
    }
    await context.close();
  });
});
