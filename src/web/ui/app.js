// The dashboard's entry point: signs in (or shows the login page), draws the header with the
// feed-health indicator, routes between the views by path (so each view can be bookmarked and
// survives a reload), and redraws the live views when the stream changes the state.

import { h, replace, updateTick, updateAge, updateClock, fmtDateTime } from './dom.js';
import { t, initLanguage, setLanguage, languageChoice } from './i18n.js';
import { live, api, connect, disconnect, onChange, onPop, loadHealth, applySettings } from './live.js';
import { handlePop, clearPops } from './pop.js';
import { feedState } from './health.js';
import * as login from './login.js';
import * as overview from './overview.js';
import * as queues from './queues.js';
import * as history from './history.js';
import * as reports from './reports.js';
import * as settings from './settings.js';
import * as help from './help.js';
import * as webhooks from './webhooks.js';
import * as people from './people.js';
import * as mypop from './mypop.js';
import * as ovh from './ovh.js';
import { loadAgents } from './agents.js';

/// Views in menu order; `live` views are redrawn whenever the state changes; a `kiosk` view
/// (the wall screen) fills the screen with no header and no menu; `admin` views are for
/// admins only (the server refuses the others anyway: the menu just does not offer them); an
/// `own` view is for a user signed in with an account, agent or above (their own screen pop).
const VIEWS = [
  { path: '/overview', key: 'nav.overview', view: overview, live: true },
  { path: '/queues', key: 'nav.queues', view: queues, live: true },
  { path: '/wall', key: 'nav.wallboard', view: { render: queues.renderWallboard }, live: true, kiosk: true },
  { path: '/history', key: 'nav.history', view: history },
  { path: '/reports', key: 'nav.reports', view: reports },
  { path: '/settings', key: 'nav.settings', view: settings, admin: true },
  { path: '/webhooks', key: 'nav.webhooks', view: webhooks, admin: true },
  { path: '/people', key: 'nav.people', view: people, admin: true },
  { path: '/my-screen-pop', key: 'nav.mypop', view: mypop, own: true },
  { path: '/ovh', key: 'nav.ovh', view: ovh, admin: true },
  { path: '/help', key: 'nav.help', view: help },
];

const main = document.getElementById('main');
const top = document.getElementById('top');
let signedIn = false;
let healthEl = null;
let bannerEl = null;

/// Older addresses still open their view.
const MOVED = { '/wallboard': '/wall' };

/// The views the signed-in caller's role may use.
function views() {
  const me = live.me;
  const ownOk = me && me.user && me.role !== 'viewer';
  return VIEWS.filter((v) => (!v.admin || !me || me.role === 'admin') && (!v.own || ownOk));
}

function currentView() {
  if (MOVED[location.pathname]) history_.replaceState(null, '', MOVED[location.pathname]);
  return views().find((v) => v.path === location.pathname) || null;
}

export function navigate(path, replaceState = false) {
  if (`${location.pathname}${location.search}` !== path) {
    if (replaceState) history_.replaceState(null, '', path);
    else history_.pushState(null, '', path);
  }
  render();
}
const history_ = window.history;

function render() {
  if (!signedIn) {
    if (location.pathname === '/help') {
      drawHeader();
      help.render(main);
      return;
    }
    top.hidden = true;
    if (location.pathname !== '/login') history_.replaceState(null, '', '/login');
    document.title = `${t('login.title')} — ${t('app.name')}`;
    login.render(main, signIn);
    return;
  }
  let v = currentView();
  // A screen signed in by a wall link shows the wall, and nothing else.
  if (live.me?.wall && !v?.kiosk) {
    history_.replaceState(null, '', '/wall');
    v = currentView();
  }
  if (!v) {
    history_.replaceState(null, '', '/overview');
    v = VIEWS[0];
  }
  document.body.classList.toggle('wall', !!v.kiosk);
  document.title = `${t(v.key)} — ${t('app.name')}`;
  if (v.kiosk) {
    top.hidden = true;
    healthEl = null;
    bannerEl = null;
  } else drawHeader();
  v.view.render(main);
}

/// Redraws the current live view, keeping the keyboard focus where it was.
function redrawLive() {
  updateHealth();
  const v = signedIn && currentView();
  if (!v || !v.live) return;
  const focused = document.activeElement && document.activeElement.id;
  v.view.render(main);
  if (focused) document.getElementById(focused)?.focus();
}

function drawHeader() {
  top.hidden = false;
  const current = location.pathname;
  const nav = h('nav', { 'aria-label': t('nav.main') },
    h('ul', {}, views().filter((v) => signedIn || v.path === '/help').map((v, i) => h('li', {},
      h('a', {
        href: v.path,
        'aria-current': v.path === current ? 'page' : null,
        'data-nav': '',
        title: signedIn ? `${t(v.key)} (${i + 1})` : null,
      }, t(v.key))))),
  );
  const langSelect = h('select', { id: 'language', 'aria-label': t('language') },
    ['auto', 'fr', 'en'].map((l) => h('option', { value: l, selected: l === languageChoice() }, t(`lang.${l}`))));
  langSelect.addEventListener('change', async () => {
    setLanguage(langSelect.value);
    if (signedIn) {
      try { live.settings = await api('/api/settings', { method: 'PUT', body: { language: langSelect.value } }); } catch { /* kept locally */ }
    }
    render();
    document.getElementById('language')?.focus();
  });
  healthEl = h('p', { id: 'feed-health', class: 'health', role: 'status', 'aria-live': 'polite', title: t('health.title') });
  bannerEl = h('div', { id: 'token-banner', class: 'banner', role: 'alert', hidden: true });
  const account = signedIn && live.me
    ? h('span', { class: 'account', id: 'account' }, live.me.user
      ? t('account.user', { login: live.me.user.login, role: t(`role.${live.me.user.role}`) })
      : t('account', { hint: live.me.token_hint || '…' }))
    : null;
  const logout = signedIn ? h('button', { type: 'button', id: 'logout', onclick: signOut }, t('logout')) : null;
  replace(top,
    h('div', { class: 'brand' }, h('a', { href: signedIn ? '/overview' : '/login', 'data-nav': '' }, t('app.name'))),
    nav,
    h('div', { class: 'tools' }, signedIn ? healthEl : null, account, tokenChoice(), h('label', { class: 'lang' }, langSelect), logout),
    signedIn ? bannerEl : null,
  );
  updateHealth();
}

/// The header's indicator of the feed's state (see health.js).
function updateHealth() {
  if (!healthEl) return;
  const f = feedState(live);
  healthEl.className = `health health-${f.state}`;
  healthEl.dataset.state = f.state;
  healthEl.title = `${t('health.title')}${f.detail ? ` — ${f.detail}` : ''}`;
  replace(healthEl, h('span', { 'aria-hidden': 'true', text: `${f.symbol} ` }), f.text);
  updateBanner(live.health);
}

/// A token OVH refuses (expired, deleted, mistyped) or has paused: said in a banner on every
/// page, with what to do — not only in the indicator's tooltip.
function updateBanner(hl) {
  if (!bannerEl) return;
  let text = null;
  if (hl && hl.state === 'paused') text = t('banner.paused', { reason: hl.paused_reason || '' });
  else if (hl && hl.refused_since) text = t('banner.refused', { since: fmtDateTime(hl.refused_since), error: hl.last_error || '' });
  bannerEl.hidden = !text;
  if (text) replace(bannerEl, h('span', { text }), ' ', h('a', { href: '/settings#token-section', 'data-nav': '' }, t('banner.change')));
}

/// For a user whose organisation has several OVH tokens (billing accounts): which one to show.
/// The live state is per token, so the page starts again on the other one.
function tokenChoice() {
  const tokens = (signedIn && live.me?.tokens) || [];
  if (tokens.length < 2) return null;
  const select = h('select', { id: 'token-choice', 'aria-label': t('account.token_choice') },
    tokens.map((tk) => h('option', { value: tk.id, selected: tk.id === live.me.token_id }, tk.hint || tk.id.slice(0, 8))));
  select.addEventListener('change', async () => {
    try {
      await api('/api/me/token', { method: 'PUT', body: { id: select.value } });
      location.reload();
    } catch { select.value = live.me.token_id; }
  });
  return h('label', { class: 'lang' }, select);
}

async function signIn() {
  let me;
  try {
    me = await api('/api/me');
  } catch (e) {
    if (e.status === 401) {
      signedIn = false;
      render();
      return;
    }
    replace(main, h('p', { class: 'error', role: 'alert' }, t('error.generic', { msg: e.message })));
    return;
  }
  live.me = me;
  try { live.settings = await api('/api/settings'); } catch { live.settings = null; }
  if (live.settings) applySettings(live.settings);
  signedIn = true;
  connect(signedOut);
  loadHealth();
  loadAgents();
  if (me.wall) history_.replaceState(null, '', '/wall');
  else if (location.pathname === '/login' || location.pathname === '/') history_.replaceState(null, '', '/overview');
  render();
}

function signedOut() {
  disconnect();
  clearPops();
  signedIn = false;
  live.me = null;
  history_.replaceState(null, '', '/login');
  render();
}

async function signOut() {
  try { await api('/api/logout', { method: 'POST' }); } catch { /* the session is dropped here anyway */ }
  signedOut();
}

// The settings view saved a new language or time zone: draw everything again in it.
window.addEventListener('ovh-cti:redraw', render);
// The settings view made the service forget this token: its session is gone too.
window.addEventListener('ovh-cti:signed-out', signedOut);

document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[data-nav]');
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
  main.focus({ preventScroll: true });
});
window.addEventListener('popstate', render);

// Number keys 1–8 switch views, unless typing in a field; Escape leaves the wall screen.
document.addEventListener('keydown', (e) => {
  // A wall screen has no way out: it is the wall's only view.
  if (!signedIn || live.me?.wall || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === 'Escape' && currentView()?.kiosk && !document.fullscreenElement && !document.querySelector('dialog[open]')) {
    navigate('/overview');
    return;
  }
  const tag = (e.target.tagName || '').toLowerCase();
  if (['input', 'select', 'textarea', 'button'].includes(tag) || e.target.isContentEditable) return;
  const i = Number(e.key) - 1;
  if (Number.isInteger(i) && views()[i]) {
    navigate(views()[i].path);
    main.focus({ preventScroll: true });
  }
});

setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-since]')) updateTick(el, now);
  for (const el of document.querySelectorAll('[data-age]')) updateAge(el, now);
  for (const el of document.querySelectorAll('[data-clock]')) updateClock(el, now);
}, 1000);

onChange(redrawLive);
onPop(handlePop);
initLanguage();
document.querySelector('.skip').textContent = t('skip');
signIn();
