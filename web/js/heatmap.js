// heatmap.js - best validation accuracy over two grid axes, as a table of coloured cells: each
// cell is the best trial among those with that pair of values (the other axes maximised over).
// The numbers are printed in the cells, so the colour is never the only cue. An axis with many
// numeric values (a sampled range) is cut into equal-count bins, so the table stays small.
import {h, replace} from './dom.js';
import {rampColor} from './palette.js';
import {pct, num} from './format.js';
import {axisValues, paramValue} from './grid.js';

function show(v) {
  return typeof v === 'number' ? num(v) : String(v);
}

export const MAX_CELLS = 10; // an axis with more numeric values than this is binned
const BINS = 8;

/** An axis's entries [{key, label}] and keyOf(trial): its values, or bins of many numbers. */
export function axisBins(trials, column) {
  const vals = axisValues(trials, column);
  if (vals.length <= MAX_CELLS || !vals.every((v) => typeof v === 'number')) {
    return {items: vals.map((v) => ({key: String(v), label: show(v)})), keyOf: (t) => String(paramValue(t, column))};
  }
  const sorted = trials.map((t) => paramValue(t, column)).filter((v) => typeof v === 'number').sort((a, b) => a - b);
  const edges = []; // the first value of each bin
  for (let b = 0; b < BINS; b++) {
    const v = sorted[Math.floor((b * sorted.length) / BINS)];
    if (!edges.length || v > edges[edges.length - 1]) edges.push(v);
  }
  const binOf = (v) => {
    let i = 0;
    while (i + 1 < edges.length && v >= edges[i + 1]) i += 1;
    return i;
  };
  const items = edges.map((e, i) => {
    const inBin = sorted.filter((v) => binOf(v) === i);
    return {key: `b${i}`, label: `${show(inBin[0])}–${show(inBin[inBin.length - 1])}`};
  });
  return {items, keyOf: (t) => {
    const v = paramValue(t, column);
    return typeof v === 'number' ? `b${binOf(v)}` : String(v);
  }};
}

/**
 * Renders into el; trials carry params and best_val_accuracy; x and y are keys of `columns` (the
 * parameter columns, grid.js paramColumns; y may be null).
 */
export function renderHeatmap(el, trials, xKey, yKey, columns) {
  const column = (key) => columns.find((c) => c.key === key) || {key, label: key, get: (p) => p[key]};
  const x = column(xKey);
  const y = yKey ? column(yKey) : null;
  const label = (c) => c.label;
  const bx = axisBins(trials, x);
  const by = y ? axisBins(trials, y) : {items: [{key: '', label: 'best'}], keyOf: () => ''};
  const xs = bx.items;
  const ys = by.items;
  const best = new Map();
  let lo = Infinity;
  let hi = -Infinity;
  let top = null;
  for (const t of trials) {
    const v = t.best_val_accuracy;
    const key = `${bx.keyOf(t)}|${by.keyOf(t)}`;
    if (!best.has(key)) best.set(key, {value: null, trial: null, n: 0, pending: false});
    const cell = best.get(key);
    cell.n += 1;
    if (t.status === 'queued' || t.status === 'running') cell.pending = true;
    if (Number.isFinite(v) && (cell.value === null || v > cell.value)) {
      cell.value = v;
      cell.trial = t;
    }
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      if (!top || v > top.best_val_accuracy) top = t;
    }
  }
  const span = hi > lo ? hi - lo : 1;
  const head = h('tr', null,
    h('th', {scope: 'col', class: 'corner'}, y ? `${label(y)} ↓ / ${label(x)} →` : `${label(x)} →`),
    xs.map((v) => h('th', {scope: 'col'}, v.label)));
  const rows = ys.map((yv) => h('tr', null,
    h('th', {scope: 'row'}, yv.label),
    xs.map((xv) => {
      const cell = best.get(`${xv.key}|${yv.key}`);
      if (!cell) return h('td', {class: 'hm-empty'}, h('span', {class: 'sr-only'}, 'no trial'));
      if (cell.value === null && cell.pending) return h('td', {class: 'hm-pending', title: 'no validation accuracy yet'}, '…');
      if (cell.value === null) return h('td', {class: 'hm-empty', title: 'these trials ended without a validation accuracy'}, '—');
      const c = rampColor(hi > lo ? (cell.value - lo) / span : 1);
      const isTop = top && cell.trial && cell.trial.id === top.id;
      return h('td', {
        class: ['hm-cell', isTop ? 'hm-best' : null],
        style: {'background-color': c.background, color: c.color},
        title: `${label(x)} ${xv.label}${y ? `, ${label(y)} ${yv.label}` : ''}: best validation accuracy ${pct(cell.value, 2)} (trial ${cell.trial.id}, ${cell.n} trial${cell.n === 1 ? '' : 's'} in this cell)`,
      }, h('a', {href: `/trials/${cell.trial.id}`}, pct(cell.value, 1)), isTop ? h('span', {class: 'sr-only'}, ' (best)') : null);
    })));
  const legend = Number.isFinite(lo)
    ? h('div', {class: 'hm-legend', 'aria-hidden': 'true'},
      h('span', null, pct(lo, 1)),
      h('span', {class: 'hm-ramp'}),
      h('span', null, pct(hi, 1)))
    : null;
  replace(el,
    h('table', {class: 'heatmap'},
      h('caption', null, `Best validation accuracy by ${label(x)}${y ? ` and ${label(y)}` : ''}`),
      h('thead', null, head), h('tbody', null, rows)),
    legend);
}
