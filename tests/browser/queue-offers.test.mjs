// A queue ringing its agents' lines (ring-all): the history shows the answered agent call
// with the real caller "via" the queue, the other agent's ring as a queue ring not taken —
// never as a missed call from the queue's number — and "To call back" lists neither the
// queue's number nor the caller who was answered. (The queue's own number once topped the
// callback list, and its rings made most calls "missed".)

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fakeOvh, startService, launchBrowser, lineEvent, queueEvent, shot, TOKEN, until } from './harness.mjs';

const ACCUEIL = '0033972101010';
const COMPTA = '0033972101011';
const QUEUE = '0033972100100';
const CALLER = '0033655555555';

describe('queue offers', () => {
  let ovh, service, browser, page;

  before(async () => {
    ovh = await fakeOvh();
    service = await startService(ovh.url);
    browser = await launchBrowser();
    const context = await browser.newContext({ locale: 'en-GB' });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await ovh?.close();
  });

  it('shows the agent call via the queue with the real caller, and the other ring as not taken', async () => {
    await page.goto(`${service.base}/login`);
    await page.fill('#token', TOKEN);
    await page.click('#login-submit');
    await page.waitForSelector('h1:text("Overview")');

    const t0 = Date.now() / 1000 - 300;
    const member = { queue: QUEUE, member: 'm1', caller: CALLER, joined: t0 };
    const ring = (name, number, callId, at, description) =>
      lineEvent(name, { number, callId, calling: QUEUE, called: number, dialed: QUEUE, at, description });
    ovh.push(
      queueEvent('member-queue-start', { ...member, count: '1', at: t0 }),
      queueEvent('agent-offering', { ...member, agent: ACCUEIL, at: t0 + 1 }),
      ring('start_ringing', ACCUEIL, 'a1.', t0 + 1, 'Accueil'),
      queueEvent('agent-offering', { ...member, agent: COMPTA, at: t0 + 1 }),
      ring('start_ringing', COMPTA, 'b1.', t0 + 1, 'Compta'),
      queueEvent('bridge-agent-start', { ...member, agent: ACCUEIL, answered: t0 + 8, at: t0 + 8 }),
      ring('start_calling', ACCUEIL, 'a1.', t0 + 8, 'Accueil'),
      ring('end_ringing', ACCUEIL, 'a1.', t0 + 8, 'Accueil'),
      queueEvent('bridge-agent-fail', { ...member, agent: COMPTA, at: t0 + 8.1 }),
      ring('end_ringing', COMPTA, 'b1.', t0 + 8.1, 'Compta'),
      queueEvent('bridge-agent-end', { ...member, agent: ACCUEIL, answered: t0 + 8, ended: t0 + 68, at: t0 + 68 }),
      ring('end_calling', ACCUEIL, 'a1.', t0 + 68, 'Accueil'),
      queueEvent('member-queue-end', { ...member, left: t0 + 68, cause: 'Terminated', at: t0 + 68 }),
    );

    // Both agent calls stored before the history is read (it shows what is stored when opened).
    await until(page, async () => (await (await fetch('/api/history')).json()).calls.length === 2);
    await page.click('nav a[href="/history"]');
    const rows = page.locator('#results tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('#results tbody tr').length === 2);
    const answered = rows.filter({ hasText: 'answered' });
    assert.match(await answered.textContent(), /\+33 6 55 55 55 55/, 'the real caller');
    assert.match(await answered.textContent(), /via Support/);
    const notTaken = rows.filter({ hasText: 'queue ring not taken' });
    assert.equal(await notTaken.count(), 1);
    assert.doesNotMatch(await page.locator('#results').textContent(), /\bmissed\b/);
    await shot(page, '41-history-queue-offers');

    await page.selectOption('#f-outcome', 'missed');
    await page.click('#filter-apply');
    await page.getByText('0 rows shown').waitFor();

    await page.click('#tab-callbacks');
    await page.waitForSelector('#history-results');
    const callbacks = await page.locator('#history-results').textContent();
    assert.doesNotMatch(callbacks, /\+33 9 72 10 01 00/, 'not the queue’s own number');
    assert.doesNotMatch(callbacks, /\+33 6 55 55 55 55/, 'not the caller who was answered');
    await shot(page, '42-callbacks-without-queue');
  });
});
