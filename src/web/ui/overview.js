// The overview: every line (status light and word, description, calls now vs allowed,
// registration age), every queue's waiting count, the calls in progress with ticking
// durations, and the call log (newest first) with direction and the feed's own latency.
// "Only numbers in a call" (a display setting) hides the idle lines and queues.

import { h, replace, num, ownNumber, time, age, ticking, direction, eventDirection, table, row } from './dom.js';
import { t } from './i18n.js';
import { live } from './live.js';

export function statusCell(status) {
  const s = status || 'unknown';
  return h('span', { class: `status status-${s}`, 'data-status': s },
    h('span', { class: 'light', 'aria-hidden': 'true' }), t(`status.${s}`));
}

function lineRows(lines) {
  return lines.map((l) => h('tr', { 'data-number': l.number },
    h('td', {}, statusCell(l.status)),
    h('td', {}, ownNumber(l.number)),
    h('td', { class: 'desc' }, l.description || ''),
    h('td', { class: 'n' }, `${l.active_calls} / ${l.simultaneous_lines ?? '—'}`),
    h('td', {}, age(l.last_registered_at)),
  ));
}

function callRows(calls) {
  return calls.map((c) => h('tr', { 'data-call': c.call_id },
    h('td', {}, time(c.started_at, false)),
    h('td', {}, num(c.number)),
    h('td', {}, num(c.calling), h('span', { 'aria-hidden': 'true', text: ' → ' }), h('span', { class: 'sr', text: ' → ' }), num(c.called),
      c.dialed && c.dialed !== c.called ? [' (', t('col.dialed'), ' ', num(c.dialed), ')'] : null),
    h('td', {}, direction(c.direction)),
    h('td', {}, statusCell(c.state)),
    h('td', { class: 'n' }, ticking(c.started_at)),
  ));
}

function eventRows(events) {
  return events.map((e) => row(
    time(e.at),
    e.service || '',
    h('code', { text: e.event }),
    num(e.number, e.description || undefined),
    direction(eventDirection(e)),
    h('span', {}, num(e.calling), ' → ', num(e.called)),
    h('span', { class: 'desc' }, e.description || ''),
    e.latency_ms === null || e.latency_ms === undefined ? '—' : `${Math.round(e.latency_ms)} ms`,
  ));
}

export function render(root) {
  const onlyActive = live.settings?.display?.only_active;
  let lines = [...live.lines.values()];
  let queues = [...live.queues.values()];
  if (onlyActive) {
    lines = lines.filter((l) => l.active_calls > 0 || l.status === 'ringing' || l.status === 'in_call');
    queues = queues.filter((q) => q.waiting > 0 || q.in_call > 0);
  }
  replace(root,
    h('h1', { text: t('overview.title') }),
    live.since ? h('p', { class: 'muted' }, t('overview.since', { at: '' }), time(live.since)) : null,
    onlyActive ? h('p', { class: 'note', text: t('overview.only_active') }) : null,
    h('section', { 'aria-labelledby': 'h-lines' },
      h('h2', { id: 'h-lines', text: t('overview.lines') }),
      table(null, [t('col.status'), t('col.number'), t('col.description'), t('col.calls'), t('col.registered')], lineRows(lines))),
    h('section', { 'aria-labelledby': 'h-queues' },
      h('h2', { id: 'h-queues', text: t('overview.queues') }),
      table(null, [t('col.number'), t('col.description'), t('col.waiting'), t('col.conversation')], queues.map((q) => h('tr', { 'data-number': q.number },
        h('td', {}, ownNumber(q.number)), h('td', { class: 'desc' }, q.description || ''), h('td', { class: 'n big' }, String(q.waiting)), h('td', { class: 'n' }, String(q.in_call)))))),
    h('section', { 'aria-labelledby': 'h-calls' },
      h('h2', { id: 'h-calls', text: t('overview.calls') }),
      table(null, [t('col.started'), t('col.line'), t('col.from_to'), t('col.direction'), t('col.state'), t('col.duration')], callRows(live.calls), t('none'))),
    h('section', { 'aria-labelledby': 'h-log' },
      h('h2', { id: 'h-log', text: t('overview.log') }),
      h('div', { class: 'scroll' }, table(null, [t('col.date'), t('col.protocol'), t('col.event'), t('col.number'), t('col.direction'), t('col.from_to'), t('col.description'), t('col.latency')], eventRows(live.events.slice(0, 100))))),
  );
}
