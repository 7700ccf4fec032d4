// The login page: the token is typed like a password, trimmed, checked against the token
// format before it is sent, and never shown again. The service answers 400 (not a token),
// 401 (refused), 429 (too many tries); each gets its own plain message.

import { h, replace } from './dom.js';
import { t } from './i18n.js';
import { api } from './live.js';

const TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function render(root, onSignedIn) {
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' });
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true,
    spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'token-format login-error',
  });
  const remember = h('input', { id: 'remember', name: 'remember', type: 'checkbox' });
  const submit = h('button', { type: 'submit', id: 'login-submit' }, t('login.submit'));
  const fail = (msg) => {
    error.textContent = msg;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  const form = h('form', { id: 'login', class: 'login', novalidate: true },
    h('h1', { text: t('login.title') }),
    h('p', { text: t('login.intro') }),
    h('label', { for: 'token', text: t('login.token') }),
    input,
    h('p', { id: 'token-format', class: 'hint', text: t('login.format') }),
    h('label', { class: 'check' }, remember, ` ${t('login.remember')}`),
    error,
    submit,
    h('p', {}, h('a', { href: '/help#token', 'data-nav': '' }, t('login.help'))),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) return fail(t('login.empty'));
    if (!TOKEN.test(token)) return fail(t('login.bad_format'));
    submit.disabled = true;
    error.textContent = '';
    try {
      await api('/api/login', { method: 'POST', body: { token, remember: remember.checked } });
      input.value = '';
      await onSignedIn();
    } catch (err) {
      if (err.status === 400) fail(t('login.bad_format'));
      else if (err.status === 401) fail(t('login.refused'));
      else if (err.status === 429) fail(t('login.rate'));
      else if (!err.status) fail(t('login.network'));
      else fail(t('login.failed', { status: err.status }));
    } finally {
      submit.disabled = false;
    }
  });
  replace(root, form);
  input.focus();
}
