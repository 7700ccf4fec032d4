// Tokens at the login page and in the settings: a token OVH does not know gets a plain
// message and nothing else; a token OVH knows is followed after the check; its own user can
// then make the service forget it (after confirmation, with its history if asked) and is
// signed out; a token from the service's configuration says who can remove it.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fakeOvh, startService, launchBrowser, shot, TOKEN } from './harness.mjs';

const OTHER = '9B2D5A10-1C3E-4F5A-8B7C-0D1E2F3A4B5C';
const UNKNOWN = 'C0FFEE00-1C3E-4F5A-8B7C-0D1E2F3A4B5C';

describe('tokens', () => {
  // The tokens the fake OVH accepts; a test takes one out to make OVH refuse it.
  const known = [TOKEN, OTHER];
  let ovh, service, browser, page;

  before(async () => {
    ovh = await fakeOvh({ tokens: known });
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

  const signIn = async (token) => {
    await page.goto(`${service.base}/login`);
    await page.fill('#token', token);
    await page.click('#login-submit');
  };

  it('says plainly when OVH does not know a token', async () => {
    await signIn(UNKNOWN);
    await page.getByText('OVH does not know this token').waitFor();
    assert.equal(new URL(page.url()).pathname, '/login');
    await shot(page, '31-login-unknown-to-ovh');
  });

  it('follows a token OVH knows, and lets its user forget it', async () => {
    await signIn(OTHER);
    await page.waitForSelector('h1:text("Overview")');
    await page.goto(`${service.base}/settings`);
    await page.click('#forget-token');
    await page.check('#token-purge');
    await shot(page, '32-forget-token');
    await page.click('#forget-confirm');
    await page.waitForSelector('form#login');
    assert.equal(new URL(page.url()).pathname, '/login');
    // Signed out for good: the old session is gone with the token.
    await page.goto(`${service.base}/overview`);
    await page.waitForSelector('form#login');
  });

  it('leaves a configured token to the administrator', async () => {
    await signIn(TOKEN);
    await page.waitForSelector('h1:text("Overview")');
    await page.goto(`${service.base}/settings`);
    await page.getByText('only the administrator can remove it').waitFor();
    assert.equal(await page.locator('#forget-token').count(), 0);
  });

  // A wrong or expired token once showed only in the indicator's tooltip, and changing it
  // meant signing out first.
  it('says on the page when OVH stops accepting the token, and changes token without signing out', async () => {
    known.splice(known.indexOf(TOKEN), 1);
    await page.goto(`${service.base}/overview`);
    const banner = page.locator('#token-banner');
    await banner.getByText('OVH refuses this token since').waitFor();
    await shot(page, '33-token-refused-banner');
    await banner.getByRole('link', { name: 'Change token' }).click();
    await page.waitForSelector('#change-token');
    await page.fill('#new-token', OTHER);
    await page.click('#change-token-submit');
    await page.waitForURL(`${service.base}/overview`);
    await page.locator('#account').getByText('9B2D…').waitFor();
    assert.equal(await page.locator('#token-banner').isVisible(), false);
    assert.ok(!(await page.content()).includes(OTHER), 'the new token is not shown either');
  });
});
