// Settings, stored on the server per token: display options (only numbers in a call, reset at
// midnight, reset now after confirmation), the service-level threshold and target, the time
// zone, the language, and the screen-pop form (every field of `screen_pop`: on/off, mode, URL,
// events, directions, and which lines and queues). The form checks the URL as the server will
// (absolute http/https with a host) and previews it with sample values; the pop itself is
// done by pop.js. Desktop notifications are a choice of this browser, kept in localStorage,
// not on the server. A refusal names its field and is shown next to it. Below the form, the
// token's own user can make the service forget the token (after confirmation, optionally with
// its stored history); a token from the service's configuration says who can remove it.

import { h, replace, confirmDialog, formatNumber } from './dom.js';
import { t, eventLabel } from './i18n.js';
import { live, api, applySettings } from './live.js';
import { notificationsOn, notificationsSupported, setNotifications } from './pop.js';

const POP_EVENTS = ['start_ringing', 'end_ringing', 'start_calling', 'end_calling', 'member-queue-start', 'agent-offering', 'bridge-agent-start', 'member-queue-end'];
const SAMPLE = {
  CALLING: '0033655555555', CALLED: '0033972101010', DIALED: '0033972101010', EVENT: 'start_ringing',
  CALLID: '36f675cc81e74ef5a8e25d94.', NUMBER: '0033972101010', DESCRIPTION: 'Accueil & Co', AGENT: '',
};

/// Percent-encodes as the service does: everything but letters, digits and `-_.~`.
function encode(v) {
  return encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/// The URL with `*CALLING*`-style variables replaced by URL-encoded values.
export function expand(url, values = SAMPLE) {
  return url.replace(/\*(CALLING|CALLED|DIALED|EVENT|CALLID|NUMBER|DESCRIPTION|AGENT)\*/g, (_, k) => encode(values[k] ?? ''));
}

/// The lines and queues a pop may be limited to: what the token covers, plus any number
/// already chosen (a line not heard of since a reset stays choosable).
let knownNumbers = null;
async function loadNumbers() {
  const [lines, queues] = await Promise.all([api('/api/lines'), api('/api/queues')]);
  knownNumbers = [
    ...lines.lines.map((l) => ({ number: l.number, description: l.description, kind: 'line' })),
    ...queues.queues.map((q) => ({ number: q.number, description: q.description, kind: 'queue' })),
  ];
  return knownNumbers;
}

function numbersFieldset(chosen) {
  const list = h('div', { id: 'pop-numbers-list', class: 'numbers' });
  const fill = (known) => {
    const all = [...known];
    for (const n of chosen || []) if (!all.some((k) => k.number === n)) all.push({ number: n, description: '', kind: 'other' });
    replace(list, all.length ? all.map((k) => h('div', { class: 'check' },
      h('input', { type: 'checkbox', id: `num-${k.number}`, name: 'pop-number', value: k.number, checked: (chosen || []).includes(k.number) }),
      h('label', { for: `num-${k.number}` }, ` ${formatNumber(k.number)} `, h('span', { class: 'desc', text: k.description || '' }),
        h('span', { class: 'muted', text: ` (${t(`settings.pop_kind_${k.kind}`)})` }))))
      : h('p', { class: 'muted', text: t('settings.pop_numbers_none') }));
  };
  fill(knownNumbers || []);
  loadNumbers().then(fill).catch(() => { /* the chosen ones are listed anyway */ });
  const box = h('fieldset', { id: 'pop-numbers-box', disabled: chosen === null || chosen === undefined }, h('legend', { class: 'sr', text: t('settings.pop_numbers_some') }), list);
  const radio = (value, label, checked) => h('div', { class: 'check' },
    h('input', { type: 'radio', name: 'pop-numbers', id: `pop-numbers-${value}`, value, checked, onchange: () => { box.disabled = value === 'all'; } }),
    h('label', { for: `pop-numbers-${value}`, text: ` ${label}` }));
  const isAll = chosen === null || chosen === undefined;
  return h('fieldset', { class: 'inline numbers-field' }, h('legend', { text: t('settings.pop_numbers') }),
    radio('all', t('settings.pop_numbers_all'), isAll), radio('some', t('settings.pop_numbers_some'), !isAll), box,
    h('p', { class: 'error', id: 'pop-numbers-error', role: 'alert' }));
}

/// The desktop-notification switch of this browser (not sent to the server).
export function notificationsField() {
  const status = h('p', { id: 'pop-notify-status', class: 'hint', role: 'status' });
  const input = h('input', { type: 'checkbox', id: 'pop-notify', checked: notificationsOn(), disabled: !notificationsSupported() });
  input.addEventListener('change', async () => {
    const result = await setNotifications(input.checked);
    input.checked = result === 'on';
    status.textContent = t(`settings.notify_${result}`);
  });
  return h('fieldset', {}, h('legend', { text: t('settings.notify') }),
    h('div', { class: 'check' }, input, h('label', { for: 'pop-notify', text: ` ${t('settings.notify_label')}` })),
    h('p', { class: 'hint', text: notificationsSupported() ? t('settings.notify_hint') : t('settings.notify_unsupported') }),
    status);
}

/// null when the URL is acceptable, else the reason.
export function checkUrl(url) {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return t('settings.url_bad');
    if (!u.hostname || /\s/.test(url)) return t('settings.url_bad');
    return null;
  } catch {
    return t('settings.url_bad');
  }
}

/// The screen-pop fieldset: on/off, mode (`modes`: a user's own pop has no silent mode), URL
/// with its preview, events, directions, and which lines and queues. Read back by `readPop`.
export function popFieldset(pop, modes = ['modal', 'popup', 'silent'], legend = t('settings.pop')) {
  const url = h('input', { id: 'pop-url', name: 'pop-url', type: 'url', maxlength: 2048, value: pop.url, 'aria-describedby': 'pop-url-hint pop-url-error', size: 60, spellcheck: 'false' });
  const preview = h('output', { id: 'pop-preview', for: 'pop-url', class: 'preview' });
  const updatePreview = () => {
    const v = url.value.trim();
    const err = v ? checkUrl(v) : null;
    const errorEl = document.getElementById('pop-url-error');
    if (errorEl) errorEl.textContent = err || '';
    url.setAttribute('aria-invalid', String(Boolean(err)));
    preview.textContent = v && !err ? expand(v) : '—';
  };
  url.addEventListener('input', updatePreview);
  updatePreview();
  return h('fieldset', {}, h('legend', { text: legend }),
    check('pop-enabled', t('settings.pop_enabled'), pop.enabled),
    h('fieldset', { class: 'inline' }, h('legend', { text: t('settings.pop_mode') }),
      modes.map((m) => h('div', { class: 'check' },
        h('input', { type: 'radio', name: 'pop-mode', id: `mode-${m}`, value: m, checked: pop.mode === m }),
        h('label', { for: `mode-${m}`, text: ` ${t(`mode.${m}`)}` })))),
    field('pop-url', t('settings.pop_url'), url, t('settings.pop_url_hint')),
    h('p', {}, h('span', { text: `${t('settings.preview')} : ` }), preview),
    h('fieldset', { class: 'inline' }, h('legend', { text: t('settings.pop_events') }),
      POP_EVENTS.map((e) => check(`ev-${e}`, eventLabel(e), pop.events.includes(e)))),
    h('fieldset', { class: 'inline' }, h('legend', { text: t('settings.pop_directions') }),
      ['incoming', 'outgoing'].map((d) => check(`dir-${d}`, t(`dir.${d}`), pop.directions.includes(d)))),
    numbersFieldset(pop.numbers));
}

/// The screen pop of `popFieldset` in `form`, or null after showing why it cannot be saved.
export function readPop(form) {
  const el = (id) => document.getElementById(id);
  const url = el('pop-url');
  const urlValue = url.value.trim();
  const enabled = el('pop-enabled').checked;
  const urlErr = urlValue ? checkUrl(urlValue) : (enabled ? t('settings.url_needed') : null);
  if (urlErr) {
    el('pop-url-error').textContent = urlErr;
    url.focus();
    return null;
  }
  const someNumbers = el('pop-numbers-some').checked;
  const numbers = someNumbers ? [...form.querySelectorAll('input[name=pop-number]:checked')].map((x) => x.value) : null;
  if (someNumbers && !numbers.length) {
    el('pop-numbers-error').textContent = t('settings.pop_numbers_empty');
    el('pop-numbers-some').focus();
    return null;
  }
  return {
    enabled,
    mode: form.querySelector('input[name=pop-mode]:checked')?.value || 'modal',
    url: urlValue,
    events: POP_EVENTS.filter((x) => el(`ev-${x}`).checked),
    directions: ['incoming', 'outgoing'].filter((d) => el(`dir-${d}`).checked),
    numbers,
  };
}

/// Where a refusal of a `screen_pop` field is shown (the element ids of `popFieldset`).
export const POP_FIELDS = { 'screen_pop.url': 'pop-url', 'screen_pop.numbers': 'pop-numbers', 'screen_pop.mode': 'pop-url' };

/// Shows a refusal next to the field it names (`ids`: field → element id), else in `status`.
export function showError(err, ids, status) {
  const el = (id) => document.getElementById(id);
  const target = ids[err.field] && el(`${ids[err.field]}-error`);
  (target || status).textContent = t('settings.error', { msg: err.message });
  if (ids[err.field]) (el(ids[err.field]) || el('pop-numbers-some'))?.focus();
}

function zones() {
  try { return Intl.supportedValuesOf('timeZone'); } catch { return ['Europe/Paris', 'UTC']; }
}

function check(id, label, checked) {
  return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name: id, checked }), h('label', { for: id, text: ` ${label}` }));
}

function field(id, label, control, hint) {
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control,
    hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null,
    h('p', { class: 'error', id: `${id}-error`, role: 'alert' }));
}

/// "This token": forget it (`DELETE /api/token`), which signs everyone using it out.
function tokenSection() {
  const status = h('p', { id: 'token-status', role: 'status', class: 'status-line' });
  const configured = live.me && live.me.source === 'config';
  const purge = h('input', { type: 'checkbox', id: 'token-purge', name: 'token-purge' });
  const dialog = confirmDialog('forget', t('token.forget_confirm'), t('token.forget_button'), async () => {
    try {
      await api(`/api/token${purge.checked ? '?purge=true' : ''}`, { method: 'DELETE' });
      window.dispatchEvent(new Event('ovh-cti:signed-out'));
    } catch (e) {
      status.textContent = t('token.error', { msg: e.message });
    }
  }, h('div', { class: 'check' }, purge, h('label', { for: 'token-purge', text: ` ${t('token.purge')}` })));
  // Change token, as OVH's demo has: sign in with another one without signing out first (the
  // login checks it with OVH, and replaces this browser's session when it is accepted).
  const newToken = h('input', { type: 'password', id: 'new-token', name: 'new-token', autocomplete: 'off', spellcheck: 'false', maxlength: '64' });
  const change = h('form', { id: 'change-token', class: 'inline' },
    h('label', { for: 'new-token', text: t('token.change_label') }), newToken,
    h('button', { type: 'submit', id: 'change-token-submit' }, t('token.change')));
  change.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = t('token.checking');
    try {
      await api('/api/login', { method: 'POST', body: { token: newToken.value.trim(), remember: true } });
      window.location.assign('/overview');
    } catch (err) {
      status.textContent = t('token.error', { msg: err.message });
    }
  });
  return h('section', { id: 'token-section', 'aria-labelledby': 'token-title' },
    h('h2', { id: 'token-title', text: t('token.title') }),
    h('p', { text: t('token.hint', { hint: (live.me && live.me.token_hint) || '…' }) }),
    change,
    h('p', { class: 'hint', text: configured ? t('token.configured') : t('token.forget_intro') }),
    configured ? null : h('button', { type: 'button', id: 'forget-token', class: 'danger', onclick: () => dialog.showModal() }, t('token.forget')),
    status, dialog);
}

function resetDialog(status) {
  return confirmDialog('reset', t('settings.reset_confirm'), t('confirm'), async () => {
    try {
      await api('/api/reset', { method: 'POST' });
      status.textContent = t('settings.reset_done');
    } catch (e) {
      status.textContent = t('settings.error', { msg: e.message });
    }
  });
}

export function render(root) {
  const s = live.settings;
  if (!s) {
    replace(root, h('p', { class: 'muted', text: t('loading') }));
    api('/api/settings').then((x) => { applySettings(x); render(root); }).catch((e) => replace(root, h('p', { class: 'error', text: e.message })));
    return;
  }
  const pop = s.screen_pop;
  const status = h('p', { id: 'settings-status', role: 'status', class: 'status-line' });
  const dialog = resetDialog(status);
  const tz = h('input', { id: 'timezone', name: 'timezone', list: 'zones', maxlength: 64, value: s.timezone, autocomplete: 'off' });
  const form = h('form', { id: 'settings', class: 'settings', novalidate: true },
    h('fieldset', {}, h('legend', { text: t('settings.display') }),
      check('only-active', t('settings.only_active'), s.display.only_active),
      check('reset-midnight', t('settings.reset_midnight'), s.display.reset_at_midnight),
      h('button', { type: 'button', id: 'reset-now', class: 'danger', onclick: () => dialog.showModal() }, t('settings.reset_now'))),
    h('fieldset', {}, h('legend', { text: t('settings.queues') }),
      field('sl-s', t('settings.sl_s'), h('input', { id: 'sl-s', type: 'number', min: 1, max: 3600, value: s.service_level_s, 'aria-describedby': 'sl-s-error' })),
      field('sl-target', t('settings.sl_target'), h('input', { id: 'sl-target', type: 'number', min: 1, max: 100, value: s.service_level_target_pct, 'aria-describedby': 'sl-target-error' }))),
    h('fieldset', {}, h('legend', { text: t('settings.region') }),
      field('timezone', t('settings.timezone'), tz),
      h('datalist', { id: 'zones' }, zones().map((z) => h('option', { value: z }))),
      field('settings-language', t('settings.language'), h('select', { id: 'settings-language' },
        ['auto', 'fr', 'en'].map((l) => h('option', { value: l, selected: l === s.language }, t(`lang.${l}`)))))),
    popFieldset(pop),
    notificationsField(),
    status,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'settings-save' }, t('settings.save'))),
    dialog,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const el = (id) => document.getElementById(id);
    for (const x of form.querySelectorAll('.error')) x.textContent = '';
    const screenPop = readPop(form);
    if (!screenPop) return;
    const body = {
      display: { only_active: el('only-active').checked, reset_at_midnight: el('reset-midnight').checked },
      service_level_s: Number(el('sl-s').value),
      service_level_target_pct: Number(el('sl-target').value),
      timezone: tz.value.trim(),
      language: el('settings-language').value,
      screen_pop: screenPop,
    };
    try {
      const saved = await api('/api/settings', { method: 'PUT', body });
      applySettings(saved, true);
      window.dispatchEvent(new Event('ovh-cti:redraw'));
      document.getElementById('settings-status').textContent = t('settings.saved');
      document.getElementById('settings-save')?.focus();
    } catch (err) {
      const ids = { service_level_s: 'sl-s', service_level_target_pct: 'sl-target', timezone: 'timezone', ...POP_FIELDS };
      showError(err, ids, status);
    }
  });
  replace(root, h('h1', { text: t('settings.title') }), form, tokenSection());
  // A saved address that no longer passes is said at once.
  document.getElementById('pop-url')?.dispatchEvent(new Event('input'));
}
