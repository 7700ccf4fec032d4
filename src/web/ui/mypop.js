// My screen pop (agents, supervisors and admins signed in with an account; docs/users.md):
// a user chooses their own screen pop — a dialog or a new window, their CRM's address, which
// events, directions and lines — in place of the organisation's, or turns pops off for
// themselves; one button goes back to the organisation's. Only their own dashboards get
// these pops, and an agent's only for their own lines and queues (the server filters). The
// form is the Settings one without the silent mode, which stays the organisation's. Desktop
// notifications are this browser's choice, as on the Settings page.

import { h, replace } from './dom.js';
import { t } from './i18n.js';
import { api } from './live.js';
import { popFieldset, readPop, notificationsField, showError, POP_FIELDS } from './settings.js';

/// A new choice starts from these (the server's defaults, off).
const START = { enabled: false, mode: 'modal', url: '', events: ['start_ringing', 'member-queue-start'], directions: ['incoming'], numbers: null };

function draw(root, answer, said = '') {
  const status = h('p', { id: 'my-pop-status', role: 'status', class: 'status-line', text: said });
  const form = h('form', { id: 'my-pop', class: 'settings', novalidate: true },
    popFieldset(answer.screen_pop || START, ['modal', 'popup'], t('mypop.form')),
    status,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', id: 'my-pop-save' }, t('settings.save')),
      answer.own ? h('button', { type: 'button', id: 'my-pop-follow', onclick: () => follow(root, status) }, t('mypop.follow')) : null));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const x of form.querySelectorAll('.error')) x.textContent = '';
    const body = readPop(form);
    if (!body) return;
    try {
      draw(root, await api('/api/me/screen-pop', { method: 'PUT', body }), t('mypop.saved'));
      document.getElementById('my-pop-save')?.focus();
    } catch (err) {
      showError(err, POP_FIELDS, status);
    }
  });
  replace(root, h('h1', { text: t('mypop.title') }),
    h('p', { id: 'my-pop-state', class: answer.own ? 'own' : 'org', text: answer.own ? t('mypop.own') : t('mypop.org') }),
    h('p', { class: 'hint', text: t('mypop.intro') }),
    form, notificationsField());
}

async function follow(root, status) {
  try {
    draw(root, await api('/api/me/screen-pop', { method: 'DELETE' }), t('mypop.followed'));
  } catch (err) {
    status.textContent = t('settings.error', { msg: err.message });
  }
}

export function render(root) {
  replace(root, h('p', { class: 'muted', text: t('loading') }));
  api('/api/me/screen-pop').then((answer) => draw(root, answer)).catch((e) => replace(root, h('p', { class: 'error', text: e.message })));
}
