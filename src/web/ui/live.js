// The live state the views draw from, kept up to date by the service's event stream.
//
// One EventSource per page (`/api/stream`): its first `state` message is the whole board, so
// after a reconnection (the service restarted, the network dropped) the page simply replaces
// what it had; later `state` messages carry only the lines and queues that changed. The call
// log and the queue journal are fetched once, then grown from `event` and `journal` messages;
// `pop` messages (screen pop) are handed to pop.js; `agents` messages replace the agent board.
// Views subscribe with `onChange` and are redrawn at most once per animation frame.

import { setLanguage } from './i18n.js';
import { setTimeZone } from './dom.js';

export const live = {
  lines: new Map(),
  queues: new Map(),
  calls: [],
  events: [],
  journal: [],
  since: null,
  health: null,
  stream: 'connecting', // connecting | open | offline
  settings: null,
  me: null,
  /// The agent board from OVH's REST API (`/api/agents`, then `agents` messages).
  agents: null,
};

const EVENT_LOG_MAX = 200;
const listeners = new Set();
let popHandler = () => {};

/// Who receives the stream's `pop` messages (the screen pop, see pop.js).
/// The name (description) of one of the account's lines or queues, if it has one.
export function nameOf(number) {
  const l = live.lines.get(number) || live.queues.get(number);
  return (l && l.description) || null;
}

export function onPop(fn) {
  popHandler = fn;
}
let pending = false;

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function changed() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    for (const fn of listeners) fn();
  });
}

/// Same-origin JSON requests; errors carry the status and the API's message.
export async function api(path, options = {}) {
  const init = { credentials: 'same-origin', headers: {}, ...options };
  if (options.body !== undefined && typeof options.body !== 'string') {
    init.body = JSON.stringify(options.body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok) {
    const err = new Error((data && data.error) || `HTTP ${res.status}`);
    err.status = res.status;
    err.field = data && data.field;
    err.reason = data && data.reason;
    throw err;
  }
  return data;
}

function replaceAll(msg) {
  live.lines = new Map((msg.lines || []).map((l) => [l.number, l]));
  live.queues = new Map((msg.queues || []).map((q) => [q.number, q]));
  live.calls = msg.calls || [];
  live.since = msg.since ?? live.since;
}

/// What the stream brought while the logs were being fetched (newest first), or null.
let arriving = null;

/// An event's identity in the log (events carry no id: their times, name, line and call).
export function eventKey(e) {
  return `${e.at}|${e.received_at}|${e.event}|${e.number}|${e.call_id || ''}`;
}

/// A journal entry's: its queue, OVH's id for the caller, when they left.
const entryKey = (j) => `${j.queue}|${j.member}|${j.left_at}`;

/// `fetched` with, before it, what the stream brought meanwhile that it does not hold (the
/// fetch may have read the store before those were committed), at most `max`.
function mergeArrived(fetched, arrived, key, max) {
  const have = new Set(fetched.map(key));
  return arrived.filter((x) => !have.has(key(x))).concat(fetched).slice(0, max);
}

/// The call log and the journal since the last reset (they are cleared with the figures).
/// Events and journal entries that arrive on the stream while this runs are kept: replacing
/// the lists with the fetched ones alone lost them from the page until the next reconnection.
async function refetchLogs() {
  const since = live.since ? `&from=${encodeURIComponent(live.since)}` : '';
  const mine = { events: [], journal: [] };
  arriving = mine;
  try {
    const [ev, jr] = await Promise.all([
      api(`/api/events?limit=${EVENT_LOG_MAX}${since}`),
      api(`/api/queue-journal?limit=100${since}`),
    ]);
    // A later refetch (another full state) took over: its answer is the one to keep.
    if (arriving !== mine) return;
    live.events = mergeArrived(ev.events, mine.events, eventKey, EVENT_LOG_MAX);
    live.journal = mergeArrived(jr.entries, mine.journal, entryKey, 100);
    changed();
  } catch { /* the stream's own error handling reports trouble */ } finally {
    if (arriving === mine) arriving = null;
  }
}

let source = null;
let onUnauthorised = () => {};

export function connect(unauthorised) {
  onUnauthorised = unauthorised;
  open();
}

export function disconnect() {
  if (source) source.close();
  source = null;
}

function open() {
  disconnect();
  const es = new EventSource('/api/stream');
  source = es;
  es.addEventListener('open', () => { live.stream = 'open'; changed(); });
  const full = (e) => {
    const msg = JSON.parse(e.data);
    replaceAll(msg);
    live.stream = 'open';
    changed();
    refetchLogs();
  };
  es.addEventListener('resync', full);
  es.addEventListener('state', (e) => {
    const msg = JSON.parse(e.data);
    if (msg.full || msg.reset) {
      full(e);
      return;
    }
    for (const l of msg.lines || []) live.lines.set(l.number, l);
    for (const q of msg.queues || []) live.queues.set(q.number, q);
    // The calls in progress on the lines this message names replace theirs; the other lines'
    // calls did not change. Oldest first, as the whole state gives them.
    if (msg.calls) {
      const named = new Set((msg.lines || []).map((l) => l.number));
      live.calls = live.calls.filter((c) => !named.has(c.number)).concat(msg.calls)
        .sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at) || a.number.localeCompare(b.number));
    }
    changed();
  });
  es.addEventListener('event', (e) => {
    const event = JSON.parse(e.data);
    if (arriving) arriving.events.unshift(event);
    live.events.unshift(event);
    if (live.events.length > EVENT_LOG_MAX) live.events.length = EVENT_LOG_MAX;
    changed();
  });
  es.addEventListener('journal', (e) => {
    const entry = JSON.parse(e.data);
    if (arriving) arriving.journal.unshift(entry);
    live.journal.unshift(entry);
    if (live.journal.length > 100) live.journal.length = 100;
    changed();
  });
  es.addEventListener('pop', (e) => popHandler(JSON.parse(e.data)));
  es.addEventListener('agents', (e) => { live.agents = JSON.parse(e.data); changed(); });
  es.addEventListener('health', (e) => { live.health = JSON.parse(e.data); changed(); });
  // The store stopped or started writing: sent at once, between the 15 s health frames.
  es.addEventListener('store', (e) => { live.health = { ...(live.health || {}), store: JSON.parse(e.data) }; changed(); });
  es.addEventListener('error', async () => {
    live.stream = 'offline';
    changed();
    if (es.readyState !== EventSource.CLOSED || source !== es) return;
    // The browser gave up (an answer that is not a stream: signed out, or the service is
    // restarting behind a proxy). Find out which, then try again or go to the login page.
    try {
      await api('/api/me');
      setTimeout(() => { if (source === es) open(); }, 2000);
    } catch (err) {
      if (err.status === 401) onUnauthorised();
      else setTimeout(() => { if (source === es) open(); }, 2000);
    }
  });
}

export async function loadHealth() {
  try {
    const h = await api('/api/health');
    live.health = h.feeds && h.feeds[0] ? h.feeds[0] : { state: h.status };
    changed();
  } catch { /* shown as unknown */ }
}

/// Takes settings read or saved. At sign-in a language chosen there wins over this browser's
/// choice; once saved from the settings view (`exact`), it is applied as it is, `auto` included.
export function applySettings(s, exact = false) {
  live.settings = s;
  if (exact || (s.language && s.language !== 'auto')) setLanguage(s.language || 'auto');
  setTimeZone(s.timezone);
  changed();
}
