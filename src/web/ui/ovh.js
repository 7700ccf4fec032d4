// OVH account (admins; docs/ovh-api.md): the organisation's access to OVH's REST API — its
// state, the form that connects an account (application key and secret, typed once and never
// shown again: the service asks OVH for a consumer key and shows OVH's validation link, then
// notices the validation by itself), the access rules it asks for and why, what discovery
// could not read, **Discover again**, the event token made (or rotated) through the API, and
// **Disconnect**. Keys set in the service's configuration are said to be changed there.

import { h, replace, fmtDateTime, confirmDialog } from './dom.js';
import { t } from './i18n.js';
import { api, loadHealth } from './live.js';
import { loadAgents } from './agents.js';

let polling = null;

function draw(root, s, said = '') {
  const status = h('p', { id: 'ovh-status', role: 'status', class: 'status-line', text: said });
  const act = (id, label, fn) => h('button', { type: 'button', id, onclick: async () => {
    status.textContent = t('ovh.working');
    try { status.textContent = await fn(); } catch (e) { status.textContent = t('agent.error', { msg: e.message }); }
  } }, label);
  const parts = [h('p', { id: 'ovh-state', 'data-state': s.state, text: t(`ovh.state_${s.state}`) })];
  if (s.application_key) parts.push(h('p', { text: t('ovh.app_key', { key: s.application_key }) }));
  if (s.validation_url) {
    parts.push(h('p', {}, t('ovh.validate'), ' ',
      h('a', { id: 'ovh-validation', href: s.validation_url, target: '_blank', rel: 'noopener noreferrer', text: t('ovh.validate_link') })),
    h('p', { class: 'hint', text: t('ovh.validate_hint') }));
  }
  if (s.last_error) parts.push(h('p', { class: 'error', role: 'alert', text: s.last_error }));
  if (s.discovered_at) parts.push(h('p', { class: 'muted', text: t('ovh.discovered', { at: fmtDateTime(s.discovered_at) }) }));
  if (s.expiration) parts.push(h('p', { class: 'muted', text: t('ovh.expires', { at: s.expiration }) }));
  for (const p of s.problems || []) parts.push(h('p', { class: 'note', text: p }));
  const form = h('form', { id: 'ovh-connect', class: 'settings' },
    h('fieldset', {}, h('legend', { text: t(s.state === 'off' ? 'ovh.connect' : 'ovh.reconnect') }),
      h('p', { class: 'hint', text: t('ovh.connect_hint') }),
      h('p', { class: 'field' }, h('label', { for: 'ovh-ak', text: t('ovh.ak') }), h('input', { id: 'ovh-ak', autocomplete: 'off', maxlength: 128, spellcheck: 'false' })),
      h('p', { class: 'field' }, h('label', { for: 'ovh-as', text: t('ovh.as') }), h('input', { id: 'ovh-as', type: 'password', autocomplete: 'off', maxlength: 128 })),
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'ovh-connect-submit' }, t('ovh.connect_button')))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = t('ovh.working');
    try {
      await api('/api/ovh', { method: 'POST', body: { application_key: document.getElementById('ovh-ak').value.trim(), application_secret: document.getElementById('ovh-as').value.trim() } });
      render(root, t('ovh.asked'));
    } catch (err) { status.textContent = t('agent.error', { msg: err.message }); }
  });
  const forget = confirmDialog('ovh-forget', t('ovh.forget_confirm'), t('ovh.forget'), async () => {
    try { await api('/api/ovh', { method: 'DELETE' }); render(root, t('ovh.forgotten')); } catch (e) { status.textContent = t('agent.error', { msg: e.message }); }
  });
  const connected = s.state === 'connected' || s.state === 'failing';
  replace(root, h('h1', { text: t('ovh.title') }), ...parts, status,
    connected ? h('div', { class: 'actions' },
      act('ovh-refresh', t('ovh.refresh'), async () => { await api('/api/ovh/refresh', { method: 'POST' }); return t('ovh.refreshing'); }),
      act('ovh-token', t('ovh.token'), async () => { const r = await api('/api/ovh/event-token', { method: 'POST', body: {} }); loadHealth(); return t('ovh.token_done', { n: r.tokens.length }); }),
      act('ovh-rotate', t('ovh.rotate'), async () => { const r = await api('/api/ovh/event-token', { method: 'POST', body: { rotate: true } }); loadHealth(); return t('ovh.rotate_done', { n: r.tokens.length }); })) : null,
    s.source === 'config' ? h('p', { class: 'note', text: t('ovh.configured') }) : form,
    h('details', {}, h('summary', { text: t('ovh.rules') }), h('ul', {}, (s.rules || []).map((r) => h('li', { text: `${r.method} ${r.path}` }))), h('p', { class: 'hint', text: t('ovh.rules_why') })),
    s.state !== 'off' && s.source !== 'config' ? h('button', { type: 'button', id: 'ovh-forget', class: 'danger', onclick: () => forget.showModal() }, t('ovh.forget')) : null,
    forget);
  // While the key waits for validation, look again every few seconds.
  clearTimeout(polling);
  if (s.state === 'pending' || s.state === 'discovering') {
    polling = setTimeout(() => { if (document.getElementById('ovh-state')) render(root, status.textContent); }, 3000);
  } else {
    loadAgents();
  }
}

export function render(root, said = '') {
  api('/api/ovh').then((s) => draw(root, s, said)).catch((e) => replace(root, h('p', { class: 'error', text: e.message })));
}
