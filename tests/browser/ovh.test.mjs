// Supervising through OVH's REST API (issue 11), against `ovh-cti simulate` (its feed and
// its fake of OVH's REST API): an admin connects the account from the dashboard and
// validates it on the simulator's OVH page; the agent board appears and changes live; an
// agent is put on a break (the simulator's own tests prove its queue then offers them no
// calls); click-to-call from the overview's call log rings the line. Listening to a live call
// is proven against the simulator in tests/api (openapi, ovh).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService, startSimulator, launchBrowser, shot } from './harness.mjs';

/// The account's SIP lines (OVH rings only those), the least busy first.
async function sipLines(page) {
  return page.evaluate(async () => {
    const { lines } = await (await fetch('/api/lines')).json();
    return lines.filter((l) => l.service !== 'mgcp').sort((a, b) => a.active_calls - b.active_calls).map((l) => l.number);
  });
}

describe('OVH REST API', { timeout: 240000 }, () => {
  let sim, service, browser, page;

  before(async () => {
    // Busy enough that queue calls come and go within the test; the simulator's REST API
    // allows the service's discovery at once.
    sim = await startSimulator(['--rate', '20', '--seed', '7', '--hold', '2', '--rest-rate', '600']);
    service = await startService(sim.base, { token: sim.token, args: ['--ovh-api', `${sim.base}/1.0`, '--ovh-api-rate', '600'] });
    browser = await launchBrowser();
    page = await (await browser.newContext({ locale: 'en-GB' })).newPage();
    page.setDefaultTimeout(20000);
    await page.goto(`${service.base}/login`);
    await page.fill('#token', sim.token);
    await page.click('#login-submit');
    await page.waitForSelector('h1:text("Overview")');
  });

  after(async () => {
    await browser?.close();
    await service?.stop();
    await sim?.stop();
  });

  it('connects the account: OVH\'s validation link, then the agent board', async () => {
    await page.click('nav a[href="/ovh"]');
    await page.waitForSelector('#ovh-state[data-state="off"]');
    await page.fill('#ovh-ak', sim.applicationKey);
    await page.fill('#ovh-as', sim.applicationSecret);
    await page.click('#ovh-connect-submit');
    const link = await (await page.waitForSelector('#ovh-validation')).getAttribute('href');
    assert.ok(link.startsWith(sim.base), link);
    assert.ok(!(await page.content()).includes(sim.applicationSecret), 'the secret is never shown again');
    await shot(page, '70-ovh-pending');
    // The account's owner validates it on OVH's page.
    const owner = await page.context().newPage();
    await owner.goto(link);
    await owner.click('button[value="validate"]');
    await owner.close();
    await page.waitForSelector('#ovh-state[data-state="connected"]', { timeout: 30000 });
    await shot(page, '71-ovh-connected');
    await page.click('nav a[href="/queues"]');
    await page.waitForSelector('#agents tbody tr[data-agent]');
    await page.waitForFunction(() => [...document.querySelectorAll('#agents tbody tr[data-agent]')].every((r) => !r.textContent.includes('—\u2009')));
    await shot(page, '72-agent-board');
  });

  it('puts an agent on a break; the board says why, and OVH soon says so too', async () => {
    const row = page.locator('#agents tbody tr[data-status="available"]').first();
    const id = await row.getAttribute('data-agent');
    const service = await row.getAttribute('data-service');
    await row.locator('button.agent-break').click();
    const onBreak = page.locator(`#agents tbody tr[data-agent="${id}"][data-service="${service}"][data-status="onBreak"]`);
    await onBreak.waitFor();
    assert.match(await onBreak.textContent(), /on a break \(/);
    // OVH's live status of the agent (read again after the change) follows.
    await page.waitForFunction(([svc, agent]) => {
      const tr = document.querySelector(`#agents tbody tr[data-agent="${agent}"][data-service="${svc}"]`);
      return tr && tr.querySelector('.live-onBreak');
    }, [service, id]);
    await shot(page, '73-agent-on-break');
    // Back to work.
    await page.locator(`#agents tbody tr[data-agent="${id}"][data-service="${service}"] button.agent-login`).click();
    await page.locator(`#agents tbody tr[data-agent="${id}"][data-service="${service}"][data-status="available"]`).waitFor();
  });

  it('calls a caller back from the overview\'s call log: OVH rings the line, then dials', async () => {
    await page.click('nav a[href="/overview"]');
    await page.locator('button.click2call').first().waitFor({ timeout: 60000 });
    // The lines are busy with the simulated traffic: OVH refuses a busy one, so the next is
    // tried, as a person would.
    let called = null;
    for (const line of await sipLines(page)) {
      const button = page.locator('button.click2call:text-is("Call")').first();
      const number = await button.getAttribute('data-number');
      page.once('dialog', (d) => d.accept(line));
      await button.click();
      await page.waitForFunction((n) => [...document.querySelectorAll(`button.click2call[data-number="${n}"]`)].some((b) => b.textContent !== 'Call'), number);
      if (await page.locator(`button.click2call[data-number="${number}"]`, { hasText: 'Calling…' }).count()) {
        called = [line, number];
        break;
      }
    }
    assert.ok(called, 'some line could call');
    await page.waitForFunction(async ([l, n]) => {
      const r = await (await fetch(`/api/events?number=${l}&limit=50`)).json();
      return r.events.some((e) => e.called === n || e.dialed === n);
    }, called, { polling: 500 });
    await shot(page, '74-click-to-call');
  });

});
