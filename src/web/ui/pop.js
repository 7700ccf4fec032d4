// Screen pop in the browser, driven by the stream's `pop` messages (docs/screen-pop.md).
//
// - modal: the page opens in a dialog of the dashboard, in a sandboxed iframe, with an "open
//   in a new tab" link for sites that refuse to be framed. Pops that arrive while one is shown
//   queue up ("1 of 3") instead of replacing it.
// - popup: a new window. A browser that blocks it gets a visible notice instead, a link the
//   user clicks to open the page (a click is allowed to open what a stream message is not).
// - desktop notifications, per browser and off by default (stored in localStorage): the
//   caller, the line and its description; a click focuses the dashboard and opens the page.
//
// Every value from the feed is set as text; the URL is the service's filled template and is
// used only if it is http(s).

import { h, replace, formatNumber } from './dom.js';
import { t, tValue } from './i18n.js';

const NOTIFY_KEY = 'ovh-cti.notifications';
const NOTICES_MAX = 10;
const SANDBOX = 'allow-scripts allow-same-origin allow-forms';

const queue = [];
let index = 0;
let dialog = null;
let noticeBox = null;

function safeUrl(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/// The words of a pop: who calls, on which line or queue.
export function describe(p) {
  const caller = p.calling ? formatNumber(p.calling) : t('pop.unknown_caller');
  const line = [formatNumber(p.number), p.description].filter(Boolean).join(' — ');
  return { title: t('pop.title', { caller }), line: t('pop.line', { line: line || '—' }), event: tValue('event', p.event) };
}

function buildDialog() {
  const frameBox = h('div', { class: 'pop-frame', id: 'pop-frame-box' });
  const close = h('button', { type: 'button', id: 'pop-close', onclick: () => dismiss() }, t('pop.close'));
  dialog = h('dialog', { id: 'pop-dialog', class: 'pop-dialog', 'aria-labelledby': 'pop-title', 'aria-describedby': 'pop-line' },
    h('div', { class: 'pop-head' },
      h('div', {},
        h('h2', { id: 'pop-title' }),
        h('p', { id: 'pop-line', class: 'pop-line' })),
      h('p', { id: 'pop-count', class: 'pop-count', 'aria-live': 'polite' })),
    frameBox,
    h('div', { class: 'actions' },
      h('a', { id: 'pop-newtab', class: 'button', target: '_blank', rel: 'noopener noreferrer', referrerpolicy: 'no-referrer' }, t('pop.new_tab')),
      h('span', { class: 'pop-hint', text: t('pop.refused_hint') }),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', id: 'pop-prev', onclick: () => show(index - 1) }, t('pop.prev')),
      h('button', { type: 'button', id: 'pop-next', onclick: () => show(index + 1) }, t('pop.next')),
      close,
      h('button', { type: 'button', id: 'pop-close-all', onclick: () => closeAll() }, t('pop.close_all'))));
  // Esc closes the pop shown, like the Close button; the next one queued takes its place.
  dialog.addEventListener('cancel', (e) => {
    if (queue.length > 1) {
      e.preventDefault();
      dismiss();
    }
  });
  // However the dialog closed (Esc, Close all, the browser), nothing stays queued unseen.
  // The event comes a task after the closing: a pop opened in between (a click on its
  // notification right after Close) has reopened the dialog, and must not be wiped.
  dialog.addEventListener('close', () => {
    if (dialog.open) return;
    queue.length = 0;
    index = 0;
    replace(frameBox);
  });
  document.body.append(dialog);
}

/// Shows the `i`th queued pop in the dialog, opening it if needed.
function show(i) {
  if (!queue.length) return;
  if (!dialog) buildDialog();
  index = Math.max(0, Math.min(i, queue.length - 1));
  const p = queue[index];
  const d = describe(p);
  document.getElementById('pop-title').textContent = d.title;
  document.getElementById('pop-line').textContent = `${d.line} · ${d.event}`;
  document.getElementById('pop-newtab').setAttribute('href', p.url);
  const box = document.getElementById('pop-frame-box');
  const current = box.querySelector('iframe');
  if (!current || current.dataset.pop !== String(p.seq)) {
    // A new frame per pop: the previous page is unloaded and cannot linger in the history.
    replace(box, h('iframe', {
      id: 'pop-frame', src: p.url, title: d.title, sandbox: SANDBOX, referrerpolicy: 'no-referrer',
      allow: '', loading: 'eager', dataset: { pop: String(p.seq) },
    }));
  }
  updateCount();
  if (!dialog.open) {
    dialog.showModal();
    document.getElementById('pop-close').focus();
  }
}

function updateCount() {
  document.getElementById('pop-count').textContent = t('pop.count', { i: index + 1, n: queue.length });
  document.getElementById('pop-prev').disabled = index === 0;
  document.getElementById('pop-next').disabled = index >= queue.length - 1;
}

/// Removes the pop shown; the next queued one (or the previous, at the end) takes its place.
function dismiss() {
  queue.splice(index, 1);
  if (!queue.length) dialog.close();
  else show(Math.min(index, queue.length - 1));
}

function closeAll() {
  if (dialog && dialog.open) dialog.close();
}

/// Opens the page in a new window. `noopener` in the features would make `window.open`
/// return null every time, hiding a blocked pop-up: the window is opened blank, cut from this
/// page, then sent to the URL (the page's `no-referrer` policy applies to that navigation).
function openWindow(url) {
  let w = null;
  try { w = window.open('about:blank', '_blank', 'popup,width=1100,height=800'); } catch { w = null; }
  if (!w) return null;
  try {
    w.opener = null;
    w.location.replace(url);
  } catch {
    w.close();
    return null;
  }
  return w;
}

function noticeRegion() {
  if (!noticeBox || !noticeBox.isConnected) {
    noticeBox = h('section', { id: 'pop-notices', class: 'pop-notices', 'aria-label': t('pop.notices'), 'aria-live': 'polite' });
    document.body.append(noticeBox);
  }
  return noticeBox;
}

/// The blocked pop-up, as a link the user clicks (and a button to drop it).
function blockedNotice(p) {
  const box = noticeRegion();
  const d = describe(p);
  const notice = h('div', { class: 'pop-notice', role: 'alert', dataset: { pop: String(p.seq) } });
  const remove = () => { notice.remove(); if (!box.children.length) box.remove(); };
  replace(notice,
    h('p', { class: 'pop-notice-title' }, h('strong', { text: d.title }), ' ', h('span', { class: 'muted', text: d.line })),
    h('div', { class: 'actions' },
      h('a', { class: 'button pop-open', href: p.url, target: '_blank', rel: 'noopener noreferrer', referrerpolicy: 'no-referrer', onclick: remove },
        t('pop.blocked')),
      h('button', { type: 'button', class: 'pop-dismiss', 'aria-label': t('pop.dismiss'), onclick: remove }, '✕')),
    h('p', { class: 'hint' }, t('pop.blocked_hint'), ' ', h('a', { href: '/help#popups', 'data-nav': '' }, t('pop.blocked_help'))));
  box.append(notice);
  while (box.children.length > NOTICES_MAX) box.firstElementChild.remove();
}

/// Opens a pop as its mode says; a click on its desktop notification calls it again.
function open(p) {
  if (p.mode === 'popup') {
    if (p.window && !p.window.closed) {
      p.window.focus();
      return;
    }
    p.window = openWindow(p.url);
    if (!p.window) blockedNotice(p);
    return;
  }
  if (!queue.includes(p)) queue.push(p);
  // The dialog is open: the new pop waits its turn, shown in the count.
  if (dialog && dialog.open) {
    updateCount();
    if (p.fromNotification) show(queue.indexOf(p));
  } else {
    show(queue.indexOf(p));
  }
}

let seq = 0;

/// A `pop` message from the stream.
export function handlePop(msg) {
  const url = safeUrl(msg && msg.url);
  if (!url) return;
  seq += 1;
  const p = { ...msg, url, seq };
  open(p);
  notify(p);
}

/// Forgets every pop (signed out).
export function clearPops() {
  closeAll();
  if (noticeBox) noticeBox.remove();
}

// Desktop notifications: the user's choice on this browser.

export function notificationsSupported() {
  return typeof window.Notification === 'function';
}

export function notificationsOn() {
  try { return localStorage.getItem(NOTIFY_KEY) === 'on'; } catch { return false; }
}

/// Turns notifications on (asking the browser's permission) or off; resolves with what
/// happened: `on`, `off`, `denied` or `unsupported`.
export async function setNotifications(on) {
  const store = (v) => { try { localStorage.setItem(NOTIFY_KEY, v); } catch { /* not kept */ } };
  if (!on) {
    store('off');
    return 'off';
  }
  if (!notificationsSupported()) return 'unsupported';
  let permission = Notification.permission;
  if (permission === 'default') permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    store('off');
    return 'denied';
  }
  store('on');
  return 'on';
}

function notify(p) {
  if (!notificationsOn() || !notificationsSupported() || Notification.permission !== 'granted') return;
  const d = describe(p);
  try {
    const n = new Notification(d.title, { body: `${d.line}\n${d.event}`, tag: p.call_id || `pop-${p.seq}`, lang: document.documentElement.lang });
    n.addEventListener('click', () => {
      window.focus();
      n.close();
      p.fromNotification = true;
      open(p);
    });
  } catch { /* some browsers only notify from a service worker */ }
}
