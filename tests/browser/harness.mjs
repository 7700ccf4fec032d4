// Test harness for the browser tests: a fake OVH event API (v1 long polling) that the tests
// feed scripted events to, the real `ovh-cti serve` binary pointed at it, and a headless
// Chromium driven by playwright-core. Nothing here sleeps to wait: polls are answered as soon
// as events are pushed, and the service's address is read from its first line of output.

import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.join(here, 'artifacts');
export const TOKEN = '3F2504E0-4F89-11D3-9A0C-0305E82C3301';
export const BIN = process.env.OVH_CTI_BIN || path.resolve(here, '../../target/debug/ovh-cti');

/// A fake of `GET /?token=T&session=S`: each poll takes whatever was pushed, or is held until
/// something is (or answered empty after `holdMs`, as OVH does when there is nothing to say).
/// A token not in `tokens` is refused with 403, as OVH refuses a token it does not know.
export async function fakeOvh({ holdMs = 1000, tokens = [TOKEN] } = {}) {
  const pending = [];
  let waiter = null;
  // Polls received, and the number of the last one answered with events: the follower polls
  // again only once what it was handed is stored (see `stored`).
  let polls = 0;
  let handed = 0;
  let storedWaiters = [];
  const allStored = () => !pending.length && polls > handed;
  const answer = (res, events, n) => {
    if (events.length) handed = n;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ Session: 'S1', Message: '', Events: events }));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname !== '/') {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    if (!tokens.includes(url.searchParams.get('token'))) {
      res.writeHead(403);
      res.end('unknown token');
      return;
    }
    const n = ++polls;
    if (allStored()) { storedWaiters.forEach((ok) => ok()); storedWaiters = []; }
    if (pending.length) {
      answer(res, pending.splice(0), n);
      return;
    }
    const me = { res, n, timer: setTimeout(() => { if (waiter === me) waiter = null; answer(res, [], n); }, holdMs) };
    waiter = me;
    req.on('close', () => { if (waiter === me) { clearTimeout(me.timer); waiter = null; } });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    push(...events) {
      pending.push(...events);
      if (waiter) {
        const w = waiter;
        waiter = null;
        clearTimeout(w.timer);
        answer(w.res, pending.splice(0), w.n);
      }
    },
    /// Resolves once everything pushed so far is stored: handed over, and polled again after.
    stored() {
      return allStored() ? Promise.resolve() : new Promise((ok) => storedWaiters.push(ok));
    },
    close() {
      if (waiter) { clearTimeout(waiter.timer); waiter.res.destroy(); }
      server.closeAllConnections?.();
      return new Promise((ok) => server.close(ok));
    },
  };
}

let seq = 0;
const nowNs = (at) => BigInt(Math.round(at * 1000)) * 1000000n;

/// A line event as OVH v1 writes it; `at` is in seconds (defaults to now).
export function lineEvent(name, { number, callId, calling, called, dialed, description = 'Accueil', at = Date.now() / 1000, simultaneous = '2' }) {
  seq += 1;
  return {
    Event: name,
    Ressource: number,
    Service: 'sip',
    Timestamp: Number(nowNs(at)),
    Token: TOKEN,
    Date: 'ignored',
    Details: { Description: description, Id: '1', IdBillingAccount: '12345', SimultaneousLine: simultaneous, Type: 'sipCirpack' },
    Data: {
      CallId: callId || `call-${seq}.`, Calling: calling, Called: called, Dialed: dialed ?? called, Billing: number,
      Protocol: 'sip', Event: name, Ts: at - 0.05, TsGet: Number(nowNs(at - 0.04)), Body: 'SIP/2.0 200 OK',
    },
  };
}

/// A queue event; `t` holds the FreeSWITCH times in epoch seconds.
export function queueEvent(name, { queue, member, caller, agent, joined, answered, ended, left, cause, count = '0', at = Date.now() / 1000, description = 'Support' }) {
  const s = (x) => (x === undefined ? undefined : String(Math.floor(x)));
  return {
    Event: name,
    Ressource: queue,
    Service: 'queues',
    Timestamp: Number(nowNs(at)),
    Token: TOKEN,
    Details: { Description: description, Id: '100', IdBillingAccount: '12345', SimultaneousLine: '0', Type: 'easyHunting' },
    Data: JSON.parse(JSON.stringify({
      QueueMemberUUID: member, Calling: caller, QueueMemberCIDNumber: caller, QueueMemberDNIS: queue, Queue: `${queue}@queues`,
      QueueMemberJoinedTime: s(joined), QueueAgent: agent ? `agent_${agent}_1` : undefined, QueueAgentAnsweredTime: s(answered),
      QueueBridgeTerminatedTime: s(ended), QueueMemberLeavingTime: s(left), QueueCause: cause,
      QueueHangupCause: name === 'bridge-agent-end' ? 'NORMAL_CLEARING' : undefined, Count: count, Event: name, Action: name,
      Ts: at, TsGet: Number(nowNs(at - 0.02)),
    })),
  };
}

/// A port free right now (for a service that must come back on the same address).
export async function freePort() {
  const s = http.createServer();
  await new Promise((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

/// Waits until `/readyz` says 200: the tokens known at start are followed in the background,
/// after the listener answers.
export async function ready(base) {
  for (let i = 0; i < 3000; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((ok) => setTimeout(ok, 10));
  }
  throw new Error(`${base} never became ready`);
}

/// Starts `ovh-cti serve` against `upstream` (on a free port unless `listen` is given, with a
/// new database unless `dir` is given, with `args` added to its command line); resolves with
/// its base URL. `stop({ keep: true })` leaves the database for a restart.
export async function startService(upstream, { listen = '127.0.0.1:0', dir, args = [], token = TOKEN } = {}) {
  dir = dir || mkdtempSync(path.join(tmpdir(), 'ovh-cti-browser-'));
  const child = spawn(BIN, ['serve', '--token', token, '--upstream', upstream, '--listen', listen, '--db', path.join(dir, 'test.db'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const base = await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /serving on (http:\/\/[^/\s]+)\//.exec(out);
      if (m) ok(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`ovh-cti exited with ${code} before serving: ${stderr}`)));
    child.on('error', fail);
  });
  await ready(base);
  return {
    base,
    dir,
    async stop({ keep = false } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        await exited;
      }
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/// `ovh-cti simulate` on a free port: the simulated account's feed and REST API. Its address,
/// its account token and its REST API keys, read from what it prints.
export async function startSimulator(args = []) {
  const child = spawn(BIN, ['simulate', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const found = await new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const base = /event API on (http:\/\/[^/\s]+)\//.exec(out);
      const token = /token ([0-9A-F-]{36}) — billing account/.exec(out);
      const keys = /application key (\S+), application secret (\S+), consumer key (\S+) /.exec(out);
      if (base && token && keys) ok({ base: base[1], token: token[1], applicationKey: keys[1], applicationSecret: keys[2], consumerKey: keys[3] });
    });
    child.on('exit', (code) => fail(new Error(`ovh-cti simulate exited with ${code}: ${stderr}`)));
  });
  return {
    ...found,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/// Waits until `fn`, run in the page (it may be async: read the API, say), gives a truthy
/// value, and returns it. Playwright's `waitForFunction` does not await a promise — an async
/// predicate passes at once, whatever it would say — so every check that reads the API goes
/// through here. `polling`: milliseconds between tries.
export async function until(page, fn, arg, { timeout = 20000, polling = 250 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(fn, arg);
    if (value) return value;
    if (Date.now() > end) throw new Error(`still false after ${timeout} ms: ${fn.toString().slice(0, 300)}`);
    await new Promise((ok) => setTimeout(ok, polling));
  }
}

export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

export function shot(page, name) {
  return page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
