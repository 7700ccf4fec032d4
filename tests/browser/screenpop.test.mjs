// Screen pop and webhooks in the browser: the real service on a scripted fake OVH feed, a tiny
// "CRM" on 127.0.0.1 (it serves the page the pop opens and receives the webhooks; the service
// is started with --webhook-allow 127.0.0.0/8 so it may reach it), and headless Chromium.
// Every step waits for what it expects; screenshots go to artifacts/.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fakeOvh, startService, launchBrowser, lineEvent, shot, TOKEN } from './harness.mjs';

const LINE = '0033972101010';
const CALLER = '0033655555555';
const HOSTILE = '<img src=x onerror="window.__pwned=1"> Atelier & <b>co</b>';

/// The CRM: any GET answers a page naming its query; POST /hook records the webhook.
async function fakeCrm() {
  const hooks = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method === 'POST') {
        hooks.push({ path: req.url, headers: req.headers, body });
        for (const w of waiters.splice(0)) w();
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>CRM</title><h1>CRM page</h1>');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hooks,
    nextHook() { return hooks.length ? Promise.resolve() : new Promise((ok) => waiters.push(ok)); },
    close() { server.closeAllConnections?.(); return new Promise((ok) => server.close(ok)); },
  };
}

describe('screen pop and webhooks', () => {
  let ovh, crm, service, browser, context, page;
  const cspViolations = [];
  const pageErrors = [];
  const watch = (p) => {
    p.setDefaultTimeout(10000);
    p.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
    p.on('pageerror', (e) => pageErrors.push(String(e)));
  };
  const ring = (extra = {}) => lineEvent('start_ringing', { number: LINE, calling: CALLER, called: LINE, description: 'Accueil & Co', ...extra });
  const putSettings = (p, body) => p.evaluate(async (b) => {
    const res = await fetch('/api/settings', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) });
    return res.status;
  }, body);
  let template;
  const expected = (caller, description) => `${crm.url}/lookup?n=${caller}&d=${description}&e=start_ringing`;

  before(async () => {
    ovh = await fakeOvh();
    crm = await fakeCrm();
    template = `${crm.url}/lookup?n=*CALLING*&d=*DESCRIPTION*&e=*EVENT*`;
    service = await startService(ovh.url, { args: ['--webhook-allow', '127.0.0.0/8'] });
    browser = await launchBrowser();
    context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1366, height: 900 } });
    page = await context.newPage();
    watch(page);
    await page.goto(`${service.base}/login`);
    await page.fill('#token', TOKEN);
    await page.click('#login-submit');
    await page.waitForSelector('h1:text("Overview")');
    ovh.push(lineEvent('registered', { number: LINE, calling: LINE, called: LINE, description: 'Accueil & Co' }));
    await page.locator(`tr[data-number="${LINE}"]`).getByText('free').waitFor();
  });

  after(async () => {
    await page?.screenshot({ path: new URL('./artifacts/zz-screenpop-last.png', import.meta.url).pathname, fullPage: true }).catch(() => {});
    await browser?.close();
    await service?.stop();
    await crm?.close();
    await ovh?.close();
  });

  it('sets a modal screen pop on the settings page, every field included', async () => {
    await page.click('nav a[href="/settings"]');
    await page.waitForSelector('form#settings');
    await page.check('#pop-enabled');
    await page.check('#mode-modal');
    await page.fill('#pop-url', template);
    assert.equal(await page.textContent('#pop-preview'), `${crm.url}/lookup?n=0033655555555&d=Accueil%20%26%20Co&e=start_ringing`);
    assert.equal(await page.isChecked('#ev-start_ringing'), true);
    assert.equal(await page.isChecked('#dir-incoming'), true);
    // Chosen lines: the line is offered from /api/lines; choosing none is refused here.
    await page.check('#pop-numbers-some');
    await page.locator(`[id="num-${LINE}"]`).waitFor();
    await page.click('#settings-save');
    await page.getByText('Choose at least one line or queue').waitFor();
    await page.check(`[id="num-${LINE}"]`);
    await page.click('#settings-save');
    await page.getByText('Settings saved.').waitFor();
    const saved = await page.evaluate(() => fetch('/api/settings').then((r) => r.json()));
    assert.deepEqual(saved.screen_pop, {
      enabled: true, mode: 'modal', url: template, events: ['start_ringing', 'member-queue-start'], directions: ['incoming'], numbers: [LINE],
    });
    await page.click('nav a[href="/overview"]');
    await page.waitForSelector('h1:text("Overview")');
  });

  it('opens a ringing call in the modal, values percent-encoded, with a new-tab link', async () => {
    ovh.push(ring());
    const dialog = page.locator('#pop-dialog[open]');
    await dialog.waitFor();
    const frame = page.locator('#pop-frame');
    assert.equal(await frame.getAttribute('src'), expected(CALLER, 'Accueil%20%26%20Co'));
    assert.equal(await frame.getAttribute('sandbox'), 'allow-scripts allow-same-origin allow-forms');
    assert.equal(await frame.getAttribute('referrerpolicy'), 'no-referrer');
    await page.frameLocator('#pop-frame').getByText('CRM page').waitFor();
    assert.equal(await page.textContent('#pop-title'), 'Call from +33 6 55 55 55 55');
    assert.match(await page.textContent('#pop-line'), /on \+33 9 72 10 10 10 — Accueil & Co · ringing/);
    assert.equal(await page.textContent('#pop-count'), '1 of 1');
    const link = page.locator('#pop-newtab');
    assert.equal(await link.getAttribute('href'), expected(CALLER, 'Accueil%20%26%20Co'));
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'pop-close', 'the focus moves into the dialog');
    await shot(page, '20-screenpop-modal');
    await page.click('#pop-close');
    await dialog.waitFor({ state: 'detached' });
  });

  it('queues two quick rings instead of replacing one with the other', async () => {
    ovh.push(ring({ calling: '0033611111111' }), ring({ calling: '0033622222222' }));
    await page.locator('#pop-count', { hasText: '1 of 2' }).waitFor();
    assert.equal(await page.textContent('#pop-title'), 'Call from +33 6 11 11 11 11');
    await page.click('#pop-next');
    await page.locator('#pop-count', { hasText: '2 of 2' }).waitFor();
    assert.equal(await page.getAttribute('#pop-frame', 'src'), expected('0033622222222', 'Accueil%20%26%20Co'));
    // Esc closes the pop shown; the other takes its place; Esc again closes the dialog.
    await page.keyboard.press('Escape');
    await page.locator('#pop-count', { hasText: '1 of 1' }).waitFor();
    assert.equal(await page.textContent('#pop-title'), 'Call from +33 6 11 11 11 11');
    await page.keyboard.press('Escape');
    await page.locator('#pop-dialog[open]').waitFor({ state: 'detached' });
  });

  it('shows a hostile description in a pop as text', async () => {
    ovh.push(ring({ description: HOSTILE }));
    await page.locator('#pop-dialog[open]').waitFor();
    assert.equal(await page.textContent('#pop-line'), `on +33 9 72 10 10 10 — ${HOSTILE} · ringing`);
    assert.equal(await page.locator('#pop-dialog img, #pop-dialog b').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.match(await page.getAttribute('#pop-frame', 'src'), /d=%3Cimg%20src%3Dx%20onerror%3D%22window\.__pwned%3D1%22%3E%20Atelier%20%26%20%3Cb%3Eco%3C%2Fb%3E&/);
    await page.click('#pop-close-all');
    await page.locator('#pop-dialog[open]').waitFor({ state: 'detached' });
  });

  it('shows a desktop notification when asked to, and a click opens the pop', async () => {
    const other = await context.newPage();
    watch(other);
    // A recording stand-in for the browser's notifications, permission granted.
    await other.addInitScript(() => {
      window.__notes = [];
      window.Notification = class {
        static permission = 'default';
        static requestPermission() { this.permission = 'granted'; return Promise.resolve('granted'); }
        constructor(title, options) { this.listeners = {}; window.__notes.push({ title, body: options.body, note: this }); }
        addEventListener(type, fn) { this.listeners[type] = fn; }
        close() {}
      };
    });
    await other.goto(`${service.base}/settings`);
    assert.equal(await other.isChecked('#pop-notify'), false, 'off by default');
    await other.check('#pop-notify');
    await other.getByText('Notifications are on for this browser.').waitFor();
    assert.equal(await other.evaluate(() => localStorage.getItem('ovh-cti.notifications')), 'on');
    await other.click('nav a[href="/overview"]');
    await other.locator(`tr[data-number="${LINE}"]`).waitFor();
    ovh.push(ring({ calling: '0033633333333' }));
    await other.locator('#pop-dialog[open]').waitFor();
    const notes = await other.evaluate(() => window.__notes.map(({ title, body }) => ({ title, body })));
    assert.deepEqual(notes, [{ title: 'Call from +33 6 33 33 33 33', body: 'on +33 9 72 10 10 10 — Accueil & Co\nringing' }]);
    await other.click('#pop-close');
    await other.locator('#pop-dialog[open]').waitFor({ state: 'detached' });
    await other.evaluate(() => window.__notes[0].note.listeners.click());
    await other.locator('#pop-dialog[open]').waitFor();
    assert.equal(await other.getAttribute('#pop-frame', 'src'), expected('0033633333333', 'Accueil%20%26%20Co'));
    await other.close();
    await page.locator('#pop-dialog[open]').waitFor();
    await page.click('#pop-close-all');
  });

  it('opens a pop-up window in popup mode', async () => {
    assert.equal(await putSettings(page, { screen_pop: { mode: 'popup' } }), 200);
    await page.reload();
    await page.locator(`tr[data-number="${LINE}"]`).waitFor();
    const popup = page.waitForEvent('popup');
    ovh.push(ring({ calling: '0033644444444' }));
    const win = await popup;
    await win.waitForURL(expected('0033644444444', 'Accueil%20%26%20Co'));
    await win.getByText('CRM page').waitFor();
    assert.equal(await win.evaluate(() => window.opener), null, 'the CRM cannot reach the dashboard');
    assert.equal(await win.evaluate(() => document.referrer), '', 'no referrer');
    await win.close();
  });

  it('shows a clickable notice when the pop-up is blocked', async () => {
    const blocked = await context.newPage();
    watch(blocked);
    await blocked.addInitScript(() => { window.open = () => null; });
    await blocked.goto(`${service.base}/overview`);
    await blocked.locator(`tr[data-number="${LINE}"]`).waitFor();
    const elsewhere = page.waitForEvent('popup');
    ovh.push(ring({ calling: '0033655550000' }));
    await (await elsewhere).close(); // the first page, which may open windows, did
    const notice = blocked.locator('.pop-notice');
    await notice.getByText('Pop-up blocked — open the CRM page').waitFor();
    assert.match(await notice.textContent(), /Call from \+33 6 55 55 00 00/);
    assert.equal(await notice.locator('a[href="/help#popups"]').count(), 1, 'the notice links to how to allow pop-ups');
    await shot(blocked, '21-screenpop-popup-blocked');
    const opened = blocked.waitForEvent('popup');
    await notice.locator('a.pop-open').click();
    const win = await opened;
    await win.waitForURL(expected('0033655550000', 'Accueil%20%26%20Co'));
    await notice.waitFor({ state: 'detached' });
    await win.close();
    await blocked.close();
    assert.equal(await putSettings(page, { screen_pop: { enabled: false } }), 200);
  });

  it('creates a webhook (secret shown once), sends a test event and logs its delivery', async () => {
    await page.click('nav a[href="/webhooks"]');
    await page.waitForSelector('h1:text("Webhooks")');
    await page.getByText('No endpoint yet.').waitFor();
    await page.fill('#hook-url', `${crm.url}/hook`);
    await page.fill('#hook-description', 'CRM <b>main</b>');
    await page.click('#hook-create');
    const secret = await page.locator('#webhook-secret').textContent();
    assert.match(secret, /^whsec_[A-Za-z0-9+/=]+$/);
    await page.getByText('it is shown only this once').waitFor();
    const row = page.locator('#hooks-list tbody tr').first();
    await row.locator('span.url', { hasText: `${crm.url}/hook` }).waitFor();
    assert.match(await row.textContent(), /CRM <b>main<\/b>.*All events.*enabled/);
    await shot(page, '22-webhooks-created');

    await page.reload();
    await page.locator('#hooks-list tbody tr').first().locator('span.url', { hasText: `${crm.url}/hook` }).waitFor();
    assert.equal(await page.locator('#secret-once').count(), 0);
    assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');

    await page.click('.hook-test');
    const queued = await page.locator('#hooks-status').getByText('Test event queued').textContent();
    const webhookId = /\((msg_[^)]+)\)/.exec(queued)[1];
    const delivery = page.locator(`#deliveries tr[data-webhook-id="${webhookId}"]`);
    await delivery.getByText('delivered').waitFor();
    assert.match(await delivery.textContent(), /webhook.*test.*\/hook.*200.*ms.*1.*delivered/);
    await crm.nextHook();
    const hook = crm.hooks.find((x) => x.headers['webhook-id'] === webhookId);
    assert.ok(hook, 'the receiver got the test event with the id shown');
    assert.equal(JSON.parse(hook.body).type, 'test');
    assert.match(hook.headers['webhook-signature'], /^v1,/);
    // The endpoint is read again once its delivery shows: its last success is filled in.
    await page.locator('#hooks-list tbody tr[data-id] td:nth-child(5)').filter({ hasNotText: '—' }).waitFor();
    await page.selectOption('#d-kind', 'pop');
    await page.getByText('No delivery yet.').waitFor();
    await page.selectOption('#d-kind', 'webhook');
    await delivery.waitFor();
    await shot(page, '23-webhooks-log');

    // Delete, after confirmation.
    await page.click('.hook-delete');
    await page.click('dialog[open] button[value=cancel]');
    assert.equal(await page.locator('#hooks-list tbody tr[data-id]').count(), 1);
    await page.click('.hook-delete');
    await page.click('dialog[open] button[value=confirm]');
    await page.getByText('Endpoint deleted.').waitFor();
    await page.getByText('No endpoint yet.').waitFor();
  });

  it('refuses a webhook the service would not deliver, naming why', async () => {
    await page.fill('#hook-url', 'ftp://crm.example/');
    await page.click('#hook-create');
    await page.locator('#hook-error').getByText('Failed:').waitFor();
    assert.equal(await page.locator('#secret-once').count(), 0);
  });

  it('broke no Content-Security-Policy rule and threw no error', () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});
