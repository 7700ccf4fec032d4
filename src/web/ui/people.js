// People (admins only; docs/users.md): the organisation's users with their role, numbers and
// state — add one, disable or enable, set a password, delete —, their live sessions (end
// one), the wall-screen links (make one: its address is shown once; revoke), and the latest
// entries of the audit log with its CSV download. Every value from the API is set as text.

import { h, replace, time, table, row, confirmDialog } from './dom.js';
import { t } from './i18n.js';
import { api, live } from './live.js';

const ROLES = ['admin', 'supervisor', 'agent', 'viewer'];

/// A list typed with commas or spaces between numbers.
function numbers(text) {
  return text.split(/[,;\n]+/).map((n) => n.trim()).filter(Boolean);
}

function field(id, label, input) {
  return h('p', { class: 'field' }, h('label', { for: id, text: label }), ' ', input);
}

function userRows(users, status, reload) {
  return users.map((u) => {
    const act = (key, label, path, body) => h('button', {
      type: 'button', class: `user-${key}`, 'data-login': u.login,
      onclick: async () => {
        try {
          await api(path, { method: 'PUT', body });
          reload(t(key === 'disable' ? 'people.disabled_done' : 'people.enabled', { login: u.login }));
        } catch (e) { status.textContent = t('people.error', { msg: e.message }); }
      },
    }, label);
    const del = confirmDialog(`user-delete-${u.id}`, t('people.delete_confirm', { login: u.login }), t('people.delete'), async () => {
      try {
        await api(`/api/users/${u.id}`, { method: 'DELETE' });
        reload(t('people.deleted', { login: u.login }));
      } catch (e) { status.textContent = t('people.error', { msg: e.message }); }
    });
    const numbersText = [...u.lines, ...u.queues].join(', ') || '—';
    const change = changeDialog(u, status, reload);
    return row(
      h('span', { class: 'user-login', text: u.login }),
      h('span', { class: 'user-role', text: t(`role.${u.role}`) }),
      numbersText,
      u.disabled_at ? h('span', {}, t('people.disabled'), ' ', time(u.disabled_at)) : t('people.active'),
      h('span', { class: 'actions' },
        u.disabled_at
          ? act('enable', t('people.enable'), `/api/users/${u.id}`, { disabled: false })
          : act('disable', t('people.disable'), `/api/users/${u.id}`, { disabled: true }),
        ' ', h('button', { type: 'button', class: 'user-change', 'data-login': u.login, onclick: () => change.showModal() }, t('people.change')), change,
        ' ', h('button', { type: 'button', class: 'danger user-delete', 'data-login': u.login, onclick: () => del.showModal() }, t('people.delete')), del),
    );
  });
}

/// A dialog to change a user: role, an agent's lines and queues, and (if typed) a new
/// password. Their sessions end: they sign in again with what they may now see.
function changeDialog(u, status, reload) {
  const id = `change-${u.id}`;
  const role = h('select', { id: `${id}-role` }, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, t(`role.${r}`))));
  const lines = h('input', { id: `${id}-lines`, value: u.lines.join(', ') });
  const queues = h('input', { id: `${id}-queues`, value: u.queues.join(', ') });
  const password = h('input', { id: `${id}-password`, type: 'password', minlength: 10, maxlength: 1024, autocomplete: 'new-password' });
  const agentOnly = h('div', { hidden: u.role !== 'agent' },
    field(`${id}-lines`, t('people.lines'), lines), field(`${id}-queues`, t('people.queues'), queues));
  role.addEventListener('change', () => { agentOnly.hidden = role.value !== 'agent'; });
  const dialog = h('dialog', { id: `${id}-dialog`, 'aria-labelledby': `${id}-title` },
    h('form', { method: 'dialog' },
      h('h3', { id: `${id}-title`, text: t('people.change_title', { login: u.login }) }),
      field(`${id}-role`, t('people.role'), role), agentOnly,
      field(`${id}-password`, t('people.new_password'), password),
      h('div', { class: 'actions' },
        h('button', { value: 'cancel', id: `${id}-cancel` }, t('cancel')),
        h('button', { value: 'save', id: `${id}-save` }, t('people.save')))));
  dialog.addEventListener('close', async () => {
    if (dialog.returnValue !== 'save') return;
    dialog.returnValue = '';
    try {
      const body = { role: role.value };
      if (role.value === 'agent') { body.lines = numbers(lines.value); body.queues = numbers(queues.value); }
      await api(`/api/users/${u.id}`, { method: 'PUT', body });
      if (password.value) await api(`/api/users/${u.id}/password`, { method: 'PUT', body: { password: password.value } });
      reload(t('people.changed', { login: u.login }));
    } catch (e) { status.textContent = t('people.error', { msg: e.message }); }
  });
  return dialog;
}

function addUserForm(status, reload) {
  const login = h('input', { id: 'new-login', required: true, maxlength: 64, autocomplete: 'off' });
  const password = h('input', { id: 'new-password', type: 'password', required: true, minlength: 10, maxlength: 1024, autocomplete: 'new-password' });
  const role = h('select', { id: 'new-role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'viewer' }, t(`role.${r}`))));
  const lines = h('input', { id: 'new-lines', placeholder: '0033972101010' });
  const queues = h('input', { id: 'new-queues', placeholder: '0033972100100' });
  const agentOnly = h('div', { class: 'agent-only', hidden: true },
    field('new-lines', t('people.lines'), lines), field('new-queues', t('people.queues'), queues));
  role.addEventListener('change', () => { agentOnly.hidden = role.value !== 'agent'; });
  const form = h('form', { id: 'add-user', class: 'inline-form' },
    h('h3', { text: t('people.add') }),
    field('new-login', t('people.login'), login),
    field('new-password', t('people.password'), password),
    field('new-role', t('people.role'), role),
    agentOnly,
    h('button', { type: 'submit', id: 'add-user-submit' }, t('people.add_submit')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { login: login.value.trim(), password: password.value, role: role.value };
    if (role.value === 'agent') {
      body.lines = numbers(lines.value);
      body.queues = numbers(queues.value);
    }
    try {
      await api('/api/users', { method: 'POST', body });
      form.reset();
      agentOnly.hidden = true;
      reload(t('people.added', { login: body.login }));
    } catch (err) {
      status.textContent = t('people.error', { msg: err.message });
    }
  });
  return form;
}

function sessionRows(sessions, status, reload) {
  return sessions.map((s) => row(
    s.user, time(s.created_at), time(s.expires_at),
    h('button', {
      type: 'button', class: 'session-end', 'data-user': s.user,
      onclick: async () => {
        try {
          await api(`/api/sessions/${s.id}`, { method: 'DELETE' });
          reload(t('people.session_ended', { login: s.user }));
        } catch (e) { status.textContent = t('people.error', { msg: e.message }); }
      },
    }, t('people.end_session')),
  ));
}

function wallSection(links, status, reload) {
  const label = h('input', { id: 'wall-label', required: true, maxlength: 100, placeholder: t('people.wall_label_hint') });
  const allow = h('input', { id: 'wall-allow', placeholder: '192.168.1.0/24' });
  const made = h('p', { id: 'wall-made', role: 'status' });
  const form = h('form', { id: 'add-wall', class: 'inline-form' },
    field('wall-label', t('people.wall_label'), label),
    field('wall-allow', t('people.wall_allow'), allow),
    h('button', { type: 'submit', id: 'add-wall-submit' }, t('people.wall_add')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const body = { label: label.value.trim() };
      if (allow.value.trim()) body.allow = allow.value.trim();
      const link = await api('/api/wall-links', { method: 'POST', body });
      const address = `${location.origin}${link.path}`;
      // Shown once: the service keeps only a digest of it.
      replace(made, t('people.wall_once'), ' ', h('code', { id: 'wall-address', text: address }));
      form.reset();
      reload(made);
    } catch (err) { status.textContent = t('people.error', { msg: err.message }); }
  });
  const rows = links.map((l) => row(
    h('span', { class: 'wall-label', text: l.label }), l.allow || '—', time(l.created_at), l.last_used_at ? time(l.last_used_at) : '—',
    h('button', {
      type: 'button', class: 'wall-revoke', 'data-label': l.label,
      onclick: async () => {
        try {
          await api(`/api/wall-links/${l.id}`, { method: 'DELETE' });
          reload(t('people.wall_revoked', { label: l.label }));
        } catch (err) { status.textContent = t('people.error', { msg: err.message }); }
      },
    }, t('people.wall_revoke')),
  ));
  return h('section', { id: 'walls', 'aria-labelledby': 'walls-title' },
    h('h2', { id: 'walls-title', text: t('people.walls') }),
    h('p', { class: 'hint', text: t('people.walls_intro') }),
    table(null, [t('people.wall_label'), t('people.wall_allow'), t('people.created'), t('people.last_used'), ''], rows, t('people.no_walls')),
    form, made);
}

/// The organisation: its name, and whether its OVH token may still sign in.
function orgSection(org, status, reload) {
  const name = h('input', { id: 'org-name', value: org.name, maxlength: 100, required: true });
  const tokenLogin = h('input', { id: 'org-token-login', type: 'checkbox', checked: org.token_login });
  const form = h('form', { id: 'org', class: 'inline-form' },
    field('org-name', t('people.org_name'), name),
    h('p', {}, h('label', { class: 'check' }, tokenLogin, ` ${t('people.token_login')}`)),
    h('p', { class: 'hint', text: t('people.token_login_hint') }),
    h('button', { type: 'submit', id: 'org-submit' }, t('people.save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/org', { method: 'PUT', body: { name: name.value.trim(), token_login: tokenLogin.checked } });
      reload(t('people.saved'));
    } catch (err) { status.textContent = t('people.error', { msg: err.message }); }
  });
  // Another billing account's token joins the organisation (checked with OVH first).
  const token = h('input', { id: 'attach-token', type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const attach = h('form', { id: 'attach', class: 'inline-form' },
    field('attach-token', t('people.attach_token'), token),
    h('button', { type: 'submit', id: 'attach-submit' }, t('people.attach')));
  attach.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/org/tokens', { method: 'POST', body: { token: token.value.trim() } });
      token.value = '';
      reload(t('people.attached'));
    } catch (err) { status.textContent = t('people.error', { msg: err.message }); }
  });
  const hints = (org.tokens || []).map((tk) => tk.hint || tk.id.slice(0, 8)).join(', ') || '—';
  return h('section', { id: 'organisation', 'aria-labelledby': 'org-title' }, h('h2', { id: 'org-title', text: t('people.org') }),
    form, h('p', { id: 'org-tokens' }, `${t('people.tokens')} `, hints), attach);
}

/// The signed-in admin's own second factor: set up (the secret for an authenticator app, then a
/// first code), or turned off with a current code.
function ownSection(me, status, reload) {
  if (!me?.user) return null;
  const code = h('input', { id: 'totp-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6 });
  const shown = h('div', { id: 'totp-setup' });
  const act = async (method, then) => {
    try {
      await api('/api/me/totp', { method, body: { code: code.value.trim() } });
      reload(t(then));
    } catch (err) { status.textContent = t('people.error', { msg: err.message }); }
  };
  const begin = h('button', {
    type: 'button', id: 'totp-begin',
    onclick: async () => {
      try {
        const s = await api('/api/me/totp', { method: 'POST' });
        replace(shown, h('p', { text: t('people.totp_scan') }), h('p', {}, h('code', { id: 'totp-secret', text: s.secret })),
          h('p', {}, h('code', { id: 'totp-url', text: s.url })),
          field('totp-code', t('people.totp_code'), code),
          h('button', { type: 'button', id: 'totp-confirm', onclick: () => act('PUT', 'people.totp_on') }, t('people.totp_confirm')));
      } catch (err) { status.textContent = t('people.error', { msg: err.message }); }
    },
  }, t('people.totp_begin'));
  const off = h('div', {}, field('totp-code', t('people.totp_code'), code),
    h('button', { type: 'button', id: 'totp-off', onclick: () => act('DELETE', 'people.totp_off') }, t('people.totp_turn_off')));
  // One's own password: the current one proves it is you; your other sessions end.
  const current = h('input', { id: 'own-current', type: 'password', autocomplete: 'current-password' });
  const fresh = h('input', { id: 'own-new', type: 'password', minlength: 10, maxlength: 1024, autocomplete: 'new-password' });
  const pw = h('form', { id: 'own-password', class: 'inline-form' },
    field('own-current', t('people.current_password'), current),
    field('own-new', t('people.new_password'), fresh),
    h('button', { type: 'submit', id: 'own-password-submit' }, t('people.change_password')));
  pw.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('/api/me/password', { method: 'PUT', body: { current: current.value, password: fresh.value } });
      reload(t('people.password_changed'));
    } catch (err) { status.textContent = t('people.error', { msg: err.message }); }
  });
  return h('section', { id: 'own', 'aria-labelledby': 'own-title' },
    h('h2', { id: 'own-title', text: t('people.own', { login: me.user.login }) }),
    pw,
    h('p', { text: me.totp ? t('people.totp_is_on') : t('people.totp_is_off') }),
    me.totp ? off : h('div', {}, begin, shown));
}

/// `kept`: what the page said before it was drawn again (a message, or the wall link just made).
export async function render(root, kept = null) {
  const status = h('p', { id: 'people-status', role: 'status', text: typeof kept === 'string' ? kept : '' });
  const reload = (keep) => render(root, keep);
  let users; let sessions; let links; let audit; let org;
  try {
    [users, sessions, links, audit, org] = await Promise.all([
      api('/api/users'), api('/api/sessions'), api('/api/wall-links'), api('/api/audit?limit=50'), api('/api/org'),
    ]);
    org.tokens = (await api('/api/org/tokens')).tokens;
    // Whether the signed-in admin's own account asks for a code.
    const mine = live.me?.user && users.users.find((u) => u.login === live.me.user.login);
    if (mine) live.me.totp = mine.totp;
  } catch (e) {
    replace(root, h('h1', { text: t('people.title') }), h('p', { class: 'error', role: 'alert', text: t('people.error', { msg: e.message }) }));
    return;
  }
  const walls = wallSection(links.links, status, reload);
  if (kept instanceof Node) walls.querySelector('#wall-made')?.replaceWith(kept);
  replace(root,
    h('h1', { text: t('people.title') }),
    status,
    h('section', { id: 'users', 'aria-labelledby': 'users-title' },
      h('h2', { id: 'users-title', text: t('people.users') }),
      table(null, [t('people.login'), t('people.role'), t('people.numbers'), t('people.state'), ''], userRows(users.users, status, reload), t('people.no_users')),
      addUserForm(status, reload)),
    h('section', { id: 'sessions', 'aria-labelledby': 'sessions-title' },
      h('h2', { id: 'sessions-title', text: t('people.sessions') }),
      table(null, [t('people.login'), t('people.since'), t('people.until'), ''], sessionRows(sessions.sessions, status, reload), t('people.no_sessions'))),
    walls,
    orgSection(org, status, reload),
    ownSection(live.me, status, reload),
    h('section', { id: 'audit', 'aria-labelledby': 'audit-title' },
      h('h2', { id: 'audit-title', text: t('people.audit') }),
      h('p', {}, h('a', { href: '/api/audit.csv?all=1', download: 'audit.csv', id: 'audit-csv' }, t('people.audit_csv'))),
      table(null, [t('people.when'), t('people.who'), t('people.what'), t('people.detail')],
        audit.entries.map((e) => row(time(e.at), e.actor, h('code', { text: e.action }), e.detail)), t('people.no_audit'))),
  );
}
