// The disk under the database fills up while a dashboard is open: the page says so at once,
// keeps showing the last state (no sign-out), and goes back to Live once the disk has room
// again, with the events that arrived meanwhile. The database sits on a 4 MiB tmpfs filled by a
// file: a real ENOSPC. Mounting needs root (as in CI); elsewhere the test is skipped.

import { describe, it, before, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fakeOvh, startService, launchBrowser, lineEvent, shot, TOKEN } from './harness.mjs';

const LINE = '0033972101010';

function mountSmallDisk() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ovh-cti-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

function fill(dir) {
  const filler = path.join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, block);
  } catch { /* ENOSPC: full */ }
  closeSync(fd);
  return filler;
}

const disk = mountSmallDisk();

describe('store', { skip: disk ? false : 'cannot mount a tmpfs here (needs root)' }, () => {
  let ovh, service, browser, page;

  before(async () => {
    ovh = await fakeOvh();
    service = await startService(ovh.url, { dir: disk });
    browser = await launchBrowser();
    page = await (await browser.newContext({ locale: 'en-GB' })).newPage();
    page.setDefaultTimeout(15000);
  });

  after(async () => {
    await browser?.close();
    await service?.stop({ keep: true });
    await ovh?.close();
    try { execFileSync('umount', ['-l', disk], { stdio: 'ignore' }); } catch { /* already gone */ }
    rmSync(disk, { recursive: true, force: true });
  });

  it('says the database is not writing, keeps the board, and catches up once there is room', async () => {
    await page.goto(`${service.base}/login`);
    await page.fill('#token', TOKEN);
    await page.click('#login-submit');
    await page.waitForSelector('h1:text("Overview")');
    ovh.push(lineEvent('registered', { number: LINE, calling: LINE, called: LINE }));
    const row = page.locator(`tr[data-number="${LINE}"]`);
    await row.getByText('free').waitFor();

    const filler = fill(disk);
    ovh.push(lineEvent('start_ringing', { number: LINE, callId: 'full-1.', calling: '0033655555555', called: LINE }));
    await page.locator('#feed-health[data-state="store-failing"]').getByText('Database not writing').waitFor();
    await row.getByText('free').waitFor();
    await shot(page, '20-database-not-writing');

    rmSync(filler);
    await page.locator('#feed-health[data-state="store-failing"]').waitFor({ state: 'detached' });
    await row.getByText('ringing').waitFor();
  });
});
