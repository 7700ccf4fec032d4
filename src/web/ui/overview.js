// The overview: every line (status light and word, description, calls now vs allowed,
// registration age), every queue's waiting count, the calls in progress with ticking
// durations, and the call log (newest first, a page at a time) with direction and the feed's
// own latency. "Only numbers in a call" (a display setting) hides the idle lines and queues.
//
// The page is drawn once; each change of the live state then patches only the rows that
// changed (keyed rows, see `patchRows`), so a selection, a tooltip or the focus in the call
// log survives the updates. While an older page of the log is shown, it stays still: new
// events are counted above it instead of pushing its rows down.

import { callButton } from './agents.js';
import { h, replace, num, named, ownNumber, time, age, ticking, direction, eventDirection, row, patchRows, statusCell } from './dom.js';
import { t, tValue, lang } from './i18n.js';
import { live, nameOf, eventKey } from './live.js';

/// Rows per page of the call log.
export const LOG_PAGE = 25;

/// The calls a line may carry at once: OVH's setting when its REST API is connected, else
/// what the feed says.
function allowed(l) {
  const fromApi = live.agents?.board?.lines?.find((x) => x.number === l.number)?.simultaneous;
  return fromApi ?? l.simultaneous_lines;
}

function lineRow(l) {
  return h('tr', { 'data-number': l.number },
    h('td', {}, statusCell(l.status)),
    h('td', {}, ownNumber(l.number)),
    h('td', { class: 'desc' }, l.description || ''),
    h('td', { class: 'n' }, `${l.active_calls} / ${allowed(l) ?? '—'}`),
    h('td', {}, age(l.last_registered_at)),
  );
}

function queueRow(q) {
  return h('tr', { 'data-number': q.number },
    h('td', {}, ownNumber(q.number)), h('td', { class: 'desc' }, q.description || ''),
    h('td', { class: 'n big' }, String(q.waiting)), h('td', { class: 'n' }, String(q.in_call)));
}

function callRow(c) {
  return h('tr', { 'data-call': c.call_id },
    h('td', {}, time(c.started_at, false)),
    h('td', {}, named(c.number, nameOf(c.number))),
    h('td', {}, named(c.calling, nameOf(c.calling)), h('span', { 'aria-hidden': 'true', text: ' → ' }), h('span', { class: 'sr', text: ' → ' }), named(c.called, nameOf(c.called)),
      c.dialed && c.dialed !== c.called ? [' (', t('col.dialed'), ' ', num(c.dialed), ')'] : null),
    h('td', {}, direction(c.direction)),
    h('td', {}, statusCell(c.state)),
    h('td', { class: 'n' }, ticking(c.started_at)),
  );
}

function eventRow(e) {
  return row(
    time(e.at),
    e.service || '',
    h('span', { class: 'event', title: e.event, 'data-event': e.event, text: tValue('event', e.event) }),
    num(e.number, e.description || undefined),
    direction(eventDirection(e)),
    h('span', {}, num(e.calling), ' → ', num(e.called), ' ', callButton(eventDirection(e) === 'outgoing' ? e.called : e.calling)),
    h('span', { class: 'desc' }, e.description || ''),
    e.latency_ms === null || e.latency_ms === undefined ? '—' : `${Math.round(e.latency_ms)} ms`,
  );
}

/// Which events a page of the log shows. Page 0 follows the newest; an older page is held
/// by the event at its top (`anchor`), so new events do not shift it.
export function logPage(events, anchor, size = LOG_PAGE) {
  let start = 0;
  if (anchor) {
    const i = events.findIndex((e) => eventKey(e) === anchor);
    start = i < 0 ? 0 : i;
  }
  const pages = Math.max(1, Math.ceil(events.length / size));
  return {
    rows: events.slice(start, start + size),
    start,
    page: Math.floor(start / size) + 1,
    pages: Math.max(pages, Math.floor(start / size) + 1),
  };
}

/// The drawn page: the element tree and the parts patched on each change.
let view = null;

function skeleton(onlyActive) {
  const lineBody = h('tbody');
  const queueBody = h('tbody');
  const callBody = h('tbody');
  const logBody = h('tbody');
  const since = h('p', { class: 'muted', id: 'since' });
  const head = (cols) => h('thead', {}, h('tr', {}, cols.map((x) => h('th', { scope: 'col', text: x }))));
  const pager = h('nav', { class: 'pager', id: 'log-pager', 'aria-label': t('overview.log') });
  const el = h('div', { class: 'overview' },
    h('h1', { text: t('overview.title') }),
    since,
    onlyActive ? h('p', { class: 'note', text: t('overview.only_active') }) : null,
    h('section', { 'aria-labelledby': 'h-lines' },
      h('h2', { id: 'h-lines', text: t('overview.lines') }),
      h('table', { id: 'lines' }, head([t('col.status'), t('col.number'), t('col.description'), t('col.calls'), t('col.registered')]), lineBody)),
    h('section', { 'aria-labelledby': 'h-queues' },
      h('h2', { id: 'h-queues', text: t('overview.queues') }),
      h('table', { id: 'queues' }, head([t('col.number'), t('col.description'), t('col.waiting'), t('col.conversation')]), queueBody)),
    h('section', { 'aria-labelledby': 'h-calls' },
      h('h2', { id: 'h-calls', text: t('overview.calls') }),
      h('table', { id: 'calls' }, head([t('col.started'), t('col.line'), t('col.from_to'), t('col.direction'), t('col.state'), t('col.duration')]), callBody)),
    h('section', { 'aria-labelledby': 'h-log' },
      h('h2', { id: 'h-log', text: t('overview.log') }),
      h('div', { class: 'scroll' }, h('table', { id: 'log' },
        head([t('col.date'), t('col.protocol'), t('col.event'), t('col.number'), t('col.direction'), t('col.from_to'), t('col.description'), t('col.latency')]), logBody)),
      pager),
  );
  return { el, lineBody, queueBody, callBody, logBody, since, pager, anchor: null, lang: lang(), onlyActive, sinceShown: undefined };
}

function drawPager(root) {
  const p = logPage(live.events, view.anchor);
  const go = (anchor) => {
    view.anchor = anchor;
    render(root);
  };
  const button = (id, label, disabled, onclick) => h('button', { type: 'button', id, disabled, onclick }, label);
  const older = live.events[p.start + LOG_PAGE];
  const newerStart = Math.max(0, p.start - LOG_PAGE);
  replace(view.pager,
    p.start ? button('log-newest', t('log.newest'), false, () => go(null)) : null,
    button('log-newer', t('log.newer'), !p.start, () => go(newerStart ? eventKey(live.events[newerStart]) : null)),
    h('span', { class: 'muted', id: 'log-page', text: t('log.page', { n: p.page, of: p.pages }) }),
    button('log-older', t('log.older'), !older, () => go(eventKey(older))));
  return p.rows;
}

export function render(root) {
  const onlyActive = !!live.settings?.display?.only_active;
  if (!view || !root.contains(view.el) || view.lang !== lang() || view.onlyActive !== onlyActive) {
    view = skeleton(onlyActive);
    replace(root, view.el);
  }
  let lines = [...live.lines.values()];
  let queues = [...live.queues.values()];
  if (onlyActive) {
    lines = lines.filter((l) => l.active_calls > 0 || l.status === 'ringing' || l.status === 'in_call');
    queues = queues.filter((q) => q.waiting > 0 || q.in_call > 0);
  }
  if (view.sinceShown !== live.since) {
    view.sinceShown = live.since;
    if (live.since) replace(view.since, t('overview.since', { at: '' }), time(live.since));
    else replace(view.since);
  }
  patchRows(view.lineBody, lines, (l) => l.number, lineRow, t('none'), 5);
  patchRows(view.queueBody, queues, (q) => q.number, queueRow, t('none'), 4);
  patchRows(view.callBody, live.calls, (c) => `${c.number}|${c.call_id}`, callRow, t('none'), 6);
  patchRows(view.logBody, drawPager(root), eventKey, eventRow, t('none'), 8);
}
