// The queue view and the wallboard. Per queue: its figures since the last reset, the service
// level coloured against the target *and* said in words, the callers waiting (timer, agent
// being offered), the conversations in progress (caller ⇒ agent, talk and wait times); then
// the agent board from OVH's REST API (agents.js), and the queue journal. The wallboard shows
// the same live figures in large type for a wall screen, with the agents' states below.

import { h, replace, num, named, ownNumber, time, ticking, clock, fmtDateTime, fmtDuration, fmtPct, table, row } from './dom.js';
import { t, tValue } from './i18n.js';
import { live, nameOf } from './live.js';
import { feedState } from './health.js';
import { agentsSection, wallAgents } from './agents.js';

function target() {
  return live.settings?.service_level_target_pct ?? 80;
}

/// The service level with its verdict: a symbol and words, the colour only repeats them.
export function serviceLevel(q) {
  if (q.service_level_pct === null || q.service_level_pct === undefined) {
    return h('span', { class: 'sl sl-none' }, '— ', h('small', { text: t('sl.none') }));
  }
  const ok = q.service_level_pct >= target();
  const words = t(ok ? 'sl.ok' : 'sl.bad', { target: target(), s: q.service_level_s });
  return h('span', { class: `sl ${ok ? 'sl-ok' : 'sl-bad'}`, 'data-ok': String(ok) },
    h('span', { 'aria-hidden': 'true', text: ok ? '✔ ' : '▼ ' }), fmtPct(q.service_level_pct), ' ', h('small', { text: words }));
}

function figures(q) {
  const pairs = [
    [t('col.kind'), q.kind ? t(`kind.${q.kind}`) : (q.type || '—')],
    [t('col.answered'), String(q.answered)],
    [t('col.abandoned'), String(q.abandoned)],
    [t('col.total'), String(q.entered)],
    [t('col.answered_pct'), fmtPct(q.answered_pct)],
    [t('col.waiting_now'), String(q.waiting)],
    [t('col.avg_wait'), fmtDuration(q.avg_wait_s)],
    [t('col.max_wait'), fmtDuration(q.max_wait_s)],
    [t('col.avg_talk'), fmtDuration(q.avg_talk_s)],
    [t('col.service_level'), serviceLevel(q)],
  ];
  return h('dl', { class: 'figures' }, pairs.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', {}, v))));
}

function queueSection(q) {
  const waiting = q.callers.filter((c) => c.state !== 'in_call');
  const talking = q.callers.filter((c) => c.state === 'in_call');
  const id = `q-${q.number}`;
  return h('section', { class: 'queue', 'aria-labelledby': id, 'data-number': q.number },
    h('h2', { id }, ownNumber(q.number), ' ', h('span', { class: 'desc', text: q.description || '' })),
    figures(q),
    table(t('queues.waiting'), [t('col.caller'), t('col.state'), t('col.timer'), t('col.offered')], waiting.map((c) => row(
      num(c.caller), t(`caller.${c.state}`), ticking(c.joined_at), c.state === 'offered' && c.agent ? named(c.agent, nameOf(c.agent)) : '—'))),
    table(t('queues.conversations'), [t('col.conversation'), t('col.talk'), t('col.waited')], talking.map((c) => row(
      h('span', {}, num(c.caller), h('span', { 'aria-hidden': 'true', text: ' ⇒ ' }), h('span', { class: 'sr', text: ` ${t('col.agent')} ` }), named(c.agent, nameOf(c.agent))),
      ticking(c.answered_at || c.joined_at),
      fmtDuration((Date.parse(c.answered_at) - Date.parse(c.joined_at)) / 1000)))),
  );
}

export function journalRows(entries) {
  return entries.map((j) => row(
    time(j.left_at), named(j.queue, nameOf(j.queue)), num(j.caller), j.agent ? named(j.agent, nameOf(j.agent)) : '—',
    fmtDuration(j.wait_s), fmtDuration(j.talk_s), outcome(j.outcome), j.reason ? h('span', { class: 'reason', title: j.reason, text: tValue('reason', j.reason) }) : ''));
}

export function outcome(o) {
  const mark = { answered: '✔', abandoned: '✕', missed: '✕', unanswered: '–', queue_offer: '↷' }[o] || '?';
  return h('span', { class: `outcome outcome-${o}` }, h('span', { 'aria-hidden': 'true', text: `${mark} ` }), t(`outcome.${o}`));
}

export const JOURNAL_HEADERS = () => [t('col.date'), t('col.queue'), t('col.caller'), t('col.agent'), t('col.wait'), t('col.talk'), t('col.outcome'), t('col.reason')];

export function render(root) {
  const queues = [...live.queues.values()];
  replace(root,
    h('h1', { text: t('queues.title') }),
    live.since ? h('p', { class: 'muted' }, t('overview.since', { at: '' }), time(live.since)) : null,
    queues.length ? queues.map(queueSection) : h('p', { class: 'note', text: t('queues.none') }),
    agentsSection(),
    h('section', { 'aria-labelledby': 'h-journal' },
      h('h2', { id: 'h-journal', text: t('queues.journal') }),
      h('div', { class: 'scroll' }, table(null, JOURNAL_HEADERS(), journalRows(live.journal)))),
  );
}

/// The wall screen (`/wall`): a kiosk for a TV — no header, no menu, nothing to click. A
/// strip with the clock and the feed's state (a wall showing stale figures must say so), then
/// one tile per queue in type readable from across the room: waiting now, the longest current
/// wait, conversations, answered / abandoned and the service level. Escape leaves it, except
/// on a screen signed in by a wall link, which has no other view.
export function renderWallboard(root) {
  const queues = [...live.queues.values()];
  const feed = feedState(live);
  const hl = live.health;
  const warning = hl && (hl.state === 'paused' || hl.refused_since)
    ? (hl.state === 'paused' ? t('banner.paused', { reason: hl.paused_reason || '' }) : t('banner.refused', { since: fmtDateTime(hl.refused_since), error: hl.last_error || '' }))
    : null;
  replace(root,
    h('h1', { class: 'sr', text: t('wallboard.title') }),
    h('div', { class: 'wall-strip' },
      h('p', { class: `wall-health health-${feed.state}`, id: 'wall-health', 'data-state': feed.state, role: 'status' },
        h('span', { 'aria-hidden': 'true', text: `${feed.symbol} ` }), feed.text),
      warning ? h('p', { class: 'wall-warning', role: 'alert', text: warning }) : null,
      h('p', { class: 'wall-clock' }, h('span', { class: 'sr', text: `${t('wall.clock')} ` }), clock())),
    queues.length ? h('div', { class: 'tiles' }, queues.map((q) => {
      const waiting = q.callers.filter((c) => c.state !== 'in_call');
      const oldest = waiting.map((c) => c.joined_at).sort()[0];
      return h('section', { class: `tile${q.waiting > 0 ? ' has-waiting' : ''}`, 'data-number': q.number, 'aria-label': q.description || q.number },
        h('h2', {}, h('span', { class: 'desc', text: q.description || '' }), ' ', num(q.number)),
        h('p', { class: 'huge' }, h('span', { class: 'value', text: String(q.waiting) }), ' ', h('span', { class: 'label', text: t('wallboard.waiting') })),
        h('p', { class: 'large' }, oldest ? ticking(oldest) : '—', ' ', h('span', { class: 'label', text: t('wallboard.longest') })),
        h('p', { class: 'large' }, String(q.in_call), ' ', h('span', { class: 'label', text: t('wallboard.in_call') })),
        h('p', { class: 'large' }, `${q.answered} `, h('span', { class: 'label', text: t('col.answered') }), ` · ${q.abandoned} `, h('span', { class: 'label', text: t('col.abandoned') })),
        h('p', { class: 'large' }, serviceLevel(q)),
      );
    })) : h('p', { class: 'note', text: t('queues.none') }),
    wallAgents(),
    // A screen signed in by a wall link has no way out to show.
    live.me?.wall ? null : h('p', { class: 'wall-exit', 'aria-hidden': 'true', text: t('wall.exit') }),
  );
}
