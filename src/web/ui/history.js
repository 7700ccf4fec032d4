// History: finished calls and the queue journal, filtered (line or queue, direction, outcome,
// dates in the account's time zone, a number search), paged with the API's `next` cursor, and
// downloadable as CSV with exactly the same filter (the CSV routes export every matching row).
// "To call back" lists, as the service works them out (`/api/callbacks`), the callers who were
// missed or left a queue unanswered and were not reached afterwards, each with a "done" mark.
// The tab and its filter live in the address (`/history?tab=journal&queue=…`), so a reload or
// a bookmark shows the same list with the same filter filled in.

import { callButton, agentsLoaded } from './agents.js';
import { h, replace, num, named, time, fmtDuration, formatNumber, direction, row, zonedMidnight, nextDay, localDate } from './dom.js';
import { t } from './i18n.js';
import { live, api, nameOf } from './live.js';
import { journalRows, outcome, JOURNAL_HEADERS } from './queues.js';

const TABS = ['calls', 'journal', 'callbacks'];
const FIELDS = {
  calls: ['number', 'direction', 'outcome', 'from', 'to', 'q'],
  journal: ['queue', 'outcome', 'from', 'to', 'q'],
  callbacks: ['from', 'to'],
};

/// The tab and its filter, as the address says.
export function fromAddress(search = location.search) {
  const p = new URLSearchParams(search);
  const tab = TABS.includes(p.get('tab')) ? p.get('tab') : 'calls';
  const filter = Object.fromEntries(FIELDS[tab].map((k) => [k, (p.get(k) || '').trim()]));
  return { tab, filter };
}

/// The address of a tab with a filter (empty fields left out).
export function address(tab, filter = {}) {
  const p = new URLSearchParams();
  if (tab !== 'calls') p.set('tab', tab);
  for (const k of FIELDS[tab]) if (filter[k]) p.set(k, filter[k]);
  const qs = p.toString();
  return qs ? `/history?${qs}` : '/history';
}

function go(root, tab, filter) {
  const to = address(tab, filter);
  if (`${location.pathname}${location.search}` !== to) window.history.pushState(null, '', to);
  render(root);
}

/// The API query for a filter: dates become the account's local midnights.
export function query(filter) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) {
    if (!v) continue;
    if (k === 'from') p.set('from', zonedMidnight(v).toISOString());
    else if (k === 'to') p.set('to', zonedMidnight(nextDay(v)).toISOString());
    else p.set(k, v);
  }
  return p;
}

function select(name, label, options, value) {
  const id = `f-${name}`;
  // A value from the address that is not (yet) among the options stays chosen.
  if (value && !options.some(([v]) => v === value)) options.push([value, formatNumber(value)]);
  return h('div', { class: 'field' },
    h('label', { for: id, text: label }),
    h('select', { id, name }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
}

function input(name, label, type, value) {
  const id = `f-${name}`;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), h('input', { id, name, type, value: value || '' }));
}

/// The account's lines (or queues) as options, by number and name. The live board may not
/// have arrived yet (a reload, a bookmark): the options are then read from the API.
function ownOptions(kind) {
  const of = (m) => [...m.values()].map((x) => [x.number, x.description ? `${formatNumber(x.number)} — ${x.description}` : formatNumber(x.number)]);
  const known = kind === 'lines' ? live.lines : live.queues;
  const options = [['', t('any')], ...of(known)];
  const fill = async (el) => {
    if (known.size) return;
    try {
      const data = await api(`/api/${kind}`);
      const chosen = el.value;
      const more = of(new Map((data[kind] || []).map((x) => [x.number, x])));
      for (const [v, text] of more) {
        const existing = [...el.options].find((o) => o.value === v);
        if (existing) existing.textContent = text;
        else el.append(h('option', { value: v, selected: v === chosen }, text));
      }
    } catch { /* the options already there stay */ }
  };
  return { options, fill };
}

function filterForm(root, tab, f) {
  const fields = [];
  let own = null;
  if (tab === 'calls') {
    own = ownOptions('lines');
    fields.push(select('number', t('filter.number'), own.options, f.number));
    fields.push(select('direction', t('filter.direction'), [['', t('any')], ['incoming', t('dir.incoming')], ['outgoing', t('dir.outgoing')]], f.direction));
    fields.push(select('outcome', t('filter.outcome'), [['', t('any')], ...['answered', 'missed', 'unanswered', 'unknown', 'queue_offer'].map((o) => [o, t(`outcome.${o}`)])], f.outcome));
  } else if (tab === 'journal') {
    own = ownOptions('queues');
    fields.push(select('queue', t('filter.queue'), own.options, f.queue));
    fields.push(select('outcome', t('filter.outcome'), [['', t('any')], ...['answered', 'abandoned'].map((o) => [o, t(`outcome.${o}`)])], f.outcome));
  }
  fields.push(input('from', t('filter.from'), 'date', f.from));
  fields.push(input('to', t('filter.to'), 'date', f.to));
  if (tab !== 'callbacks') fields.push(input('q', t('filter.q'), 'search', f.q));
  const form = h('form', { class: 'filters', id: 'filters' }, fields,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', id: 'filter-apply' }, t('filter.apply')),
      h('button', { type: 'reset', id: 'filter-clear' }, t('filter.clear'))));
  if (own) own.fill(form.elements[tab === 'calls' ? 'number' : 'queue']);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = Object.fromEntries(FIELDS[tab].map((k) => [k, (form.elements[k]?.value || '').trim()]));
    go(root, tab, next);
    document.getElementById('filter-apply')?.focus();
  });
  form.addEventListener('reset', (e) => {
    e.preventDefault();
    go(root, tab, {});
  });
  return form;
}

/// The caller of a history row; for a call a queue put through to this line, the real caller
/// (OVH may give the queue's number) and "via" the queue, by name.
function callerOf(c) {
  if (!c.queue) return num(c.calling);
  const q = live.queues.get(c.queue);
  return h('span', { class: 'via-queue' }, num(c.queue_caller || c.calling), ' ',
    h('small', { class: 'muted', text: t('history.via', { queue: (q && q.description) || c.queue }) }));
}

/// The number called; the number dialled beside it only when OVH gives a different one (a
/// column of its own was empty on almost every row).
function calledOf(c) {
  const called = named(c.called, nameOf(c.called));
  if (!c.dialed || c.dialed === c.called) return called;
  return h('span', {}, called, ' ', h('small', { class: 'muted dialed' }, `(${t('col.dialed')} `, named(c.dialed, nameOf(c.dialed)), ')'));
}

function callRows(calls) {
  return calls.map((c) => row(
    time(c.started_at), named(c.number, nameOf(c.number)), direction(c.direction),
    h('span', {}, callerOf(c), c.direction === 'incoming' ? [' ', callButton(c.queue_caller || c.calling)] : null),
    h('span', {}, calledOf(c), c.direction === 'outgoing' ? [' ', callButton(c.called)] : null),
    fmtDuration(c.ring_s), fmtDuration(c.talk_s), outcome(c.outcome)));
}
const CALL_HEADERS = () => [t('col.started'), t('col.line'), t('col.direction'), t('col.caller'), t('col.called'), t('col.ring'), t('col.talk'), t('col.outcome')];

/// The CSV link's query: the same filter, every matching row (`all=1`), not one page.
function csvParams(params) {
  const p = new URLSearchParams(params);
  p.set('all', '1');
  return p.toString();
}

/// A paged list: a table under `headers` filled 50 rows at a time from `path` (the items under
/// `key`, drawn by `rows`), following the API's `next` cursor when **Show more** is clicked.
/// Returns the table, its "Show more" button and its error line; `onShown` hears the count.
function paged({ path, key, params, headers, rows, id, onShown }) {
  const tbody = h('tbody');
  const more = h('button', { type: 'button', id: 'more', hidden: true }, t('history.more'));
  const error = h('p', { class: 'error', role: 'alert' });
  let next = null;
  let shown = 0;
  const load = async () => {
    const p = new URLSearchParams(params);
    p.set('limit', '50');
    if (next) p.set('cursor', next);
    more.disabled = true;
    try {
      const page = await api(`${path}?${p}`);
      // The Call buttons need to know whether an OVH account is connected.
      await agentsLoaded();
      const items = page[key];
      tbody.append(...rows(items));
      shown += items.length;
      if (!shown) tbody.append(h('tr', {}, h('td', { colspan: headers.length, class: 'muted empty', text: t('none') })));
      next = page.next;
      more.hidden = !next;
      if (onShown) onShown(shown);
    } catch (e) {
      error.textContent = t('history.error', { msg: e.message });
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  load();
  const table = h('div', { class: 'scroll' }, h('table', { id }, h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', text: x })))), tbody));
  return { table, more, error };
}

/// One filtered, paged list with its CSV link.
function listing(root, tab, filter) {
  const path = tab === 'calls' ? '/api/history' : '/api/queue-journal';
  const key = tab === 'calls' ? 'calls' : 'entries';
  const params = query(filter);
  const file = tab === 'calls' ? 'history' : 'queue-journal';
  const csv = h('a', { id: 'csv', class: 'button', href: `${path}.csv?${csvParams(params)}`, download: `${file}.csv` }, t('history.csv'));
  // `;`, a byte-order mark, local times, decimal commas: opens right in a French spreadsheet.
  const excel = h('a', { id: 'csv-excel-fr', class: 'button', href: `${path}.csv?${csvParams(params)}&dialect=excel-fr`, download: `${file}-excel.csv` }, t('history.csv_excel_fr'));
  const count = h('p', { class: 'muted', role: 'status', id: 'row-count' });
  const list = paged({
    path, key, params, id: 'results',
    headers: tab === 'calls' ? CALL_HEADERS() : JOURNAL_HEADERS(),
    rows: (items) => (tab === 'calls' ? callRows(items) : journalRows(items)),
    onShown: (n) => { count.textContent = t('history.count', { n }); },
  });
  replace(root, list.table, list.error, count, h('div', { class: 'actions' }, list.more, csv, excel));
}

/// One line of "To call back": the caller, attempts, last attempt, where (by name), and the
/// "done" mark every user of the token sees (it holds until the caller tries again).
function callbackRow(c) {
  const where = h('span', {}, c.places.map((p, i) => [i ? ', ' : '', p.name ? h('span', { title: p.number, text: p.name }) : num(p.number)]));
  const done = !!c.done_at;
  const toggle = h('button', { type: 'button', class: 'done-toggle', 'aria-pressed': String(done), 'data-number': c.number }, done ? t('callbacks.undo') : t('callbacks.done'));
  toggle.addEventListener('click', async () => {
    toggle.disabled = true;
    try {
      await api(`/api/callbacks/${encodeURIComponent(c.number)}/done`, { method: done ? 'DELETE' : 'PUT' });
      c.done_at = done ? null : new Date().toISOString();
      tr.replaceWith(callbackRow(c));
    } catch (e) {
      toggle.disabled = false;
      toggle.title = e.message;
    }
  });
  const tr = row(num(c.number), String(c.attempts), time(c.last_attempt_at), where,
    h('span', {}, done ? h('span', { class: 'muted' }, `${t('callbacks.done_at')} `, time(c.done_at), ' ') : null, toggle, ' ', callButton(c.number)));
  tr.dataset.number = c.number;
  if (done) tr.classList.add('done');
  return tr;
}

/// "To call back", worked out by the service (`/api/callbacks`), 50 at a time.
function callbackList(root, f) {
  const params = query({ from: f.from || localDate(-6), to: f.to || localDate(0) });
  const csv = h('a', { id: 'csv', class: 'button', href: `/api/callbacks.csv?${csvParams(params)}`, download: 'callbacks.csv' }, t('history.csv'));
  const list = paged({
    path: '/api/callbacks', key: 'callbacks', params, id: 'callbacks',
    headers: [t('col.caller'), t('col.attempts'), t('col.last'), t('col.where'), t('col.done')],
    rows: (items) => items.map(callbackRow),
  });
  replace(root, h('p', { class: 'note', text: t('callbacks.intro') }), list.table, list.error, h('div', { class: 'actions' }, list.more, csv));
}

export function render(root) {
  const { tab, filter } = fromAddress();
  const results = h('div', { id: 'history-results' });
  const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': t('history.title') }, TABS.map((x) => h('button', {
    type: 'button', id: `tab-${x}`, 'aria-pressed': String(tab === x),
    onclick: () => { go(root, x, {}); document.getElementById(`tab-${x}`)?.focus(); },
  }, t(`history.${x}`))));
  replace(root, h('h1', { text: t('history.title') }), tabs, h('div', { id: 'history-body' }, filterForm(root, tab, filter), results));
  if (tab === 'callbacks') callbackList(results, filter);
  else listing(results, tab, filter);
}
