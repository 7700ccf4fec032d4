// What the dashboard shows and does through OVH's REST API (docs/ovh-api.md): the agent board
// in the queue view — each agent's status (available, on a break and why, logged out), OVH's
// live status and since when, the agent's line as the event feed says it now, calls answered
// and talk time today, with buttons to log in, put on a break (choosing the reason) and log
// out (supervisors for anyone, an agent for themselves) and to take an agent in or out of a queue (supervisors); OVH's own counters
// beside each queue, with a warning when they disagree with ours; the live calls OVH lists,
// with listen, whisper, transfer and hang up (supervisors), each answered by OVH's task; a
// compact agent strip for the wall; and the click-to-call button used by History, the
// callback list and the overview. The board arrives on the stream (`event: agents`); every
// value from OVH is set as text.

import { h, replace, num, named, ticking, fmtDuration, fmtDateTime, table, row, statusCell } from './dom.js';
import { t } from './i18n.js';
import { live, api, nameOf, changed } from './live.js';

const role = () => live.me?.role || 'viewer';
const supervisor = () => role() === 'supervisor' || role() === 'admin';

/// Whether click-to-call and the actions can be offered: an OVH account is connected.
export function connected() {
  return live.agents?.state === 'connected';
}

let loading = Promise.resolve();

/// The board once at sign-in; then the stream keeps it.
export function loadAgents() {
  loading = (async () => {
    try {
      live.agents = await api('/api/agents');
      changed();
    } catch { /* shown as not connected */ }
  })();
  return loading;
}

/// Settles once the board asked for at sign-in has come (or failed): views drawn once, such as
/// History, wait for it before their rows, so that their Call buttons are there after a reload.
export function agentsLoaded() {
  return loading;
}

function statusWords(a) {
  if (a.status === 'onBreak') return a.break_reason ? t('agent.on_break_reason', { reason: a.break_reason.name }) : t('agent.on_break');
  return t(`agent.${a.status}`, {}, a.status);
}

const LIVE_MARK = { waiting: '●', receiving: '◔', inAQueueCall: '◉', onBreak: '‖', loggedOut: '○' };

function liveWords(a) {
  if (!a.live) return '—';
  return h('span', { class: `live live-${a.live}` }, h('span', { 'aria-hidden': 'true', text: `${LIVE_MARK[a.live] || '?'} ` }), t(`agent.live_${a.live}`, {}, a.live));
}

/// The break reason chosen on each agent's row (by service and agent), kept across redraws.
const chosenReason = new Map();

/// The actions on an agent's row the caller may use.
function agentActions(a, status) {
  const mine = role() === 'agent' && (live.me?.lines || []).includes(a.number);
  if (!supervisor() && !mine) return '';
  const act = async (body, label) => {
    status.textContent = t('agent.doing', { what: label });
    try {
      live.agents = await api(`/api/agents/${encodeURIComponent(a.service)}/${a.id}`, { method: 'PUT', body });
      status.textContent = t('agent.done', { what: label });
      changed();
    } catch (e) { status.textContent = t('agent.error', { msg: e.message }); }
  };
  const reasons = live.agents?.board?.breaks?.[a.service] || [];
  const key = `${a.service}/${a.id}`;
  const select = h('select', { class: 'break-reason', 'aria-label': t('agent.reason'), 'data-agent': String(a.id) },
    reasons.map((r) => h('option', { value: String(r.id), selected: String(r.id) === chosenReason.get(key) }, r.name)));
  select.addEventListener('change', () => chosenReason.set(key, select.value));
  const buttons = [];
  if (a.status !== 'available') buttons.push(h('button', { type: 'button', class: 'agent-login', 'data-agent': String(a.id), onclick: () => act({ status: 'available' }, t('agent.login')) }, t('agent.login')));
  if (a.status !== 'onBreak' && reasons.length) {
    buttons.push(select, h('button', { type: 'button', class: 'agent-break', 'data-agent': String(a.id), onclick: () => act({ status: 'onBreak', reason: Number(select.value) }, t('agent.break')) }, t('agent.break')));
  }
  if (a.status !== 'loggedOut') buttons.push(h('button', { type: 'button', class: 'agent-logout', 'data-agent': String(a.id), onclick: () => act({ status: 'loggedOut' }, t('agent.logout')) }, t('agent.logout')));
  if (supervisor()) {
    for (const q of (live.agents?.board?.queues || []).filter((x) => x.service === a.service)) {
      const inIt = a.queues.includes(q.id);
      const label = inIt ? t('agent.leave', { queue: q.description || q.id }) : t('agent.join', { queue: q.description || q.id });
      buttons.push(h('button', {
        type: 'button', class: inIt ? 'agent-leave' : 'agent-join', 'data-agent': String(a.id),
        onclick: async () => {
          status.textContent = t('agent.doing', { what: label });
          try {
            live.agents = await api(`/api/agents/${encodeURIComponent(a.service)}/${a.id}/queues/${q.id}`, { method: inIt ? 'DELETE' : 'PUT' });
            status.textContent = t('agent.done', { what: label });
            changed();
          } catch (e) { status.textContent = t('agent.error', { msg: e.message }); }
        },
      }, label));
    }
  }
  return h('span', { class: 'actions' }, buttons);
}

/// OVH's counters for a queue, and the service's cross-check of them against ours over the
/// same period (since OVH's reset): a difference beyond the tolerance over a period followed
/// whole means events were lost; when the service started later, only that ours are partial.
export function ovhFigures(q) {
  const o = q.ovh;
  if (!o) return null;
  const check = live.agents?.cross_check?.queues?.find((c) => c.queue === q.service);
  const verdict = check?.verdict || 'unknown';
  const off = verdict === 'differ';
  return h('p', { class: `ovh-figures${off ? ' mismatch' : ''}`, 'data-service': q.service, 'data-mismatch': String(off), 'data-verdict': verdict },
    t('agent.ovh_counts', { total: o.callsTotal, answered: o.callsAnswered, lost: o.callsLost }),
    o.lastReset ? ` ${t('agent.since', { at: fmtDateTime(o.lastReset) })}` : '',
    check ? ` ${t('agent.ours_counts', { total: check.ours.total, answered: check.ours.answered })}` : '',
    off ? h('strong', { role: 'note', text: ` ${t('agent.mismatch')}` }) : '',
    verdict === 'incomplete' ? h('span', { class: 'muted', text: ` ${t('agent.incomplete')}` }) : '');
}

/// The agent board for the queue view.
export function agentsSection() {
  const a = live.agents;
  const status = h('p', { id: 'agents-status', role: 'status', class: 'status-line' });
  let body;
  if (!a || a.state === 'off') body = h('p', { class: 'note', text: t(role() === 'admin' ? 'agent.off_admin' : 'agent.off') });
  else if (a.state === 'pending') body = h('p', { class: 'note', text: t('agent.pending') });
  else if (!a.board) body = h('p', { class: 'note', text: a.last_error || t('agent.discovering') });
  else {
    body = [
      a.last_error ? h('p', { class: 'error', role: 'alert', text: a.last_error }) : null,
      table(null, [t('col.agent'), t('col.queue'), t('agent.status'), t('agent.live'), t('agent.line_now'), t('agent.since_col'), t('agent.answered'), t('agent.talk'), t('agent.actions')],
        a.board.agents.map((x) => {
          // OVH's live status is read every 20 s; the agent's line as the feed says it now
          // (ringing, in a call) shows beside it at once.
          const tr = row(named(x.number, x.description || nameOf(x.number)), named(x.service, nameOf(x.service)), statusWords(x), liveWords(x),
            statusCell(live.lines.get(x.number)?.status),
            x.since ? ticking(x.since) : '—', x.answered_calls ?? '—', x.talk_time_s == null ? '—' : fmtDuration(x.talk_time_s), agentActions(x, status));
          tr.dataset.agent = String(x.id);
          tr.dataset.number = x.number;
          tr.dataset.service = x.service;
          tr.dataset.status = x.status;
          return tr;
        }), t('agent.none')),
      a.board.queues.map(ovhFigures),
    ];
  }
  return h('section', { id: 'agents', 'aria-labelledby': 'h-agents' },
    h('h2', { id: 'h-agents', text: t('agent.title') }), body, status,
    supervisor() && connected() ? liveCallsBox() : null);
}

/// What the supervisor chose and loaded in the live-calls box. The queue view is drawn again
/// on every change of the live state, so the box is drawn from here, not from its last DOM.
const callsBox = { from: '', to: '', calls: null, status: '' };

/// The live calls OVH lists, fetched on demand, with a supervisor's actions: listening and
/// whispering ring the line chosen in "Listen from"; a transfer sends the caller to the number
/// typed in "Transfer to" (or to that line when none is typed).
function liveCallsBox() {
  const box = h('div', { id: 'live-calls' });
  const status = h('p', { id: 'live-calls-status', role: 'status', class: 'status-line', text: callsBox.status });
  const say = (text) => { callsBox.status = text; status.textContent = text; };
  const lines = [...live.lines.values()];
  if (!lines.some((l) => l.number === callsBox.from)) callsBox.from = lines[0]?.number || '';
  const from = h('select', { id: 'supervisor-line', 'aria-label': t('calls.from') },
    lines.map((l) => h('option', { value: l.number, selected: l.number === callsBox.from }, `${l.description || ''} ${l.number}`)));
  from.addEventListener('change', () => { callsBox.from = from.value; });
  const to = h('input', { id: 'transfer-to', type: 'tel', maxlength: '32', autocomplete: 'off', placeholder: t('calls.transfer_hint'), value: callsBox.to });
  to.addEventListener('input', () => { callsBox.to = to.value; });
  // Read when the button is pressed, not when the list was loaded.
  const bodies = {
    eavesdrop: () => ({ number: callsBox.from }),
    whisper: () => ({ number: callsBox.from }),
    transfer: () => ({ number: callsBox.to.trim() || callsBox.from }),
    hangup: () => undefined,
  };
  const draw = () => {
    if (!callsBox.calls) return;
    replace(box, table(null, [t('col.queue'), t('col.caller'), t('col.state'), t('col.agent'), t('agent.actions')], callsBox.calls.map((c) => {
      const path = `/api/live-calls/${encodeURIComponent(c.service)}/${c.queue_id}/${c.id}`;
      const act = (action) => h('button', {
        type: 'button', class: `call-${action}`, 'data-call': String(c.id),
        onclick: async () => {
          try {
            const { task } = await api(`${path}/${action}`, { method: 'POST', body: bodies[action]() });
            say(t('calls.task', { action: t(`calls.${action}`), status: task.status, message: task.message || '' }));
          } catch (e) { say(t('agent.error', { msg: e.message })); }
        },
      }, t(`calls.${action}`));
      const tr = row(named(c.service, nameOf(c.service)), num(c.callerIdNumber || ''), c.state, c.agent || '—',
        h('span', { class: 'actions' }, Object.keys(bodies).map(act)));
      tr.dataset.call = String(c.id);
      tr.dataset.caller = c.callerIdNumber || '';
      tr.dataset.state = c.state || '';
      return tr;
    }), t('calls.none')));
  };
  const load = async () => {
    try {
      callsBox.calls = (await api('/api/live-calls')).calls;
      draw();
    } catch (e) { say(t('agent.error', { msg: e.message })); }
  };
  draw();
  return h('div', { class: 'live-calls' }, h('h3', { text: t('calls.title') }),
    h('p', {}, h('label', { for: 'supervisor-line', text: `${t('calls.from')} ` }), from, ' ',
      h('label', { for: 'transfer-to', text: `${t('calls.transfer_to')} ` }), to, ' ',
      h('button', { type: 'button', id: 'live-calls-load', onclick: load }, t('calls.load'))),
    box, status);
}

/// The agents on the wall: name and state, no buttons.
export function wallAgents() {
  const agents = live.agents?.board?.agents;
  if (!agents || !agents.length) return null;
  return h('div', { class: 'wall-agents' }, agents.map((a) => h('p', { class: `wall-agent live-${a.live || 'unknown'} status-${a.status}` },
    h('span', { class: 'label', text: a.description || a.number }), ' ', h('span', { text: a.live ? t(`agent.live_${a.live}`, {}, a.live) : statusWords(a) }))));
}

/// A "Call" button for `number` (History, callbacks, overview): OVH rings the caller's line,
/// then dials. An agent calls from their own line; others choose one of the account's lines.
/// None for one of the account's queues (a queue's ring on an agent's line: the caller to call
/// back is the queue's caller, which History gives).
export function callButton(number) {
  if (!connected() || role() === 'viewer' || !number || number === 'anonymous' || live.queues.has(number)) return null;
  const button = h('button', { type: 'button', class: 'click2call', 'data-number': number, title: t('calls.call_title', { number }) }, t('calls.call'));
  button.addEventListener('click', async () => {
    const body = { number };
    if (role() !== 'agent') {
      const lines = [...live.lines.keys()];
      const line = lines.length === 1 ? lines[0] : window.prompt(t('calls.which_line', { lines: lines.join(', ') }), lines[0] || '');
      if (!line) return;
      body.line = line.trim();
    }
    button.disabled = true;
    try {
      await api('/api/click2call', { method: 'POST', body });
      button.textContent = t('calls.calling');
    } catch (e) {
      button.title = e.message;
      button.textContent = t('calls.failed');
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
