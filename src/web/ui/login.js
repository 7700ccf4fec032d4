// The login page: a user account (login and password, docs/users.md), or the OVH token. The
// token is typed like a password, trimmed, checked against the token format before it is
// sent, and never shown again. A token the service does not follow yet is
// checked with OVH first (a few seconds: the page says so). The service answers 400 (not a
// token), 401 (refused: by this service, or by OVH), 429 (too many tries), 502 (OVH cannot be
// reached), 503 (busy); the `reason` of the answer picks the plain message shown.

import { h, replace } from './dom.js';
import { t, setLanguage, languageChoice } from './i18n.js';
import { api } from './live.js';

const TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function render(root, onSignedIn) {
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' });
  const status = h('p', { id: 'login-status', class: 'hint', role: 'status' });
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
  // The language, chosen before signing in (the header with its own choice is not shown yet).
  const language = h('select', { id: 'login-language' },
    ['auto', 'fr', 'en'].map((l) => h('option', { value: l, selected: l === languageChoice() }, t(`lang.${l}`))));
  language.addEventListener('change', () => {
    const typed = input.value;
    setLanguage(language.value);
    window.dispatchEvent(new Event('ovh-cti:redraw'));
    const again = document.getElementById('token');
    if (again) again.value = typed;
    document.getElementById('login-language')?.focus();
  });
  const form = h('form', { id: 'login', class: 'login', novalidate: true },
    h('h2', { text: t('login.with_token') }),
    h('p', { text: t('login.intro') }),
    h('label', { for: 'token', text: t('login.token') }),
    input,
    h('p', { id: 'token-format', class: 'hint', text: t('login.format') }),
    h('label', { class: 'check' }, remember, ` ${t('login.remember')}`),
    error,
    status,
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
    status.textContent = t('login.checking');
    try {
      await api('/api/login', { method: 'POST', body: { token, remember: remember.checked } });
      input.value = '';
      await onSignedIn();
    } catch (err) {
      const byReason = {
        ovh_refused: 'login.ovh_refused', ovh_unreachable: 'login.ovh_unreachable', not_followed: 'login.refused',
        too_many_tokens: 'login.too_many_tokens', token_login_off: 'login.token_login_off', rate_limited: 'login.rate', checks_busy: 'login.checks_busy', busy: 'login.busy',
      };
      if (byReason[err.reason]) fail(t(byReason[err.reason]));
      else if (err.status === 400) fail(t('login.bad_format'));
      else if (err.status === 401) fail(t('login.refused'));
      else if (err.status === 429) fail(t('login.rate'));
      else if (!err.status) fail(t('login.network'));
      else fail(t('login.failed', { status: err.status }));
    } finally {
      submit.disabled = false;
      status.textContent = '';
    }
  });
  replace(root, accountForm(onSignedIn, language), form);
  document.getElementById('account-login').focus();
}

/// Signing in with a user account. One message for a wrong login or password: the service
/// does not say which, and neither does the page.
function accountForm(onSignedIn, language) {
  const error = h('p', { id: 'account-error', class: 'error', role: 'alert' });
  const login = h('input', { id: 'account-login', name: 'username', autocomplete: 'username', required: true, maxlength: 64, spellcheck: 'false', autocapitalize: 'off' });
  const password = h('input', { id: 'account-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const remember = h('input', { id: 'account-remember', type: 'checkbox' });
  // Shown when the account has a second factor: the service asks for it after the password.
  const code = h('input', { id: 'account-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, pattern: '[0-9]{6}' });
  const codeField = h('div', { id: 'account-code-field', hidden: true }, h('label', { for: 'account-code', text: t('login.code') }), code);
  const submit = h('button', { type: 'submit', id: 'account-submit' }, t('login.submit'));
  const form = h('form', { id: 'account', class: 'login', novalidate: true },
    h('div', { class: 'login-lang' }, h('label', { for: 'login-language', text: `${t('language')} ` }), language),
    h('h1', { text: t('login.title') }),
    h('h2', { text: t('login.with_account') }),
    h('label', { for: 'account-login', text: t('login.login') }), login,
    h('label', { for: 'account-password', text: t('login.password') }), password,
    codeField,
    h('label', { class: 'check' }, remember, ` ${t('login.remember')}`),
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!login.value.trim() || !password.value) {
      error.textContent = t('login.account_empty');
      return;
    }
    submit.disabled = true;
    error.textContent = '';
    try {
      const body = { login: login.value.trim(), password: password.value, remember: remember.checked };
      if (!codeField.hidden) body.code = code.value.trim();
      await api('/api/login', { method: 'POST', body });
      password.value = '';
      await onSignedIn();
    } catch (err) {
      if (err.reason === 'totp_required') {
        codeField.hidden = false;
        error.textContent = t('login.code_needed');
        code.focus();
        return;
      }
      const byReason = { bad_credentials: 'login.bad_credentials', no_token: 'login.no_token', rate_limited: 'login.rate' };
      error.textContent = byReason[err.reason] ? t(byReason[err.reason])
        : !err.status ? t('login.network') : t('login.failed', { status: err.status });
      if (codeField.hidden) password.focus(); else code.focus();
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
