// Supervising through OVH's REST API (issue 11), against `ovh-cti simulate` (its feed and
// its fake of OVH's REST API): an admin connects the account from the dashboard and
// validates it on the simulator's OVH page; the agent board appears and changes live; an
// agent is put on a break, and the simulator's queue stops offering them calls; click-to-call
// from History rings the line; a supervisor listens to a live queue call, which rings their
// line.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startService, startSimulator, launchBrowser, shot } from './harness.mjs';

describe('OVH REST API', () => {
  let sim, service, browser, page;

  before(async () => {
    // Busy enough that queue calls come and go within the test; the simulator's REST API
    // allows the service's discovery at once.
    sim = await startSimulator(['--rate', '40', '--seed', '7', '--hold', '2', '--rest-rate', '600']);
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

  it('puts an agent on a break; the board says why, and the queue stops offering them calls', async () => {
    const row = page.locator('#agents tbody tr[data-status="available"]').first();
    const id = await row.getAttribute('data-agent');
    const service = await row.getAttribute('data-service');
    await row.locator('button.agent-break').click();
    const onBreak = page.locator(`#agents tbody tr[data-agent="${id}"][data-service="${service}"][data-status="onBreak"]`);
    await onBreak.waitFor();
    assert.match(await onBreak.textContent(), /on a break \(/);
    await shot(page, '73-agent-on-break');
    // From now on, the queue rings its other agents only: the agent's line is offered nothing.
    const number = await page.evaluate(async ([svc, agent]) => {
      const b = await (await fetch('/api/agents')).json();
      return b.board.agents.find((a) => a.service === svc && String(a.id) === agent).number;
    }, [service, id]);
    const since = new Date().toISOString();
    await page.waitForFunction(async ([queue, from]) => {
      const r = await (await fetch(`/api/events?number=${queue}&from=${encodeURIComponent(from)}&limit=500`)).json();
      return r.events.filter((e) => e.event === 'member-queue-start').length >= 2;
    }, [service, since], { timeout: 90000, polling: 1000 });
    // A queue's ring on an agent's line names the queue as dialled (or as the caller).
    const queueRings = await page.evaluate(async ([svc, line, from]) => {
      const r = await (await fetch(`/api/events?number=${line}&from=${encodeURIComponent(from)}&limit=500`)).json();
      return r.events.filter((e) => e.event === 'start_ringing' && (e.dialed === svc || e.calling === svc)).length;
    }, [service, number, since]);
    assert.equal(queueRings, 0, 'the queue offered the agent on a break a call');
    // Back to work.
    await page.locator(`#agents tbody tr[data-agent="${id}"][data-service="${service}"] button.agent-login`).click();
    await page.locator(`#agents tbody tr[data-agent="${id}"][data-service="${service}"][data-status="available"]`).waitFor();
  });

  it('calls back from History: OVH rings the line, then dials', async () => {
    await page.click('nav a[href="/history"]');
    const button = page.locator('button.click2call').first();
    await button.waitFor({ timeout: 60000 });
    const number = await button.getAttribute('data-number');
    const line = await page.evaluate(async () => (await (await fetch('/api/lines')).json()).lines[0].number);
    page.once('dialog', (d) => d.accept(line));
    await button.click();
    await page.locator('button.click2call', { hasText: 'Calling…' }).first().waitFor();
    await page.waitForFunction(async ([l, n]) => {
      const r = await (await fetch(`/api/events?number=${l}&limit=50`)).json();
      return r.events.some((e) => e.called === n || e.calling === n);
    }, [line, number], { polling: 500 });
    await shot(page, '74-click-to-call');
  });

  it('lets a supervisor listen to a live queue call from their line', async () => {
    await page.click('nav a[href="/queues"]');
    await page.waitForFunction(async () => (await (await fetch('/api/live-calls')).json()).calls.length > 0, null, { timeout: 90000, polling: 1000 });
    await page.click('#live-calls-load');
    const listen = page.locator('#live-calls button.call-eavesdrop').first();
    await listen.waitFor();
    const from = await page.inputValue('#supervisor-line');
    const before = new Date().toISOString();
    await listen.click();
    await page.locator('#live-calls-status', { hasText: 'OVH says done' }).waitFor();
    // The simulator rings the supervisor's line into the call.
    await page.waitForFunction(async ([l, at]) => {
      const r = await (await fetch(`/api/events?number=${l}&from=${encodeURIComponent(at)}&limit=50`)).json();
      return r.events.some((e) => e.event === 'start_ringing' || e.event === 'start_calling');
    }, [from, before], { polling: 500 });
    await shot(page, '75-live-call-listen');
  });
});
