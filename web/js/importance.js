// importance.js - how much each parameter matters in a sweep: one-way ANOVA of the best
// validation accuracy grouped by the parameter's value, reported as eta squared (the share of the
// metric's variance between the groups). A numeric parameter with many values (a range) is cut
// into equal-count bins first. Each share is that parameter alone: shares overlap (parameters
// varied together share variance) and need not add up to 100 %.
import {h, replace} from './dom.js';
import {paramValue} from './grid.js';
import {pct, plural} from './format.js';

export const MAX_GROUPS = 6; // more distinct values than this: binned
export const BINS = 5;

/** Group keys of values (numbers binned by rank into BINS equal-count bins when many). */
export function groupsOf(values) {
  const distinct = new Set(values.map(String));
  if (distinct.size <= MAX_GROUPS || !values.every((v) => typeof v === 'number')) return {keys: values.map(String), binned: false};
  const order = values.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const keys = new Array(values.length);
  // equal values stay in one bin: a bin boundary never splits a run of ties
  let bin = 0;
  order.forEach(([v, i], rank) => {
    const want = Math.floor((rank * BINS) / values.length);
    if (want > bin && (rank === 0 || order[rank - 1][0] !== v)) bin = want;
    keys[i] = `bin${bin}`;
  });
  return {keys, binned: true};
}

/** Eta squared of ys grouped by keys: SS_between / SS_total (null when ys do not vary). */
export function etaSquared(keys, ys) {
  const n = ys.length;
  if (n < 2) return null;
  const mean = ys.reduce((a, b) => a + b, 0) / n;
  const total = ys.reduce((a, y) => a + (y - mean) ** 2, 0);
  if (!(total > 1e-15)) return null;
  const groups = new Map();
  keys.forEach((k, i) => {
    const g = groups.get(k) || {sum: 0, n: 0};
    g.sum += ys[i];
    g.n += 1;
    groups.set(k, g);
  });
  let between = 0;
  for (const g of groups.values()) between += g.n * (g.sum / g.n - mean) ** 2;
  return Math.min(1, Math.max(0, between / total));
}

/**
 * Each parameter column that varies over the trials with a finite best validation accuracy:
 * [{column, eta2, groups, binned}], largest share first; and n, the trials used.
 */
export function importance(trials, columns) {
  const used = trials.filter((t) => Number.isFinite(t.best_val_accuracy));
  const ys = used.map((t) => t.best_val_accuracy);
  const out = [];
  for (const c of columns) {
    const vals = used.map((t) => paramValue(t, c));
    if (new Set(vals.map(String)).size < 2) continue;
    const {keys, binned} = groupsOf(vals);
    out.push({column: c, eta2: etaSquared(keys, ys), groups: new Set(keys).size, binned});
  }
  out.sort((a, b) => (b.eta2 ?? -1) - (a.eta2 ?? -1));
  return {n: used.length, rows: out};
}

/** Renders the panel into el. */
export function renderImportance(el, trials, columns) {
  const {n, rows} = importance(trials, columns);
  const method = h('p', {class: 'method small muted'},
    'Method: one-way ANOVA per parameter, η² (eta squared) = the share of the variance of the trials\' best validation accuracy ',
    'explained by grouping them by that parameter alone; ',
    `numeric parameters with more than ${MAX_GROUPS} values (ranges) are cut into ${BINS} equal-count bins. `,
    'Shares overlap and need not add up to 100 %; with few trials per group they overstate.');
  if (n < 3 || !rows.length) {
    replace(el, h('p', {class: 'muted'}, n < 3 ? 'Importance needs at least 3 trials with a validation accuracy.' : 'No parameter varies in this sweep.'), method);
    return;
  }
  const table = h('table', {class: 'data importance'},
    h('caption', {class: 'sr-only'}, 'Parameter importance'),
    h('thead', null, h('tr', null, ['Parameter', 'Share of variance (η²)', 'Groups'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', null, rows.map((r) => h('tr', {dataset: {param: r.column.key, eta2: r.eta2 ?? ''}},
      h('th', {scope: 'row'}, r.column.label),
      h('td', {class: 'imp-cell'},
        h('span', {class: 'imp-bar', style: {width: `${(r.eta2 || 0) * 100}%`}, 'aria-hidden': 'true'}),
        h('span', {class: 'imp-value'}, r.eta2 === null ? '—' : pct(r.eta2, 1))),
      h('td', {class: 'num'}, `${r.groups}${r.binned ? ' bins' : ''}`)))));
  replace(el, h('p', {class: 'small'}, `Over ${plural(n, 'trial')} with a validation accuracy.`), table, method);
}
