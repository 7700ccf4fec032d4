// Webhooks and the delivery log (docs/webhooks.md). The endpoints of this token with their
// state (enabled, or disabled and why), a form to add one — its secret is shown once, right
// after creation, with a copy button —, delete (after confirmation), "send test event" and
// re-enable. Below, every delivery attempt, screen pops' and webhooks', newest first, paged
// with the API's `next` cursor. URLs and texts from the API are set as text only.

import { h, replace, time, table, row, confirmDialog } from './dom.js';
import { t, tValue, eventLabel } from './i18n.js';
import { api } from './live.js';

export const WEBHOOK_EVENTS = ['registered', 'start_ringing', 'end_ringing', 'start_calling', 'end_calling', 'member-queue-start',
  'agent-offering', 'bridge-agent-start', 'bridge-agent-fail', 'bridge-agent-end', 'member-queue-end', 'members-count'];
const PAGE = 50;
const log = { kind: '', endpoint: '' };

function state(ep) {
  if (ep.state === 'enabled') {
    return h('span', { class: 'hook-state hook-enabled' }, h('span', { 'aria-hidden': 'true', text: '✔ ' }), t('hooks.enabled'),
      ep.failing_since ? h('small', {}, ' — ', t('hooks.failing_since'), ' ', time(ep.failing_since)) : null);
  }
  return h('span', { class: 'hook-state hook-disabled' }, h('span', { 'aria-hidden': 'true', text: '✕ ' }), t('hooks.disabled'),
    ep.disabled_reason ? h('small', { class: 'reason', text: ` — ${ep.disabled_reason}` }) : null,
    ep.disabled_at ? h('small', {}, ' (', time(ep.disabled_at), ')') : null);
}

function endpointRows(list, status, reload) {
  return list.map((ep) => {
    const del = confirmDialog(`delete-${ep.id}`, t('hooks.delete_confirm', { url: ep.url }), t('hooks.delete'), async () => {
      try {
        await api(`/api/webhooks/${ep.id}`, { method: 'DELETE' });
        status.textContent = t('hooks.deleted');
        reload();
      } catch (e) {
        status.textContent = t('hooks.error', { msg: e.message });
      }
    });
    const act = (key, path, done) => h('button', {
      type: 'button', class: `hook-${key}`, 'data-id': ep.id,
      onclick: async () => {
        try {
          done(await api(`/api/webhooks/${ep.id}/${path}`, { method: 'POST' }));
        } catch (e) {
          status.textContent = t('hooks.error', { msg: e.message });
        }
      },
    }, t(`hooks.${key}`));
    const r = row(
      h('span', { class: 'url', text: ep.url }),
      h('span', { class: 'desc', text: ep.description || '' }),
      h('span', { text: ep.events.includes('*') ? t('hooks.all_events') : ep.events.join(', ') }),
      state(ep),
      time(ep.last_success_at),
      h('div', { class: 'actions' },
        act('test', 'test', (res) => {
          status.textContent = t('hooks.test_queued', { id: res.webhook_id });
          watchFor(res.webhook_id, reload);
        }),
        ep.state === 'disabled' ? act('enable', 'enable', () => { status.textContent = t('hooks.enabled_again'); reload(); }) : null,
        h('button', { type: 'button', class: 'danger hook-delete', 'data-id': ep.id, onclick: () => del.showModal() }, t('hooks.delete')),
        del));
    r.dataset.id = ep.id;
    return r;
  });
}

/// The form to add an endpoint; `created` gets the answer, secret included.
function createForm(created) {
  const error = h('p', { class: 'error', id: 'hook-error', role: 'alert' });
  const list = h('fieldset', { class: 'inline', id: 'hook-events-list', disabled: true },
    h('legend', { class: 'sr', text: t('hooks.events_chosen') }),
    WEBHOOK_EVENTS.map((e) => h('div', { class: 'check' },
      h('input', { type: 'checkbox', id: `hev-${e}`, value: e }), h('label', { for: `hev-${e}`, text: ` ${eventLabel(e)}` }))));
  const radio = (value, label) => h('div', { class: 'check' },
    h('input', { type: 'radio', name: 'hook-events', id: `hook-events-${value}`, value, checked: value === 'all', onchange: () => { list.disabled = value === 'all'; } }),
    h('label', { for: `hook-events-${value}`, text: ` ${label}` }));
  const form = h('form', { id: 'hook-form', class: 'settings', novalidate: true },
    h('fieldset', {}, h('legend', { text: t('hooks.add') }),
      h('div', { class: 'field' }, h('label', { for: 'hook-url', text: t('hooks.url') }),
        h('input', { id: 'hook-url', type: 'url', required: true, maxlength: 2048, size: 60, spellcheck: 'false', placeholder: 'https://crm.example/hooks/ovh', 'aria-describedby': 'hook-url-hint hook-error' }),
        h('p', { class: 'hint', id: 'hook-url-hint', text: t('hooks.url_hint') })),
      h('div', { class: 'field' }, h('label', { for: 'hook-description', text: t('hooks.description') }),
        h('input', { id: 'hook-description', type: 'text', maxlength: 200, size: 40 })),
      h('fieldset', { class: 'inline' }, h('legend', { text: t('hooks.events') }), radio('all', t('hooks.all_events')), radio('some', t('hooks.events_chosen'))),
      list,
      error,
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'hook-create' }, t('hooks.create')))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const all = document.getElementById('hook-events-all').checked;
    const body = {
      url: document.getElementById('hook-url').value.trim(),
      description: document.getElementById('hook-description').value.trim(),
      events: all ? ['*'] : WEBHOOK_EVENTS.filter((x) => document.getElementById(`hev-${x}`).checked),
    };
    try {
      const ep = await api('/api/webhooks', { method: 'POST', body });
      form.reset();
      list.disabled = true;
      created(ep);
    } catch (err) {
      error.textContent = t('hooks.error', { msg: err.message });
      document.getElementById(err.field === 'events' ? 'hook-events-some' : 'hook-url')?.focus();
    }
  });
  return form;
}

/// The secret, shown this once, with a copy button.
function secretPanel(ep) {
  const status = h('span', { role: 'status', class: 'muted', id: 'secret-copied' });
  const code = h('code', { id: 'webhook-secret', text: ep.secret });
  const copy = h('button', {
    type: 'button', id: 'secret-copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(ep.secret);
        status.textContent = t('hooks.copied');
      } catch {
        // No clipboard (plain http, or refused): select it for Ctrl+C.
        getSelection().selectAllChildren(code);
        status.textContent = t('hooks.copy_manually');
      }
    },
  }, t('hooks.copy'));
  return h('div', { class: 'secret-once note', id: 'secret-once', role: 'alert' },
    h('p', {}, h('strong', { text: t('hooks.secret_title', { url: ep.url }) })),
    h('p', { text: t('hooks.secret_warning') }),
    h('p', {}, code, ' ', copy, ' ', status),
    h('button', { type: 'button', id: 'secret-done', onclick: (e) => e.target.closest('.secret-once').remove() }, t('hooks.secret_done')));
}

function outcome(d) {
  const mark = { delivered: '✔', retry: '↻', failed: '✕', gave_up: '✕' }[d.outcome] || '?';
  return h('span', { class: `outcome delivery-${d.outcome}` }, h('span', { 'aria-hidden': 'true', text: `${mark} ` }), t(`delivery.${d.outcome}`));
}

function deliveryRows(items) {
  return items.map((d) => {
    const r = row(
      time(d.at), t(`kind.${d.kind}`), h('span', { title: d.event, text: tValue('event', d.event) }), h('span', { class: 'url', text: d.url }),
      d.status === null || d.status === undefined ? '—' : String(d.status),
      d.latency_ms === null || d.latency_ms === undefined ? '—' : `${Math.round(d.latency_ms)} ms`,
      h('span', { class: 'desc', text: d.error || '' }), String(d.attempt), outcome(d));
    r.dataset.webhookId = d.webhook_id;
    return r;
  });
}

let reloadLog = () => {};
let watching = null;

/// After a test: reloads the log until the test's delivery shows (it is made in the
/// background, usually within a second), for at most 20 s; then `delivered` runs, so that
/// the endpoint's state and last success are read again too.
function watchFor(webhookId, delivered) {
  if (watching) clearInterval(watching);
  let tries = 0;
  const stop = () => {
    clearInterval(watching);
    watching = null;
  };
  const check = () => {
    tries += 1;
    if (document.querySelector(`#deliveries tr[data-webhook-id="${CSS.escape(webhookId)}"]`)) {
      stop();
      delivered();
      return;
    }
    if (tries > 20 || !document.getElementById('deliveries')) {
      stop();
      return;
    }
    reloadLog();
  };
  watching = setInterval(check, 1000);
  reloadLog();
}

function deliveryLog(endpoints) {
  const tbody = h('tbody');
  const error = h('p', { class: 'error', role: 'alert' });
  const more = h('button', { type: 'button', id: 'deliveries-more', hidden: true }, t('history.more'));
  const count = h('p', { class: 'muted', role: 'status', id: 'deliveries-count' });
  const headers = [t('col.date'), t('col.kind'), t('col.event'), t('hooks.url'), t('delivery.status'), t('delivery.latency'), t('delivery.error'), t('delivery.attempt'), t('col.outcome')];
  let next = null;
  let shown = 0;
  const load = async (fresh) => {
    const p = new URLSearchParams({ limit: String(PAGE) });
    if (log.kind) p.set('kind', log.kind);
    if (log.endpoint) p.set('endpoint', log.endpoint);
    if (!fresh && next) p.set('cursor', next);
    more.disabled = true;
    try {
      const page = await api(`/api/deliveries?${p}`);
      if (fresh) { tbody.replaceChildren(); shown = 0; }
      tbody.append(...deliveryRows(page.deliveries));
      shown += page.deliveries.length;
      if (!shown) tbody.append(h('tr', {}, h('td', { colspan: headers.length, class: 'muted empty', text: t('hooks.no_delivery') })));
      next = page.next;
      more.hidden = !next;
      count.textContent = t('history.count', { n: shown });
      error.textContent = '';
    } catch (e) {
      error.textContent = t('hooks.error', { msg: e.message });
    } finally {
      more.disabled = false;
    }
  };
  reloadLog = () => load(true);
  more.addEventListener('click', () => load(false));
  const select = (id, label, options, key) => h('div', { class: 'field' }, h('label', { for: id, text: label }),
    h('select', { id, onchange: (e) => { log[key] = e.target.value; load(true); } },
      options.map(([v, text]) => h('option', { value: v, selected: v === log[key] }, text))));
  const section = h('section', { 'aria-labelledby': 'h-deliveries' },
    h('h2', { id: 'h-deliveries', text: t('hooks.log') }),
    h('p', { class: 'hint', text: t('hooks.log_intro') }),
    h('div', { class: 'filters' },
      select('d-kind', t('col.kind'), [['', t('any')], ['pop', t('kind.pop')], ['webhook', t('kind.webhook')]], 'kind'),
      select('d-endpoint', t('hooks.endpoint'), [['', t('any')], ...endpoints.map((ep) => [String(ep.id), ep.url])], 'endpoint'),
      h('div', { class: 'actions' }, h('button', { type: 'button', id: 'deliveries-refresh', onclick: () => load(true) }, t('hooks.refresh')))),
    h('div', { class: 'scroll' }, h('table', { id: 'deliveries' }, h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', text: x })))), tbody)),
    error, count, h('div', { class: 'actions' }, more));
  load(true);
  return section;
}

export function render(root, secretOf = null) {
  const status = h('p', { id: 'hooks-status', role: 'status', class: 'status-line' });
  const list = h('div', { class: 'scroll', id: 'hooks-list' }, h('p', { class: 'muted', text: t('loading') }));
  const logBox = h('div', { id: 'deliveries-box' });
  replace(root,
    h('h1', { text: t('hooks.title') }),
    h('p', { class: 'note', text: t('hooks.intro') }),
    secretOf ? secretPanel(secretOf) : null,
    h('section', { 'aria-labelledby': 'h-hooks' },
      h('h2', { id: 'h-hooks', text: t('hooks.endpoints') }),
      list, status),
    createForm((ep) => {
      render(root, ep);
      document.getElementById('secret-copy')?.focus();
    }),
    logBox);
  const reload = async () => {
    try {
      const { webhooks } = await api('/api/webhooks');
      replace(list, table(null, [t('hooks.url'), t('col.description'), t('hooks.events'), t('col.state'), t('hooks.last_success'), ''],
        endpointRows(webhooks, status, reload), t('hooks.none')));
      replace(logBox, deliveryLog(webhooks));
    } catch (e) {
      replace(list, h('p', { class: 'error', role: 'alert', text: t('hooks.error', { msg: e.message }) }));
    }
  };
  reload();
}
