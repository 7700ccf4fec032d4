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
