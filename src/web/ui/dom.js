// DOM and formatting helpers shared by every view.
//
// `h` is the only way the views build markup: strings become text nodes, so a description
// such as `<img src=x onerror=…>` from the feed is shown as those characters and never parsed.
// The formatters turn the API's raw values (OVH numbers, RFC 3339 times, seconds) into what a
// French or English reader expects, keeping the raw form in a `title`.

import { t, lang } from './i18n.js';

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') el.textContent = v;
    else if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/// `0033972101010` → `+33 9 72 10 10 10`; other countries keep their digits after `+`.
export function formatNumber(raw) {
  if (raw === null || raw === undefined || raw === '') return '';
  const s = String(raw).trim();
  let m = /^(?:0033|\+33)(\d)(\d{8})$/.exec(s);
  if (m) return `+33 ${m[1]} ${m[2].replace(/(\d\d)(?=\d)/g, '$1 ')}`;
  m = /^0(\d{9})$/.exec(s);
  if (m) return `0${m[1].replace(/^(\d)(\d\d)(\d\d)(\d\d)(\d\d)$/, '$1 $2 $3 $4 $5')}`;
  if (/^00\d+$/.test(s)) return `+${s.slice(2)}`;
  return s;
}

/// A phone number as text, with the raw OVH form in its tooltip.
export function num(raw, label) {
  if (!raw) return h('span', { class: 'muted', text: '—' });
  const shown = formatNumber(raw);
  return h('span', { class: 'num', title: label ? `${label} (${raw})` : raw, 'data-raw': raw }, shown);
}

/// A number with, beside it, the name of the line or queue it is (when it is one of ours).
export function named(raw, name) {
  if (!name) return num(raw);
  return h('span', { class: 'named' }, num(raw, name), ' ', h('small', { class: 'muted name', text: name }));
}

/// An OVH number of the account (a line or a queue): the readable form, and under it the
/// raw form OVH and the API use, as text that can be read and copied.
export function ownNumber(raw) {
  if (!raw) return num(raw);
  return h('span', { class: 'own-number' }, num(raw), h('small', { class: 'raw', text: raw }));
}

let timeZone = 'Europe/Paris';
export function setTimeZone(tz) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    timeZone = tz;
  } catch {
    timeZone = 'UTC';
  }
}
export function getTimeZone() { return timeZone; }

function dtf(opts) {
  return new Intl.DateTimeFormat(lang() === 'fr' ? 'fr-FR' : 'en-GB', { timeZone, ...opts });
}
export function fmtTime(iso) {
  return iso ? dtf({ hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(iso)) : '';
}
export function fmtDateTime(iso) {
  return iso
    ? dtf({ year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(iso))
    : '';
}
export function fmtHour(iso, withDay) {
  const opts = withDay ? { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' } : { hour: '2-digit', minute: '2-digit' };
  return dtf(opts).format(new Date(iso));
}
/// A time element: local text, exact UTC time as machine value and tooltip.
export function time(iso, withDate = true) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  return h('time', { datetime: iso, title: iso }, withDate ? fmtDateTime(iso) : fmtTime(iso));
}

/// Seconds as `m:ss` or `h:mm:ss`.
export function fmtDuration(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '—';
  s = Math.max(0, Math.round(s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  const p = (n) => String(n).padStart(2, '0');
  return hh ? `${hh}:${p(mm)}:${p(ss)}` : `${mm}:${p(ss)}`;
}

/// A duration that ticks every second from `iso` (see `tick` in app.js).
export function ticking(iso, cls) {
  const el = h('span', { class: `tick ${cls || ''}`, dataset: { since: iso } });
  updateTick(el, Date.now());
  return el;
}
export function updateTick(el, now) {
  const since = Date.parse(el.dataset.since);
  el.textContent = fmtDuration((now - since) / 1000);
}

/// The time of day, kept current by the page's one-second timer (`data-clock`).
export function clock() {
  const el = h('time', { class: 'clock', dataset: { clock: '' } });
  updateClock(el, Date.now());
  return el;
}
export function updateClock(el, now) {
  const d = new Date(now);
  el.dateTime = d.toISOString();
  el.textContent = dtf({ hour: '2-digit', minute: '2-digit' }).format(d);
}

/// "3 min ago" style ages, refreshed with the ticking durations.
export function age(iso) {
  if (!iso) return h('span', { class: 'muted', text: t('never') });
  const el = h('time', { class: 'age', datetime: iso, title: fmtDateTime(iso), dataset: { age: iso } });
  updateAge(el, Date.now());
  return el;
}
export function updateAge(el, now) {
  const s = Math.max(0, (now - Date.parse(el.dataset.age)) / 1000);
  let text;
  if (s < 60) text = t('age.s', { n: Math.floor(s) });
  else if (s < 3600) text = t('age.m', { n: Math.floor(s / 60) });
  else if (s < 86400) text = t('age.h', { n: Math.floor(s / 3600) });
  else text = t('age.d', { n: Math.floor(s / 86400) });
  el.textContent = text;
}

export function fmtPct(x) {
  if (x === null || x === undefined) return '—';
  return `${new Intl.NumberFormat(lang() === 'fr' ? 'fr-FR' : 'en-GB', { maximumFractionDigits: 1 }).format(x)} %`;
}

/// Direction as an arrow *and* a word (never the arrow alone).
export function direction(dir) {
  const arrow = { incoming: '↙', outgoing: '↗' }[dir] || '·';
  return h('span', { class: `dir dir-${dir}` }, h('span', { 'aria-hidden': 'true', text: `${arrow} ` }), t(`dir.${dir || 'unknown'}`));
}

/// The direction of an event as OVH's demo works it out: the line calls, or is called.
export function eventDirection(e) {
  // A registration names the line three times: it is no call, so it has no direction.
  if (e.event === 'registered') return 'unknown';
  if (e.calling && e.calling === e.number) return 'outgoing';
  if ((e.called && e.called === e.number) || (e.dialed && e.dialed === e.number)) return 'incoming';
  return 'unknown';
}

/// A table with a caption, headers and rows; `empty` is shown when there is no row.
export function table(caption, headers, rows, empty) {
  return h('table', {},
    caption ? h('caption', { text: caption }) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted empty', text: empty || t('none') }))),
  );
}

export function row(...cells) {
  return h('tr', {}, cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c))));
}

/// The UTC instant of midnight starting `date` (YYYY-MM-DD) in the time zone `tz`.
export function zonedMidnight(date, tz = timeZone) {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  const offset = (at) => {
    const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    }).formatToParts(new Date(at)).map((x) => [x.type, x.value]));
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(at / 1000) * 1000;
  };
  let at = guess - offset(guess);
  const second = offset(at);
  if (guess - second !== at) at = guess - second;
  return new Date(at);
}

/// Today's date (YYYY-MM-DD) in the account's time zone, shifted by `days`.
export function localDate(days = 0, tz = timeZone) {
  const d = new Date(Date.now() + days * 86400000);
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

export function nextDay(date) {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/// A modal confirmation: `prefix-dialog` with `prefix-cancel` (focused first) and
/// `prefix-confirm`, and `extra` (e.g. an option) below the question; `onConfirm` runs only
/// when confirmed. Open it with `showModal()`.
export function confirmDialog(prefix, text, confirmLabel, onConfirm, extra = null) {
  const dialog = h('dialog', { id: `${prefix}-dialog`, 'aria-labelledby': `${prefix}-text` },
    h('form', { method: 'dialog' },
      h('p', { id: `${prefix}-text`, text }),
      extra,
      h('div', { class: 'actions' },
        h('button', { value: 'cancel', id: `${prefix}-cancel`, autofocus: true }, t('cancel')),
        h('button', { value: 'confirm', id: `${prefix}-confirm`, class: 'danger' }, confirmLabel))));
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'confirm') onConfirm();
    dialog.returnValue = '';
  });
  return dialog;
}

/// Brings a table body up to date with `items` without redrawing it: a row whose item did not
/// change is kept as it is (a text selection, a tooltip or the focus in it survive), a changed
/// one is replaced, new ones are inserted where they belong and gone ones removed. `key` names
/// an item; `build` draws its row. With no item, one row says `empty` across `columns`.
export function patchRows(tbody, items, key, build, empty, columns) {
  const old = new Map();
  for (const tr of [...tbody.children]) {
    if (tr.dataset.key !== undefined) old.set(tr.dataset.key, tr);
    else tr.remove();
  }
  const seen = new Map();
  const wanted = items.map((item) => {
    let k = String(key(item));
    const n = (seen.get(k) || 0) + 1;
    seen.set(k, n);
    if (n > 1) k = `${k}#${n}`;
    const sig = JSON.stringify(item);
    let tr = old.get(k);
    if (tr && tr.ovhSig === sig) old.delete(k);
    else {
      const fresh = build(item);
      fresh.dataset.key = k;
      fresh.ovhSig = sig;
      if (tr) {
        tr.replaceWith(fresh);
        old.delete(k);
      }
      tr = fresh;
    }
    return tr;
  });
  for (const tr of old.values()) tr.remove();
  wanted.forEach((tr, i) => {
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
  });
  if (!items.length) tbody.append(h('tr', {}, h('td', { colspan: columns, class: 'muted empty', text: empty || t('none') })));
  return tbody;
}

/// A line's status as a light and a word (free, ringing, in a call), from the event feed.
export function statusCell(status) {
  const s = status || 'unknown';
  return h('span', { class: `status status-${s}`, 'data-status': s },
    h('span', { class: 'light', 'aria-hidden': 'true' }), t(`status.${s}`));
}
