// Login CSRF: a page on another origin (127.0.0.1, another port) that posts a login — a
// self-submitting form with a JSON-looking text/plain body, a no-cors fetch, a JSON fetch —
// must not sign the visiting browser in to the attacker's token (whose later settings would
// land in the attacker's account). The dashboard's own page still signs in.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fakeOvh, startService, launchBrowser, shot, TOKEN } from './harness.mjs';

/// A foreign site serving one attack page per path, each aimed at `target`.
async function attacker(target) {
  const pages = {
    // The classic trick: the field's name and value add up to a JSON body.
    '/form': `<!doctype html><form id="f" method="POST" action="${target}/api/login" enctype="text/plain">
      <input name='{"token":"${TOKEN}","x":"' value='"}'></form>
      <script>document.getElementById('f').submit()</script>`,
    '/no-cors': `<!doctype html><script>
      fetch('${target}/api/login', { method: 'POST', mode: 'no-cors', credentials: 'include',
        headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ token: '${TOKEN}' }) })
        .then(() => { document.title = 'sent'; }, () => { document.title = 'failed'; });
    </script>`,
    '/json': `<!doctype html><script>
      fetch('${target}/api/login', { method: 'POST', credentials: 'include',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: '${TOKEN}' }) })
        .then(() => { document.title = 'sent'; }, () => { document.title = 'failed'; });
    </script>`,
  };
  const server = http.createServer((req, res) => {
    const body = pages[new URL(req.url, 'http://x').pathname];
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html' });
    res.end(body || 'no');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((ok) => server.close(ok)),
  };
}

describe('login csrf', () => {
  let ovh, service, evil, browser, context, page;
  const answers = [];

  before(async () => {
    ovh = await fakeOvh();
    service = await startService(ovh.url);
    evil = await attacker(service.base);
    browser = await launchBrowser();
    context = await browser.newContext({ locale: 'en-GB' });
    page = await context.newPage();
    page.setDefaultTimeout(10000);
    page.on('response', (r) => { if (r.url().endsWith('/api/login')) answers.push(r.status()); });
  });

  after(async () => {
    await browser?.close();
    await evil?.close();
    await service?.stop();
    await ovh?.close();
  });

  const sessionCookies = async () => (await context.cookies(service.base)).filter((c) => c.name === 'ovh_cti_session');

  it('a form posted from another origin does not sign the browser in', async () => {
    const answered = page.waitForResponse((r) => r.url() === `${service.base}/api/login`);
    await page.goto(`${evil.url}/form`);
    const res = await answered;
    assert.equal(res.status(), 403, 'refused for its origin');
    assert.match(await res.text(), /another site is refused/);
    assert.deepEqual(await sessionCookies(), []);
    await shot(page, '30-csrf-form-refused');
  });

  it('a fetch from another origin, JSON or not, does not sign the browser in', async () => {
    for (const path of ['/no-cors', '/json']) {
      await page.goto(`${evil.url}${path}`);
      await page.waitForFunction(() => document.title === 'sent' || document.title === 'failed');
      assert.deepEqual(await sessionCookies(), [], path);
    }
    // The JSON one never got past the browser's preflight; the other was refused.
    assert.ok(answers.every((s) => s === 403 || s === 415), `answers: ${answers}`);
    await page.goto(`${service.base}/overview`);
    await page.waitForSelector('form#login');
    assert.equal(new URL(page.url()).pathname, '/login', 'still signed out');
  });

  it('the dashboard\'s own login page still signs in', async () => {
    await page.fill('#token', TOKEN);
    await page.click('#login-submit');
    await page.waitForSelector('h1:text("Overview")');
    assert.equal((await sessionCookies()).length, 1);
  });
});
