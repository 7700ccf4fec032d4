// A page left open while the service restarts: it says the service is unreachable, then
// reconnects by itself (same session, kept in the database) and shows new events without a
// reload. Also: a French browser gets the French dashboard without choosing anything.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fakeOvh, startService, launchBrowser, lineEvent, freePort, shot, TOKEN } from './harness.mjs';

const LINE = '0033972101010';

describe('restart', () => {
  let ovh, service, browser, page, listen;

  before(async () => {
    ovh = await fakeOvh();
    listen = `127.0.0.1:${await freePort()}`;
    service = await startService(ovh.url, { listen });
    browser = await launchBrowser();
    const context = await browser.newContext({ locale: 'fr-FR' });
    page = await context.newPage();
    page.setDefaultTimeout(15000);
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await ovh?.close();
  });

  it('speaks French to a French browser and reconnects after the service restarts', async () => {
    await page.goto(`${service.base}/login`);
    await page.waitForSelector('h1:text("Connexion")');
    await page.fill('#token', TOKEN);
    await page.click('#login-submit');
    await page.waitForSelector("h1:text(\"Vue d'ensemble\")");
    ovh.push(lineEvent('registered', { number: LINE, calling: LINE, called: LINE }));
    const row = page.locator(`tr[data-number="${LINE}"]`);
    await row.getByText('libre').waitFor();

    await service.stop({ keep: true });
    await page.locator('#feed-health[data-state="offline"]').waitFor();
    await shot(page, '11-service-restarting');
    service = await startService(ovh.url, { listen, dir: service.dir });
    await page.locator('#feed-health[data-state="offline"]').waitFor({ state: 'detached' });

    ovh.push(lineEvent('start_ringing', { number: LINE, callId: 'r1.', calling: '0033655555555', called: LINE }));
    await row.getByText('sonne').waitFor();
    assert.equal(new URL(page.url()).pathname, '/overview', 'no reload, no login');
  });
});

// The page fetches the call log when the stream starts, while events keep coming on the
// stream. It once replaced its log with the fetched list when the answer came, losing what had
// arrived meanwhile (the browser bench saw 3–23 events in 59,000 never shown).
describe('call log fetched while the stream runs', () => {
  let ovh, service, browser, page;

  before(async () => {
    ovh = await fakeOvh();
    service = await startService(ovh.url);
    browser = await launchBrowser();
    const context = await browser.newContext({ locale: 'en-GB' });
    page = await context.newPage();
    page.setDefaultTimeout(15000);
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await ovh?.close();
  });

  it('keeps the events that arrive while the call log is being fetched, each once', async () => {
    const call = (id, caller) => lineEvent('start_ringing', { number: LINE, callId: id, calling: caller, called: LINE });
    const logRows = (caller) => page.locator('#log tbody tr', { has: page.locator(`[data-raw="${caller}"]`) });
    // Stored before the page opens: only the fetched log can show it.
    ovh.push(call('before.', '0033611111111'));
    await ovh.stored();

    // The first fetch of the call log is held twice: before it reaches the service, and with
    // its answer in hand.
    let requested, release, fetched, deliver;
    const reached = new Promise((ok) => { requested = ok; });
    const go = new Promise((ok) => { release = ok; });
    const read = new Promise((ok) => { fetched = ok; });
    const hand = new Promise((ok) => { deliver = ok; });
    let first = true;
    await page.route('**/api/events?*', async (route) => {
      if (!first) return route.continue();
      first = false;
      requested();
      await go;
      const response = await route.fetch();
      fetched();
      await hand;
      await route.fulfill({ response });
    });

    await page.goto(`${service.base}/login`);
    await page.fill('#token', TOKEN);
    await page.click('#login-submit');
    await reached;
    // Committed after the stream began and before the fetch reads the store: on the stream
    // and in the fetched log.
    ovh.push(call('during.', '0033622222222'));
    await logRows('0033622222222').first().waitFor();
    release();
    await read;
    // Committed after the fetch read the store: only on the stream.
    ovh.push(call('after.', '0033633333333'));
    await logRows('0033633333333').first().waitFor();
    deliver();
    await logRows('0033611111111').first().waitFor();

    assert.equal(await logRows('0033622222222').count(), 1, 'an event both fetched and streamed is shown once');
    assert.equal(await logRows('0033633333333').count(), 1, 'an event streamed during the fetch is kept');
    assert.equal(await logRows('0033611111111').count(), 1);
  });
});
