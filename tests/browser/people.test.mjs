// People, not tokens (issue 10): the first admin, made on the command line, signs in with a
// password and adds a supervisor and an agent from the People view; each then sees what their
// role allows — the agent only their own line, neither the admin's views; a wall link shows
// the kiosk with no way out and nothing to change, and revoking it signs the screen out. An
// agent chooses her own screen pop, which pops for her alone.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { fakeOvh, startService, launchBrowser, lineEvent, queueEvent, shot, BIN, TOKEN, until } from './harness.mjs';

const ACCUEIL = '0033972101010';
const COMPTA = '0033972101012';
const QUEUE = '0033972100100';
const PASSWORD = 'correct horse battery';
/// Another billing account's token, that the fake OVH knows too.
const TOKEN_2 = '9B2D5A10-1C3E-4F5A-8B7C-0D1E2F3A4B5C';

async function signIn(context, base, login, password = PASSWORD) {
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  await page.goto(`${base}/login`);
  await page.fill('#account-login', login);
  await page.fill('#account-password', password);
  await page.click('#account-submit');
  await page.waitForURL('**/overview');
  await page.waitForSelector('#lines tbody tr[data-number]');
  return page;
}

/// The TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a base32 secret for the step `step`.
function totp(secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, '0');
}

const menu = (page) => page.$$eval('nav a[data-nav]', (links) => links.map((a) => a.getAttribute('href')));

describe('people', () => {
  let ovh, service, browser;

  before(async () => {
    ovh = await fakeOvh({ tokens: [TOKEN, TOKEN_2] });
    service = await startService(ovh.url);
    const made = spawnSync(BIN, ['users', 'add', 'ada', '--role', 'admin', '--db', path.join(service.dir, 'test.db')], { input: `${PASSWORD}\n` });
    assert.equal(made.status, 0, String(made.stderr));
    ovh.push(
      lineEvent('registered', { number: ACCUEIL, calling: ACCUEIL, called: ACCUEIL }),
      lineEvent('registered', { number: COMPTA, calling: COMPTA, called: COMPTA, description: 'Compta' }),
      lineEvent('start_ringing', { number: COMPTA, callId: 'c1.', calling: '0033611111111', called: COMPTA, description: 'Compta' }),
      queueEvent('member-queue-start', { queue: QUEUE, member: 'm1', caller: '0033622222222', joined: Date.now() / 1000, count: '1' }),
    );
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await ovh?.close();
  });

  it('lets an admin add a supervisor and an agent, who each see what their role allows', async () => {
    const admin = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ada');
    assert.ok((await menu(admin)).includes('/people'), 'an admin has the People view');
    await admin.click('nav a[href="/people"]');
    await admin.waitForSelector('#add-user');

    await admin.fill('#new-login', 'sam');
    await admin.fill('#new-password', PASSWORD);
    await admin.selectOption('#new-role', 'supervisor');
    await admin.click('#add-user-submit');
    await admin.waitForSelector('.user-login:text-is("sam")');
    await admin.fill('#new-login', 'ann');
    await admin.fill('#new-password', PASSWORD);
    await admin.selectOption('#new-role', 'agent');
    await admin.fill('#new-lines', '09 72 10 10 10');
    await admin.click('#add-user-submit');
    await admin.waitForSelector('.user-login:text-is("ann")');
    const roles = await admin.$$eval('#users tbody tr', (rows) => rows.map((r) => r.textContent));
    assert.ok(roles.some((r) => r.includes('ann') && r.includes('agent') && r.includes(ACCUEIL)), roles.join('\n'));
    await shot(admin, '60-people-admin');

    const sam = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'sam');
    const samMenu = await menu(sam);
    assert.ok(!samMenu.includes('/people') && !samMenu.includes('/settings') && !samMenu.includes('/webhooks'), samMenu.join(' '));
    await sam.waitForSelector(`#lines tr[data-number="${COMPTA}"]`);
    assert.equal(await sam.locator('#lines tbody tr[data-number]').count(), 2, 'a supervisor sees every line');
    await shot(sam, '61-people-supervisor');
    // The People view is not his: its address falls back to the overview.
    await sam.goto(`${service.base}/people`);
    await sam.waitForURL('**/overview');

    const ann = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ann');
    await ann.waitForSelector(`#lines tr[data-number="${ACCUEIL}"]`);
    assert.equal(await ann.locator('#lines tbody tr[data-number]').count(), 1, 'an agent sees her own line only');
    assert.ok(!(await ann.content()).includes(COMPTA), 'not even in the calls in progress');
    assert.ok(!(await menu(ann)).includes('/people'));
    // What arrives afterwards on another line never reaches her page either.
    ovh.push(lineEvent('start_ringing', { number: COMPTA, callId: 'c2.', calling: '0033633333333', called: COMPTA, description: 'Compta' }));
    await until(sam, async () => JSON.stringify(await (await fetch('/api/calls')).json()).includes('0033633333333'));
    assert.ok(!(await ann.content()).includes('0033633333333'));
    await shot(ann, '62-people-agent');

    // The audit log has it all.
    await admin.reload();
    await admin.waitForSelector('#audit tbody tr');
    const audit = await admin.locator('#audit').textContent();
    assert.ok(audit.includes('user.create') && audit.includes('user ada'), audit);
  });

  it('lets an agent choose her own screen pop, which pops for her alone', async () => {
    const made = spawnSync(BIN, ['users', 'add', 'zoe', '--role', 'agent', '--line', ACCUEIL, '--db', path.join(service.dir, 'test.db')], { input: `${PASSWORD}\n` });
    assert.equal(made.status, 0, String(made.stderr));
    const admin = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ada');
    // The organisation's pop, set by its admin: a dialog on every incoming ring.
    const orgUrl = 'http://127.0.0.1:9/org?c=*CALLING*';
    const status = await admin.evaluate(async (url) => (await fetch('/api/settings', {
      method: 'PUT', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ screen_pop: { enabled: true, mode: 'modal', url, events: ['start_ringing'], directions: ['incoming'], numbers: null } }),
    })).status, orgUrl);
    assert.equal(status, 200);

    const zoe = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'zoe');
    assert.ok((await menu(zoe)).includes('/my-screen-pop'), 'an agent has her own screen pop');
    await zoe.click('nav a[href="/my-screen-pop"]');
    await zoe.waitForSelector('#my-pop-state:has-text("You follow the organisation\'s screen pop.")');
    assert.equal(await zoe.locator('#mode-silent').count(), 0, 'a silent pop is not hers to choose');
    await zoe.check('#pop-enabled');
    await zoe.fill('#pop-url', 'http://127.0.0.1:9/zoe?c=*CALLING*');
    await zoe.click('#my-pop-save');
    await zoe.waitForSelector('#my-pop-state:has-text("You use your own screen pop.")');
    await shot(zoe, '65-my-screen-pop');
    await zoe.click('nav a[href="/overview"]');
    await zoe.waitForSelector(`#lines tr[data-number="${ACCUEIL}"]`);

    // A ring on her line: her CRM for her, the organisation's for the admin.
    ovh.push(lineEvent('start_ringing', { number: ACCUEIL, callId: 'z1.', calling: '0033644444444', called: ACCUEIL }));
    await zoe.locator('#pop-dialog[open]').waitFor();
    assert.equal(await zoe.locator('#pop-frame').getAttribute('src'), 'http://127.0.0.1:9/zoe?c=0033644444444');
    await admin.locator('#pop-dialog[open]').waitFor();
    assert.equal(await admin.locator('#pop-frame').getAttribute('src'), 'http://127.0.0.1:9/org?c=0033644444444');
    await zoe.click('#pop-close');

    // Back to the organisation's.
    await zoe.click('nav a[href="/my-screen-pop"]');
    await zoe.click('#my-pop-follow');
    await zoe.waitForSelector('#my-pop-state:has-text("You follow the organisation\'s screen pop.")');
    ovh.push(lineEvent('start_ringing', { number: ACCUEIL, callId: 'z2.', calling: '0033655555555', called: ACCUEIL }));
    await zoe.locator('#pop-frame[src="http://127.0.0.1:9/org?c=0033655555555"]').waitFor();
    // The organisation's pop is off again for the tests that follow.
    await admin.evaluate(() => fetch('/api/settings', {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ screen_pop: { enabled: false } }),
    }));
  });

  it('shows a wall link as a kiosk with no way out, and signs the screen out when revoked', async () => {
    const admin = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ada');
    await admin.goto(`${service.base}/people`);
    await admin.fill('#wall-label', 'TV, first floor');
    await admin.click('#add-wall-submit');
    const address = await (await admin.waitForSelector('#wall-address')).textContent();
    assert.match(address, /\/wall\/[A-Za-z0-9_-]{40,}$/);

    const tv = await (await browser.newContext({ locale: 'en-GB', viewport: { width: 1920, height: 1080 } })).newPage();
    tv.setDefaultTimeout(10000);
    await tv.goto(address);
    await tv.waitForURL('**/wall');
    await tv.waitForSelector('.tile');
    assert.ok(await tv.locator('#top').isHidden(), 'no header, no menu');
    assert.equal(await tv.locator('.wall-exit').count(), 0, 'no way out is offered');
    // (The shell's skip link only moves the focus to the wall itself.)
    assert.equal(await tv.locator('button, input, select, textarea, a[href]:not(.skip)').count(), 0, 'nothing to click or change');
    await tv.keyboard.press('Escape');
    await tv.keyboard.press('1');
    assert.ok(tv.url().endsWith('/wall'), tv.url());
    await tv.goto(`${service.base}/settings`);
    await tv.waitForURL('**/wall');
    await shot(tv, '63-wall-link');

    await admin.reload();
    await admin.click('.wall-revoke[data-label="TV, first floor"]');
    await admin.waitForSelector('#people-status:has-text("revoked")');
    // Its stream ends at once; the page reconnects, is refused, and shows the login page.
    await tv.waitForURL('**/login');
  });

  it('lets an admin turn signing in with the token off', async () => {
    const admin = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ada');
    await admin.goto(`${service.base}/people`);
    await admin.uncheck('#org-token-login');
    await admin.click('#org-submit');
    await admin.waitForSelector('#people-status:has-text("Saved")');
    const page = await (await browser.newContext({ locale: 'en-GB' })).newPage();
    await page.goto(`${service.base}/login`);
    await page.fill('#token', TOKEN);
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:has-text("turned off")');
    assert.ok(page.url().endsWith('/login'));
  });

  it('attaches another billing account\'s token, and a user switches between the two', async () => {
    const admin = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ada');
    await admin.goto(`${service.base}/people`);
    await admin.fill('#attach-token', TOKEN_2);
    await admin.click('#attach-submit');
    await admin.waitForSelector('#org-tokens:has-text("9B2D")');
    await admin.goto(`${service.base}/overview`);
    const choice = await admin.waitForSelector('#token-choice');
    assert.equal(await choice.$$eval('option', (o) => o.length), 2);
    const before = await admin.evaluate(async () => (await (await fetch('/api/me')).json()).token_id);
    const other = await choice.$$eval('option', (o, b) => o.map((x) => x.value).find((v) => v !== b), before);
    await Promise.all([admin.waitForEvent('load'), admin.selectOption('#token-choice', other)]);
    const after = await admin.evaluate(async () => (await (await fetch('/api/me')).json()).token_id);
    assert.equal(after, other);
    assert.ok(!(await admin.content()).includes(TOKEN_2), 'the token is never shown');
  });

  it('changes a user\'s role and password, and one\'s own password', async () => {
    const admin = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ada');
    await admin.goto(`${service.base}/people`);
    await admin.fill('#new-login', 'zed');
    await admin.fill('#new-password', PASSWORD);
    await admin.selectOption('#new-role', 'supervisor');
    await admin.click('#add-user-submit');
    await admin.click('.user-change[data-login="zed"]');
    const dialog = admin.locator('dialog[open]');
    await dialog.locator('select').selectOption('admin');
    await dialog.locator('input[type="password"]').fill('a brand new passphrase');
    await dialog.locator('button[value="save"]').click();
    await admin.waitForSelector('#people-status:has-text("zed is changed")');
    const row = await admin.locator('#users tbody tr', { hasText: 'zed' }).textContent();
    assert.ok(row.includes('admin'), row);

    // The old password no longer works; the new one does, and zed now has People.
    const old = await (await browser.newContext()).newPage();
    await old.goto(`${service.base}/login`);
    await old.fill('#account-login', 'zed');
    await old.fill('#account-password', PASSWORD);
    await old.click('#account-submit');
    await old.waitForSelector('#account-error:has-text("Wrong")');
    const zed = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'zed', 'a brand new passphrase');
    assert.ok((await menu(zed)).includes('/people'));
    await zed.goto(`${service.base}/people`);
    await zed.fill('#own-current', 'a brand new passphrase');
    await zed.fill('#own-new', 'yet another passphrase');
    await zed.click('#own-password-submit');
    await zed.waitForSelector('#people-status:has-text("Your password is changed")');
    await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'zed', 'yet another passphrase');
  });

  it('sets up two-step sign-in and then asks for the code', async () => {
    const context = await browser.newContext({ locale: 'en-GB' });
    const sam = await signIn(context, service.base, 'sam');
    // Sam is a supervisor: his own account's section is in People, which is for admins; he
    // sets it up through the API as the page would.
    const setup = await sam.evaluate(async () => (await fetch('/api/me/totp', { method: 'POST' })).json());
    const step = Math.floor(Date.now() / 1000 / 30);
    // The previous step's code confirms it (a phone's clock may lag): the current one is then
    // still unused for signing in.
    const confirmed = await sam.evaluate(async (code) => (await fetch('/api/me/totp', {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }),
    })).status, totp(setup.secret, step - 1));
    assert.equal(confirmed, 200);

    const page = await (await browser.newContext({ locale: 'en-GB' })).newPage();
    await page.goto(`${service.base}/login`);
    await page.fill('#account-login', 'sam');
    await page.fill('#account-password', PASSWORD);
    await page.click('#account-submit');
    await page.waitForSelector('#account-code:visible');
    await shot(page, '64-login-code');
    await page.fill('#account-code', totp(setup.secret, Math.floor(Date.now() / 1000 / 30)));
    await page.click('#account-submit');
    await page.waitForURL('**/overview');
  });

  it('shows an admin their own two-step sign-in in People', async () => {
    const admin = await signIn(await browser.newContext({ locale: 'en-GB' }), service.base, 'ada');
    await admin.goto(`${service.base}/people`);
    await admin.click('#totp-begin');
    const secret = await (await admin.waitForSelector('#totp-secret')).textContent();
    await admin.fill('#totp-code', totp(secret, Math.floor(Date.now() / 1000 / 30) - 1));
    await admin.click('#totp-confirm');
    await admin.waitForSelector('#own:has-text("asks for a code")');
  });

});
