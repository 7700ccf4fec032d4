// Reports: calls per hour (answered vs missed) for a day or a range, and per queue the service
// level and average wait hour by hour. Each chart is an SVG drawn with DOM calls, and the same
// figures follow in a table, so they can be read without the chart (screen readers, copying).

import { h, svg, replace, fmtHour, fmtDuration, fmtPct, table, row, named, zonedMidnight, nextDay, localDate } from './dom.js';
import { t } from './i18n.js';
import { api } from './live.js';

const state = { from: '', to: '' };
const W = 720;
const H = 220;
const PAD = { l: 40, r: 10, t: 10, b: 30 };

/// A bar chart of stacked counts: `series` is [{key, label, cls}], `rows` have those keys.
/// The axis is in whole calls and its top a multiple of its step.
function barChart(title, rows, series, label) {
  const highest = Math.max(1, ...rows.map((r) => series.reduce((s, x) => s + (r[x.key] || 0), 0)));
  const step = Math.max(1, Math.ceil(highest / 4));
  const max = Math.ceil(highest / step) * step;
  const bw = (W - PAD.l - PAD.r) / Math.max(1, rows.length);
  const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  const bars = rows.flatMap((r, i) => {
    let base = 0;
    return series.map((s) => {
      const v = r[s.key] || 0;
      const rect = svg('rect', { x: PAD.l + i * bw + 1, y: y(base + v), width: Math.max(1, bw - 2), height: y(base) - y(base + v), class: s.cls },
        svg('title', { text: `${label(r)}: ${s.label} ${v}` }));
      base += v;
      return rect;
    });
  });
  return chartFrame(title, rows, max, y, bars, series, label, true);
}

/// A line chart of one value per row (null values leave a gap).
function lineChart(title, rows, key, cls, label, seriesLabel, max) {
  const top = max ?? Math.max(1, ...rows.map((r) => r[key] ?? 0));
  const step = (W - PAD.l - PAD.r) / Math.max(1, rows.length);
  const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / top);
  const points = rows.map((r, i) => (r[key] === null || r[key] === undefined ? null : [PAD.l + (i + 0.5) * step, y(r[key]), r]));
  const parts = [];
  let d = '';
  for (const p of points) {
    if (!p) { d += ' '; continue; }
    d += `${/[\d]$/.test(d) ? ' L' : ' M'} ${p[0].toFixed(1)} ${p[1].toFixed(1)}`;
    parts.push(svg('circle', { cx: p[0], cy: p[1], r: 3, class: cls }, svg('title', { text: `${label(p[2])}: ${p[2][key]}` })));
  }
  parts.unshift(svg('path', { d: d.trim() || 'M 0 0', class: `${cls} line` }));
  return chartFrame(title, rows, top, y, parts, [{ label: seriesLabel, cls }], label);
}

/// Axis values: whole numbers for counts (no "0.5 calls"), at most five of them.
export function axisTicks(max, whole) {
  if (!whole) return [0, max / 2, max];
  const step = Math.max(1, Math.ceil(max / 4));
  const ticks = [];
  for (let v = 0; v <= max; v += step) ticks.push(v);
  return ticks;
}

function chartFrame(title, rows, max, y, marks, series, label, whole = false) {
  const ticks = axisTicks(max, whole).map((v) => svg('g', {},
    svg('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid' }),
    svg('text', { x: PAD.l - 4, y: y(v) + 4, class: 'axis', 'text-anchor': 'end', text: Number.isInteger(v) ? String(v) : v.toFixed(1) })));
  const every = Math.max(1, Math.ceil(rows.length / 12));
  const step = (W - PAD.l - PAD.r) / Math.max(1, rows.length);
  const xs = rows.map((r, i) => (i % every ? null : svg('text', { x: PAD.l + (i + 0.5) * step, y: H - 10, class: 'axis', 'text-anchor': 'middle', text: label(r) })));
  return h('figure', { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title }, ticks, marks, xs),
    h('figcaption', {}, title, ' — ', series.map((s) => h('span', { class: 'legend' }, h('span', { class: `swatch ${s.cls}`, 'aria-hidden': 'true' }), s.label, ' '))));
}

function hourLabel(multiDay) {
  return (r) => fmtHour(r.hour, multiDay);
}

async function load(out) {
  const from = state.from || localDate(0);
  const to = state.to || from;
  const p = new URLSearchParams({ from: zonedMidnight(from).toISOString(), to: zonedMidnight(nextDay(to)).toISOString() });
  replace(out, h('p', { class: 'muted', text: t('loading') }));
  try {
    const [calls, queues] = await Promise.all([api(`/api/reports/calls?${p}`), api(`/api/reports/queues?${p}`)]);
    const multi = from !== to;
    const label = hourLabel(multi);
    const callSeries = [
      { key: 'answered', label: t('col.answered'), cls: 'c-answered' },
      { key: 'missed', label: t('col.missed'), cls: 'c-missed' },
      { key: 'unanswered', label: t('col.unanswered'), cls: 'c-unanswered' },
    ];
    const withCalls = calls.hours.filter((r) => r.total > 0);
    replace(out,
      h('section', { 'aria-labelledby': 'h-rep-calls' },
        h('h2', { id: 'h-rep-calls', text: t('reports.calls') }),
        // No chart of nothing: an empty period says so in words.
        withCalls.length ? barChart(t('reports.chart_calls'), calls.hours, callSeries, label) : h('p', { class: 'note empty-report', text: t('reports.no_calls') }),
        table(t('reports.table'), [t('col.hour'), t('col.answered'), t('col.missed'), t('col.unanswered'), t('col.total')],
          [...withCalls.map((r) => row(label(r), String(r.answered), String(r.missed), String(r.unanswered), String(r.total))),
            h('tr', { class: 'total' }, h('th', { scope: 'row', text: t('reports.totals') }), h('td', { text: String(calls.total.answered) }), h('td', { text: String(calls.total.missed) }),
              h('td', { text: String(calls.total.unanswered) }), h('td', { text: String(calls.total.total) }))])),
      h('section', { 'aria-labelledby': 'h-rep-queues' },
        h('h2', { id: 'h-rep-queues', text: t('reports.queues') }),
        queues.queues.length ? queues.queues.map((q) => {
          const busy = q.hours.filter((r) => r.entered > 0);
          return h('section', { class: 'report-queue', 'data-number': q.queue },
            h('h3', {}, named(q.queue, q.name)),
            busy.length ? [
              lineChart(t('reports.sl'), q.hours, 'service_level_pct', 'c-sl', label, t('reports.sl'), 100),
              lineChart(t('reports.wait'), q.hours, 'avg_wait_s', 'c-wait', label, t('reports.wait')),
            ] : h('p', { class: 'note empty-report', text: t('reports.no_queue_calls') }),
            table(t('reports.table'), [t('col.hour'), t('col.entered'), t('col.answered'), t('col.abandoned'), t('col.service_level'), t('col.avg_wait'), t('col.max_wait')],
              [...busy, { ...q.total, hour: null }].map((r) => row(r.hour ? label(r) : t('reports.totals'), String(r.entered), String(r.answered), String(r.abandoned),
                fmtPct(r.service_level_pct), fmtDuration(r.avg_wait_s), fmtDuration(r.max_wait_s)))));
        }) : h('p', { class: 'note', text: t('reports.no_queue') })),
    );
  } catch (e) {
    replace(out, h('p', { class: 'error', role: 'alert', text: t('error.generic', { msg: e.message }) }));
  }
}

export function render(root) {
  const out = h('div', { id: 'report' });
  const from = h('input', { id: 'r-from', type: 'date', value: state.from || localDate(0), required: true });
  const to = h('input', { id: 'r-to', type: 'date', value: state.to || state.from || localDate(0), required: true });
  const form = h('form', { class: 'filters', id: 'report-form' },
    h('div', { class: 'field' }, h('label', { for: 'r-from', text: t('reports.from') }), from),
    h('div', { class: 'field' }, h('label', { for: 'r-to', text: t('reports.to') }), to),
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'report-show' }, t('reports.show'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    state.from = from.value;
    state.to = to.value < from.value ? from.value : to.value;
    load(out);
  });
  replace(root, h('h1', { text: t('reports.title') }), form, out);
  load(out);
}
