// The dashboard in a browser under load (issue 13): the real `ovh-cti serve` on a fake OVH feed
// releasing RATE events a second over LINES lines, the overview open in headless Chromium, and
// beside it, on the same seeded feed, OVH's own demo page (tests/browser/bench/reference/)
// long-polling the fake directly, as it long-polls events.voip.ovh.net.
//
//     node bench/dashboard.mjs [--seconds 600] [--runs 3] [--rate 100] [--lines 50]
//                              [--page both|dashboard|reference] [--sample 5] [--seed 1]
//
// (or `npm run bench -- --seconds 60`). Per run, one fresh service, database and browser; runs
// alternate dashboard / reference. What it measures, per page:
//
// - lag: for each call event, from the moment the fake makes it available (and, second, from
//   the moment a poll's answer carries it) to the moment the page's DOM shows it — the event's
//   row in the call log, and the call appearing in / leaving the calls in progress. A
//   MutationObserver in the page notes when a row carrying the call's unique number appears;
//   page times (performance.timeOrigin + now) are put on node's clock with an offset measured
//   at the start. Painting adds at most one frame (16.7 ms) to what is measured here;
// - CDP `Performance.getMetrics` every SAMPLE seconds: script, task, layout and style time per
//   second of wall time; JS heap used and DOM nodes, each minute (a tenth of the run) right
//   after a forced garbage collection, so that the figures are live memory, not garbage.
//
// The load: calls arrive at random (Poisson) on a line with a free channel (two per line);
// each is OVH's sequence for a line call — start_ringing; then end_ringing and, 10 ms later,
// start_calling; then end_calling (85 %) — or start_ringing, end_ringing (unanswered). Calls
// are short (about a second of ringing, a second and a half of talk) so that 50 lines make 100
// events a second. 70 % incoming, 30 % outgoing; the other party's number is unique per call
// (00331xxxxxxxx), which is the marker the page is searched for.

import http from 'node:http';
import { readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const release = path.resolve(here, '../../../target/release/ovh-cti');
// The release binary when there is one (the harness defaults to the debug build).
if (!process.env.OVH_CTI_BIN && existsSync(release)) process.env.OVH_CTI_BIN = release;
const { startService, launchBrowser, lineEvent, TOKEN, BIN, ARTIFACTS } = await import('../harness.mjs');

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    runs: { type: 'string', default: '3' },
    rate: { type: 'string', default: '100' },
    lines: { type: 'string', default: '50' },
    page: { type: 'string', default: 'both' },
    sample: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    grace: { type: 'string', default: '5' },
    trace: { type: 'boolean', default: false },
    'ui-dir': { type: 'string' },
    'cpu-slowdown': { type: 'string', default: '1' },
    report: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log('node bench/dashboard.mjs [--seconds 600] [--runs 3] [--rate 100] [--lines 50] [--page both|dashboard|reference] [--sample 5] [--seed 1] [--grace 5] [--trace] [--ui-dir src/web/ui] [--cpu-slowdown 1]\n       node bench/dashboard.mjs --report FILE.json [--report …]   (the table again, from saved runs)');
  process.exit(0);
}
const SECONDS = Number(opt.seconds);
const RUNS = Number(opt.runs);
const RATE = Number(opt.rate);
const LINES = Number(opt.lines);
const SAMPLE_S = Number(opt.sample);
const SEED = Number(opt.seed);
const GRACE_S = Number(opt.grace);
let PAGES = opt.page === 'both' ? ['dashboard', 'reference'] : [opt.page];
for (const [k, v] of Object.entries({ SECONDS, RUNS, RATE, LINES, SAMPLE_S, SEED, GRACE_S })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bad value for ${k}: ${v}`);
}
if (!PAGES.every((p) => p === 'dashboard' || p === 'reference')) throw new Error(`--page: both, dashboard or reference, not ${opt.page}`);
/// Heap and DOM nodes are read after a forced collection this often; the first and last of
/// these windows are the "first minute" and "last minute" of a 10-minute run.
const GC_EVERY_S = Math.max(5, SECONDS / 10);

// ---- the load --------------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ANSWERED = 0.85;
const EVENTS_PER_CALL = ANSWERED * 4 + (1 - ANSWERED) * 2;
const CHANNELS = 2;

/// Seeded calls over `lines` lines at about `rate` events a second. `fill(t)` plans the calls
/// starting before `t` (ms since the start); `due(t)` hands over the events due by then.
function traffic({ rate, lines, seed }) {
  const rnd = mulberry32(seed);
  const perMs = rate / EVENTS_PER_CALL / 1000;
  const numbers = Array.from({ length: lines }, (_, i) => ({
    number: `0033972${String(100000 + i)}`,
    description: `Poste ${i + 1}`,
    busy: [],
  }));
  const queue = []; // {at, seq, name, line, call}; kept sorted by (at, seq)
  let seq = 0;
  let calls = 0;
  let refused = 0;
  let next = -Math.log(1 - rnd()) / perMs;
  const plan = (at, name, line, call) => {
    const item = { at, seq: seq++, name, line, call };
    let i = queue.length;
    while (i > 0 && (queue[i - 1].at > at || (queue[i - 1].at === at && queue[i - 1].seq > item.seq))) i--;
    queue.splice(i, 0, item);
  };
  const freeLine = (t0) => {
    for (let tries = 0; tries < 20; tries++) {
      const l = numbers[Math.floor(rnd() * lines)];
      l.busy = l.busy.filter((end) => end > t0);
      if (l.busy.length < CHANNELS) return l;
    }
    return numbers.find((l) => (l.busy = l.busy.filter((end) => end > t0)).length < CHANNELS) || null;
  };
  // Every line registers first, in the first half-second: the 50 lines are on the page at once.
  numbers.forEach((l, i) => plan((i * 500) / lines, 'registered', l, null));
  return {
    numbers,
    fill(until) {
      while (next <= until) {
        const t0 = next;
        next += -Math.log(1 - rnd()) / perMs;
        const answered = rnd() < ANSWERED;
        const incoming = rnd() < 0.7;
        const ring = 500 + rnd() * 1000;
        const talk = answered ? 500 + rnd() * 2000 : 0;
        const end = t0 + ring + (answered ? 10 + talk : 0);
        const line = freeLine(t0);
        if (!line) { refused++; continue; }
        line.busy.push(end);
        calls++;
        const other = `00331${String(calls).padStart(8, '0')}`;
        const call = {
          id: `bench-${calls}.`, marker: other, incoming,
          calling: incoming ? other : line.number, called: incoming ? line.number : other,
          last: answered ? 'end_calling' : 'end_ringing',
        };
        plan(t0, 'start_ringing', line, call);
        plan(t0 + ring, 'end_ringing', line, call);
        if (answered) {
          plan(t0 + ring + 10, 'start_calling', line, call);
          plan(end, 'end_calling', line, call);
        }
      }
    },
    due(now) {
      let n = 0;
      while (n < queue.length && queue[n].at <= now) n++;
      return queue.splice(0, n);
    },
    nextAt() { return queue.length ? queue[0].at : next; },
    stats() { return { calls, refused }; },
  };
}

// ---- the fake OVH (v1 long polling), which also serves OVH's demo page ------------------------

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.ico': 'image/x-icon', '.woff': 'font/woff' };
const REFERENCE = path.join(here, 'reference');

/// `GET /?token=T&session=S` is answered at once with what is waiting, or held until something
/// is released (or `holdMs`, then answered empty, as OVH does). Each released item records when
/// it was released (`due`) and when an answer carried it (`answer`). `/demo/…` serves the
/// reference page, with OVH's address in its script replaced by this fake's.
async function benchFeed({ holdMs = 25000 } = {}) {
  const pending = [];
  let waiter = null;
  let polls = 0;
  let url;
  const answer = (res, items) => {
    const now = Date.now();
    for (const it of items) it.answer = now;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify({ Session: 'S1', Message: '', Events: items.map((it) => it.event) }));
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://fake');
    if (u.pathname.startsWith('/demo/')) {
      const file = path.join(REFERENCE, path.normalize(u.pathname.slice('/demo/'.length)));
      if (!file.startsWith(REFERENCE + path.sep) || !existsSync(file)) {
        res.writeHead(404);
        res.end();
        return;
      }
      let body = readFileSync(file);
      if (file.endsWith(path.join('js', 'cti.js'))) body = body.toString('utf8').replaceAll('https://events.voip.ovh.net', url);
      res.writeHead(200, { 'Content-Type': MIME[path.extname(file)] || 'application/octet-stream' });
      res.end(body);
      return;
    }
    if (u.pathname !== '/') {
      res.writeHead(404);
      res.end();
      return;
    }
    if (u.searchParams.get('token') !== TOKEN) {
      res.writeHead(403);
      res.end('unknown token');
      return;
    }
    polls++;
    if (pending.length) {
      answer(res, pending.splice(0));
      return;
    }
    const me = { res, timer: setTimeout(() => { if (waiter === me) waiter = null; answer(res, []); }, holdMs) };
    waiter = me;
    req.on('close', () => { if (waiter === me) { clearTimeout(me.timer); waiter = null; } });
  });
  server.keepAliveTimeout = 70000;
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    polls: () => polls,
    release(items) {
      pending.push(...items);
      if (waiter) {
        const w = waiter;
        waiter = null;
        clearTimeout(w.timer);
        answer(w.res, pending.splice(0));
      }
    },
    close() {
      if (waiter) { clearTimeout(waiter.timer); waiter.res.destroy(); }
      server.closeAllConnections?.();
      return new Promise((ok) => server.close(ok));
    },
  };
}

/// Releases the traffic into the feed on time; every call event is recorded by `marker|event`.
function drive(feed, load, released) {
  const t0 = Date.now();
  let timer = null;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const now = Date.now() - t0;
    load.fill(now + 1000);
    const items = load.due(now).map((x) => {
      const l = x.line;
      const c = x.call;
      const event = c
        ? lineEvent(x.name, { number: l.number, callId: c.id, calling: c.calling, called: c.called, description: l.description, at: (t0 + x.at) / 1000 })
        : lineEvent(x.name, { number: l.number, calling: l.number, called: l.number, description: l.description, at: (t0 + x.at) / 1000 });
      const it = { event, due: Date.now(), answer: null };
      if (c) {
        it.key = `${c.marker}|${x.name}`;
        it.marker = c.marker;
        it.name = x.name;
        it.last = c.last === x.name;
        released.push(it);
      }
      return it;
    });
    if (items.length) feed.release(items);
    const wait = load.nextAt() - (Date.now() - t0);
    timer = setTimeout(tick, Math.max(0, Math.min(wait, 50)));
  };
  tick();
  return { t0, stop() { stopped = true; clearTimeout(timer); } };
}

// ---- the probe in the page --------------------------------------------------------------------

/// Installed before the page's own scripts. Notes, on node's demand (`__benchTake`), when a row
/// carrying a call's marker appeared in the call log (with the event's name) and when a call's
/// marker appeared in or left the calls in progress. The records are handed over and dropped
/// every two seconds, so that the probe holds no memory of its own.
function probe(cfg) {
  const MARK = /00331\d{8}/;
  const EVT = /\b(start_ringing|end_ringing|start_calling|end_calling)\b/;
  const B = { log: [], calls: [], present: new Set(), callsEl: null };
  const clock = () => performance.timeOrigin + performance.now();
  const textOf = (el) => {
    let s = el.textContent;
    for (const x of el.querySelectorAll('[data-raw],[data-event]')) s += ` ${x.getAttribute('data-raw') || ''} ${x.getAttribute('data-event') || ''}`;
    return s;
  };
  const logRow = (tr, now) => {
    if (!tr.isConnected) return;
    const s = textOf(tr);
    const m = MARK.exec(s);
    const e = EVT.exec(s);
    if (m && e) B.log.push([m[0], e[1], now]);
  };
  const scanCalls = (body, now) => {
    const seen = new Set();
    if (body) {
      for (const tr of body.querySelectorAll('tr')) {
        const m = MARK.exec(textOf(tr));
        if (m) seen.add(m[0]);
      }
    }
    for (const m of seen) if (!B.present.has(m)) B.calls.push(['+', m, now]);
    for (const m of B.present) if (!seen.has(m)) B.calls.push(['-', m, now]);
    B.present = seen;
  };
  const observer = new MutationObserver((records) => {
    const now = clock();
    const log = document.querySelector(cfg.log);
    const calls = document.querySelector(cfg.calls);
    let touched = calls !== B.callsEl;
    for (const r of records) {
      if (log) {
        for (const n of r.addedNodes) {
          if (n.nodeType !== 1) continue;
          if (log.contains(n)) {
            if (n.tagName === 'TR') logRow(n, now);
            else for (const tr of n.querySelectorAll('tr')) logRow(tr, now);
          } else if (n.contains(log)) for (const tr of log.querySelectorAll('tr')) logRow(tr, now);
        }
      }
      if (!touched && calls && (calls.contains(r.target) || r.target.contains(calls))) touched = true;
    }
    if (touched) {
      B.callsEl = calls;
      scanCalls(calls, now);
    }
  });
  observer.observe(document, { childList: true, subtree: true });
  window.__benchClock = clock;
  window.__benchTake = () => {
    const out = { log: B.log, calls: B.calls };
    B.log = [];
    B.calls = [];
    return out;
  };
}

const PAGE = {
  dashboard: { log: '#log tbody', calls: '#calls tbody' },
  // OVH's demo: the overview (`ng-show="!page"`) holds the calls in progress (the yellow
  // panel) and the call log ("Journal d'appels", the blue one).
  reference: { log: 'div[ng-show="!page"] .panel-info table tbody', calls: 'div[ng-show="!page"] .panel-yellow table tbody' },
};

// ---- one run ------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
function timeout(promise, ms) {
  let t;
  return Promise.race([promise, new Promise((ok) => { t = setTimeout(() => ok(undefined), ms); })]).finally(() => clearTimeout(t));
}

/// The page clock minus node's, from the quickest of a few round trips.
async function clockOffset(page) {
  let best = null;
  for (let i = 0; i < 7; i++) {
    const a = Date.now();
    const p = await timeout(page.evaluate(() => window.__benchClock()), 5000);
    const b = Date.now();
    if (p === undefined) continue;
    if (!best || b - a < best.rtt) best = { rtt: b - a, offset: p - (a + b) / 2 };
  }
  return best;
}

async function runOnce(kind, runNo) {
  const feed = await benchFeed();
  const load = traffic({ rate: RATE, lines: LINES, seed: SEED });
  const released = [];
  let service = null;
  const browser = await launchBrowser();
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1366, height: 900 } });
  await context.addInitScript(probe, PAGE[kind]);
  // OVH's page logs every event and its whole table to the console; under CDP each call is
  // serialised for the client, which a user's tab without DevTools does not pay.
  if (kind === 'reference') await context.addInitScript(() => { console.log = () => {}; });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    if (kind === 'dashboard') {
      service = await startService(feed.url);
      if (opt['ui-dir']) {
        // The dashboard's scripts and styles from this folder instead of the binary's: a change
        // to the UI measured without a rebuild.
        const dir = path.resolve(opt['ui-dir']);
        await context.route(`${service.base}/assets/**`, (route) => {
          const file = path.join(dir, path.basename(new URL(route.request().url()).pathname));
          if (!existsSync(file)) return route.continue();
          return route.fulfill({ body: readFileSync(file), contentType: { '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' }[path.extname(file)] });
        });
      }
      await page.goto(`${service.base}/`);
      await page.fill('#token', TOKEN);
      await page.click('#login-submit');
      await page.waitForSelector('#lines');
      // The stream is open (the feed says "starting" until OVH's first answer).
      await page.locator('#feed-health[data-state="starting"], #feed-health[data-state="connected"]').first().waitFor();
    } else {
      await page.goto(`${feed.url}/demo/index.html?token=${TOKEN}`);
      await page.waitForFunction(() => window.angular && angular.element(document.body).scope()?.logged === true);
    }
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
    // --cpu-slowdown N: the page's main thread N times slower (CDP's emulation of a slower
    // device), for a wall screen on a small computer.
    if (Number(opt['cpu-slowdown']) > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: Number(opt['cpu-slowdown']) });
    const metrics = async () => {
      const r = await timeout(cdp.send('Performance.getMetrics'), 15000);
      return r && Object.fromEntries(r.metrics.map((m) => [m.name, m.value]));
    };
    const gcThenMetrics = async () => {
      const done = await timeout(cdp.send('HeapProfiler.collectGarbage').then(() => true), 30000);
      return done ? metrics() : undefined;
    };
    const clock0 = await clockOffset(page);
    const seen = { log: new Map(), calls: new Map() };
    let unanswered = 0;
    let draining = null;
    const drain = () => {
      if (draining) return draining;
      draining = (async () => {
        const got = await timeout(page.evaluate(() => window.__benchTake()), 60000);
        if (!got) { unanswered++; return; }
        const off = clock0 ? clock0.offset : 0;
        for (const [m, e, t] of got.log) {
          const k = `${m}|${e}`;
          if (!seen.log.has(k)) seen.log.set(k, t - off);
        }
        for (const [sign, m, t] of got.calls) {
          if (!seen.calls.has(m)) seen.calls.set(m, []);
          seen.calls.get(m).push([sign, t - off]);
        }
      })().finally(() => { draining = null; });
      return draining;
    };

    const first = await gcThenMetrics();
    const samples = [{ t: 0, m: first }];
    const gcs = [{ t: 0, m: first }];
    const driver = drive(feed, load, released);
    const end = driver.t0 + SECONDS * 1000;
    let nextSample = driver.t0 + SAMPLE_S * 1000;
    let nextGc = driver.t0 + GC_EVERY_S * 1000;
    let nextDrain = driver.t0 + 2000;
    // --trace: five seconds of a Chromium trace from the middle of the run, for a profile.
    let traceAt = opt.trace ? driver.t0 + (SECONDS * 1000) / 2 : Infinity;
    while (Date.now() < end) {
      if (Date.now() >= traceAt) {
        traceAt = Infinity;
        mkdirSync(ARTIFACTS, { recursive: true });
        const file = path.join(ARTIFACTS, `trace-${kind}-${runNo}.json`);
        await browser.startTracing(page, { path: file, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink', 'toplevel'] });
        await sleep(5000);
        await browser.stopTracing();
        console.log(`trace: ${file}`);
      }
      await sleep(Math.max(0, Math.min(nextSample, nextGc, nextDrain, traceAt, end) - Date.now()));
      const now = Date.now();
      if (now >= nextDrain) { drain(); nextDrain += 2000; }
      if (now >= nextGc && now < end) {
        const m = await gcThenMetrics();
        if (m) gcs.push({ t: (Date.now() - driver.t0) / 1000, m }); else unanswered++;
        nextGc += GC_EVERY_S * 1000;
      } else if (now >= nextSample && now < end) {
        const m = await metrics();
        if (m) samples.push({ t: (Date.now() - driver.t0) / 1000, m }); else unanswered++;
        nextSample += SAMPLE_S * 1000;
      }
    }
    const last = await metrics();
    if (last) samples.push({ t: (Date.now() - driver.t0) / 1000, m: last });
    const lastGc = await gcThenMetrics();
    if (lastGc) gcs.push({ t: SECONDS, m: lastGc });
    // What was released in the window may still be shown during the grace period.
    await sleep(GRACE_S * 1000);
    driver.stop();
    await drain();
    await drain();
    const clock1 = await clockOffset(page);
    const result = summarise({ kind, runNo, released, seen, samples, gcs, t0: driver.t0, end, load, feed, unanswered, clock0, clock1, errors });
    return result;
  } finally {
    await browser.close().catch(() => {});
    await service?.stop().catch(() => {});
    await feed.close().catch(() => {});
  }
}

// ---- figures ------------------------------------------------------------------------------------

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function lagStats(values) {
  const s = values.slice().sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s.length ? s[s.length - 1] : NaN, unseen: s.filter((x) => x === Infinity).length };
}

function slope(points) {
  // Least squares, MB per minute.
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) { num += (x - mx) * (y - my); den += (x - mx) ** 2; }
  return den ? (num / den) * 60 : NaN;
}

function summarise({ kind, runNo, released, seen, samples, gcs, t0, end, load, unanswered, clock0, clock1, errors, feed }) {
  const TOL = 5; // ms of clock uncertainty
  const inWindow = released.filter((it) => it.due < end);
  const fromRelease = [];
  const fromAnswer = [];
  // The first few events never shown, to tell where they were lost: when in the run, which
  // event, and whether a row with that key had appeared before the event was due.
  const unseenFirst = [];
  for (const it of inWindow) {
    const t = seen.log.get(it.key);
    const shown = t !== undefined && t >= it.due - TOL;
    if (!shown && unseenFirst.length < 5) {
      unseenFirst.push(`${it.name} at ${((it.due - t0) / 1000).toFixed(1)} s${t === undefined ? '' : ` (a row ${Math.round(it.due - t)} ms before due)`}`);
    }
    fromRelease.push(shown ? Math.max(0, t - it.due) : Infinity);
    if (it.answer !== null) fromAnswer.push(shown ? Math.max(0, t - it.answer) : Infinity);
  }
  // The calls in progress: a call appears after its start_ringing, leaves after its last event.
  const state = [];
  for (const it of inWindow) {
    if (it.name !== 'start_ringing' && !it.last) continue;
    const sign = it.name === 'start_ringing' ? '+' : '-';
    const hit = (seen.calls.get(it.marker) || []).find(([s, t]) => s === sign && t >= it.due - TOL);
    state.push(hit ? Math.max(0, hit[1] - it.due) : Infinity);
  }
  const waits = inWindow.filter((it) => it.answer !== null).map((it) => it.answer - it.due).sort((a, b) => a - b);

  // Per second of wall time, from the cumulative durations (seconds) and the metrics' own clock.
  const ok = samples.filter((s) => s.m);
  const a = ok[0].m;
  const b = ok[ok.length - 1].m;
  const wall = b.Timestamp - a.Timestamp;
  const per = (name) => ((b[name] - a[name]) / wall) * 1000;
  let worstScript = 0;
  for (let i = 1; i < ok.length; i++) {
    const dt = ok[i].m.Timestamp - ok[i - 1].m.Timestamp;
    if (dt > 0) worstScript = Math.max(worstScript, ((ok[i].m.ScriptDuration - ok[i - 1].m.ScriptDuration) / dt) * 1000);
  }
  const MB = 1024 * 1024;
  const g = gcs.filter((x) => x.m);
  const firstWin = g.find((x) => x.t >= GC_EVERY_S - 1) || g[0];
  const lastWin = g[g.length - 1];
  const heapSlope = slope(g.filter((x) => x.t >= firstWin.t).map((x) => [x.t, x.m.JSHeapUsedSize / MB]));
  const seconds = (end - t0) / 1000;
  const sampledUntil = ok[ok.length - 1].t;
  return {
    kind,
    run: runNo,
    seconds,
    events: inWindow.length,
    rate: inWindow.length / seconds,
    calls: load.stats().calls,
    refused: load.stats().refused,
    polls: feed.polls(),
    lag: lagStats(fromRelease),
    unseenFirst,
    lagAnswer: lagStats(fromAnswer),
    lagState: lagStats(state),
    lagShown: lagStats(fromRelease.filter(Number.isFinite)),
    feedWait: { p50: pct(waits, 50), p99: pct(waits, 99) },
    scriptMsPerS: per('ScriptDuration'),
    taskMsPerS: per('TaskDuration'),
    layoutMsPerS: per('LayoutDuration'),
    styleMsPerS: per('RecalcStyleDuration'),
    worstScriptMsPerS: worstScript,
    heapFirstMB: firstWin.m.JSHeapUsedSize / MB,
    heapLastMB: lastWin.m.JSHeapUsedSize / MB,
    heapSlopeMBPerMin: heapSlope,
    heapAt: [firstWin.t, lastWin.t],
    nodesFirst: firstWin.m.Nodes,
    nodesLast: lastWin.m.Nodes,
    // Without a forced collection, from the last sample the page answered (a page too busy to
    // collect within 30 s still answers these).
    heapRawLastMB: b.JSHeapUsedSize / MB,
    nodesRawLast: b.Nodes,
    listenersLast: lastWin.m.JSEventListeners,
    unansweredSamples: unanswered,
    sampledUntil,
    clock: { offsetMs: clock0?.offset, rttMs: clock0?.rtt, driftMs: clock0 && clock1 ? clock1.offset - clock0.offset : null },
    pageErrors: errors.slice(0, 5),
  };
}

const ms = (x) => (x === Infinity ? 'not shown' : Number.isNaN(x) || x === undefined ? '—' : `${Math.round(x)}`);
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');

/// Heap and nodes "at the end" only when the forced collection at the end was answered (a page
/// stuck in its own work for more than 30 s is not collected; its last figure would be old).
const atEnd = (r, x) => (r.heapAt[1] >= r.seconds - 1 ? x : NaN);

/// The rows of the table: a label, how to read it off a result, how to print it.
const ROWS = [
  ['events released per second', (r) => r.rate, f1],
  ['log lag p50 (ms, release → shown)', (r) => r.lag.p50, ms],
  ['log lag p99 (ms)', (r) => r.lag.p99, ms],
  ['log lag max (ms)', (r) => r.lag.max, ms],
  ['log lag p99 from the answer (ms)', (r) => r.lagAnswer.p99, ms],
  ['events never shown (%)', (r) => (100 * r.lag.unseen) / Math.max(1, r.lag.n), f2],
  ['log lag p50 / max of the events shown (ms)', (r) => r.lagShown?.p50, ms, (r) => r.lagShown?.max],
  ['events waiting at the fake for a poll, p99 (ms)', (r) => r.feedWait.p99, ms],
  ['calls-in-progress lag p50 (ms)', (r) => r.lagState.p50, ms],
  ['calls-in-progress lag p99 (ms)', (r) => r.lagState.p99, ms],
  ['calls-in-progress lag max (ms)', (r) => r.lagState.max, ms],
  ['script (ms per s)', (r) => r.scriptMsPerS, f1],
  ['main-thread tasks (ms per s)', (r) => r.taskMsPerS, f1],
  ['layout (ms per s)', (r) => r.layoutMsPerS, f1],
  ['style (ms per s)', (r) => r.styleMsPerS, f1],
  ['worst sample, script (ms per s)', (r) => r.worstScriptMsPerS, f1],
  ['JS heap after GC, first window (MB)', (r) => r.heapFirstMB, f1],
  ['JS heap after GC, end (MB)', (r) => atEnd(r, r.heapLastMB), f1],
  ['JS heap slope (MB per min)', (r) => atEnd(r, r.heapSlopeMBPerMin), f2],
  ['DOM nodes after GC, first window', (r) => r.nodesFirst, (x) => (Number.isFinite(x) ? String(x) : '—')],
  ['DOM nodes after GC, end', (r) => atEnd(r, r.nodesLast), (x) => (Number.isFinite(x) ? String(x) : '—')],
  ['JS heap at the last sample, no GC (MB)', (r) => r.heapRawLastMB, f1],
  ['DOM nodes at the last sample, no GC', (r) => r.nodesRawLast, (x) => (Number.isFinite(x) ? String(x) : '—')],
];

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

function table(results) {
  const by = (k) => results.filter((r) => r.kind === k);
  const cols = PAGES;
  const head = ['', ...cols.map((k) => `${k} min / median`), ...(cols.length === 2 ? ['ratio (medians)'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const [label, get, fmt, get2] of ROWS) {
    const cells = cols.map((k) => {
      const cell = (g) => {
        const xs = by(k).map(g).map((x) => (x === undefined || x === null ? NaN : x));
        return xs.some(Number.isNaN) ? [NaN, NaN] : [Math.min(...xs), median(xs)];
      };
      const [lo, mid] = cell(get);
      if (!get2) return `${fmt(lo)} / ${fmt(mid)}`;
      const [lo2, mid2] = cell(get2);
      return `${fmt(lo)} / ${fmt(mid)} · ${fmt(lo2)} / ${fmt(mid2)}`;
    });
    if (cols.length === 2) {
      const a = median(by('dashboard').map(get));
      const b = median(by('reference').map(get));
      cells.push(!get2 && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : '—');
    }
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function verdict(results) {
  const out = [];
  for (const k of PAGES) {
    const rs = results.filter((r) => r.kind === k);
    if (!rs.length) continue;
    const p99 = median(rs.map((r) => Math.max(r.lag.p99, r.lagState.p99)));
    const growths = rs.map((r) => atEnd(r, r.heapLastMB) - r.heapFirstMB);
    const growth = growths.some(Number.isNaN) ? NaN : median(growths);
    const first = median(rs.map((r) => r.heapFirstMB));
    const raw = median(rs.map((r) => r.heapRawLastMB));
    const flat = Number.isNaN(growth)
      ? `not measurable: the page did not answer a forced collection at the end; without one, ${f1(raw)} MB at the end (median)`
      : `${growth <= first * 0.1 + 1 ? 'yes' : 'NO'} (${growth >= 0 ? '+' : ''}${f1(growth)} MB)`;
    out.push(`${k}: keeps up (p99 lag ≤ 250 ms): ${p99 <= 250 ? 'yes' : 'NO'} (median p99 ${ms(p99)}${p99 === Infinity ? '' : ' ms'}); `
      + `heap flat (≤ 10 % + 1 MB from the first window to the end): ${flat}; `
      + `script ${f1(median(rs.map((r) => r.scriptMsPerS)))} ms per s`);
  }
  return out.join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

// JSON has no Infinity: an event never shown is written "Infinity" (files written before this
// wrote null, which in a lag with events counted means the same).
const toJson = (k, v) => (v === Infinity ? 'Infinity' : v);
const fromJson = (k, v) => (v === 'Infinity' ? Infinity : v);

if (opt.report) {
  const results = opt.report.flatMap((f) => JSON.parse(readFileSync(f, 'utf8'), fromJson).results);
  for (const r of results) {
    for (const lag of [r.lag, r.lagAnswer, r.lagState, r.lagShown]) {
      if (!lag) continue;
      for (const q of ['p50', 'p99', 'max']) if (lag[q] === null && lag.n > 0) lag[q] = Infinity;
    }
  }
  PAGES = ['dashboard', 'reference'].filter((k) => results.some((r) => r.kind === k));
  console.log(table(results));
  console.log('');
  console.log(verdict(results));
  process.exit(0);
}

console.log(`ovh-cti: ${BIN}`);
console.log(`${RUNS} run(s) of ${SECONDS} s per page (${PAGES.join(', ')}), ${RATE} events/s over ${LINES} lines, seed ${SEED}; CDP sample every ${SAMPLE_S} s, heap after GC every ${GC_EVERY_S} s`
  + `${Number(opt['cpu-slowdown']) > 1 ? `; page CPU ${opt['cpu-slowdown']}× slower` : ''}${opt['ui-dir'] ? `; UI from ${opt['ui-dir']}` : ''}`);
const results = [];
for (let i = 1; i <= RUNS; i++) {
  for (const kind of PAGES) {
    const started = Date.now();
    const r = await runOnce(kind, i);
    results.push(r);
    console.log(`run ${i} ${kind.padEnd(9)} ${f1(r.rate)} ev/s; lag p50/p99/max ${ms(r.lag.p50)}/${ms(r.lag.p99)}/${ms(r.lag.max)} ms (from answer p99 ${ms(r.lagAnswer.p99)}), `
      + `calls ${ms(r.lagState.p50)}/${ms(r.lagState.p99)}/${ms(r.lagState.max)} ms, never shown ${r.lag.unseen}/${r.lag.n}${r.unseenFirst?.length ? ` (first: ${r.unseenFirst.join(', ')})` : ''}; `
      + `script ${f1(r.scriptMsPerS)} ms/s, tasks ${f1(r.taskMsPerS)} ms/s; heap ${f1(r.heapFirstMB)} → ${f1(r.heapLastMB)} MB at ${Math.round(r.heapAt[0])} → ${Math.round(r.heapAt[1])} s (${f2(r.heapSlopeMBPerMin)} MB/min); `
      + `nodes ${r.nodesFirst} → ${r.nodesLast}; clock offset ${f1(r.clock.offsetMs)} ms (drift ${f1(r.clock.driftMs)}); `
      + `${r.unansweredSamples ? `${r.unansweredSamples} samples unanswered (metrics up to ${Math.round(r.sampledUntil)} s); ` : ''}${r.pageErrors.length ? `page errors: ${r.pageErrors.join(' / ')}; ` : ''}${Math.round((Date.now() - started) / 1000)} s`);
  }
}
console.log('');
console.log(table(results));
console.log('');
console.log(verdict(results));
mkdirSync(ARTIFACTS, { recursive: true });
const file = path.join(ARTIFACTS, `bench-dashboard-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ args: opt, bin: BIN, results }, toJson, 2));
console.log(`\nall figures: ${file}`);
