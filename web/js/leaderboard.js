// leaderboard.js - the trials of a sweep as a sortable table, one row per trial, the best one
// highlighted (a background, a bar and the word "best", not colour alone); pruned and stopped
// trials carry their rung (trial-state.js); rows outside the page's filter are hidden. Rows are kept and
// updated in place as events arrive, and only moved when the order changes, so keyboard focus
// inside the table survives live updates. Where each trial ran (rank · host · workers) is a
// column only once the sweep has trials on more than one rank: one machine shows no such column.
import {h, append, replace} from './dom.js';
import {statusCell, stopMark} from './trial-state.js';
import {seriesStyle} from './palette.js';
import {paramValue} from './grid.js';
import {pct, num, duration, placement, rankCount, DASH} from './format.js';

/**
 * The columns: key, header, value(trial) to sort by, show(trial) to display (default: the value).
 * The parameters' come from the server's parameter table (grid.js paramColumns): those the
 * leaderboard shows, in their order, the run length (iterations) last as "done / planned".
 */
function tableColumns(params) {
  const shown = params.filter((c) => c.leaderboard);
  const progress = shown.filter((c) => c.runLength).map((c) => ({key: c.key, label: c.label, num: true,
    value: (t) => t.iterations_done ?? 0, show: (t) => `${num(t.iterations_done ?? 0)} / ${num(paramValue(t, c))}`}));
  return [
    {key: 'trial', label: 'Trial', value: (t) => t.ordinal ?? t.id},
    {key: 'status', label: 'Status', value: (t) => t.status},
    ...shown.filter((c) => !c.runLength).map((c) => ({key: c.key, label: c.label, num: c.num, value: (t) => paramValue(t, c)})),
    ...progress,
    {key: 'best_val_accuracy', label: 'Best val. acc.', num: true, better: 'desc', value: (t) => t.best_val_accuracy,
      show: (t) => pct(t.best_val_accuracy, 2)},
    {key: 'best_iteration', label: 'Best at it.', num: true, value: (t) => t.best_iteration},
    {key: 'final_val_accuracy', label: 'Final val. acc.', num: true, better: 'desc', value: (t) => t.final_val_accuracy,
      show: (t) => pct(t.final_val_accuracy, 2)},
    {key: 'seconds', label: 'Time', num: true, value: (t) => t.seconds,
      show: (t) => (t.iterations_done ? duration(t.seconds) : DASH)},
  ];
}

// Added to the columns once trials ran on more than one rank (Leaderboard.draw).
const placementColumn = {key: 'placement', label: 'Ran on', cls: 'placement', value: (t) => (t.placement ? t.placement.rank : null),
  show: (t) => placement(t.placement)};

const missing = (v) => v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v));

function compare(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', {numeric: true});
}

function display(c, t) {
  if (c.show) return c.show(t);
  const v = c.value(t);
  if (missing(v)) return DASH;
  return typeof v === 'number' ? num(v) : String(v);
}

/** The trial with the highest best validation accuracy (ties: the lowest id), or null. */
export function bestTrialId(trials) {
  let best = null;
  for (const t of trials) {
    if (Number.isFinite(t.best_val_accuracy) && (!best || t.best_val_accuracy > best.best_val_accuracy ||
      (t.best_val_accuracy === best.best_val_accuracy && t.id < best.id))) best = t;
  }
  return best ? best.id : null;
}

export {tableColumns};

export class Leaderboard {
  /**
   * table: an empty <table>; params: the parameter columns (grid.js paramColumns); view: {sort,
   * dir} (read and written here); seriesOf(trialId): the trial's chart series (for its colour);
   * onFocus(series or null): a row is pointed at or left; onSort(): the sort changed.
   */
  constructor(table, {params, view, seriesOf, onFocus, onSort}) {
    this.columns = tableColumns(params);
    this.view = view;
    this.seriesOf = seriesOf;
    this.onFocus = onFocus;
    this.onSort = onSort;
    this.rows = new Map(); // trial id -> {tr, cells}
    this.buttons = new Map();
    this.trials = [];
    this.head = h('tr');
    for (const c of this.columns) this.headCell(c);
    this.tbody = h('tbody');
    append(table, [h('caption', {class: 'sr-only'}, 'Trials of this sweep'), h('thead', null, this.head), this.tbody]);
  }

  headCell(c) {
    const btn = h('button', {type: 'button', class: 'sort'}, c.label, h('span', {class: 'sort-icon', 'aria-hidden': 'true'}));
    btn.addEventListener('click', () => this.sortBy(c));
    this.buttons.set(c.key, btn);
    this.head.append(h('th', {scope: 'col', class: c.num ? 'num' : null, dataset: {col: c.key}}, btn));
  }

  /** Adds a column at the end, to the rows already drawn too. */
  addColumn(c) {
    this.columns.push(c);
    this.headCell(c);
    for (const r of this.rows.values()) {
      const cell = h('td', {class: [c.num ? 'num' : null, c.cls || null]});
      r.cells.set(c.key, cell);
      r.tr.append(cell);
    }
  }

  sortBy(c) {
    if (this.view.sort === c.key) this.view.dir = this.view.dir === 'asc' ? 'desc' : 'asc';
    else {
      this.view.sort = c.key;
      this.view.dir = c.better || 'asc';
    }
    this.onSort();
    this.draw(this.trials);
  }

  /** The trials in the table's order (shown rows only). */
  ordered() {
    return this.trials.filter((t) => this.shown(t));
  }

  row(t) {
    let r = this.rows.get(t.id);
    if (r) return r;
    const i = this.seriesOf(t.id);
    const style = seriesStyle(i);
    const cells = new Map();
    const tr = h('tr', {dataset: {trial: t.id}});
    for (const c of this.columns) {
      const cell = c.key === 'trial'
        ? h('th', {scope: 'row'},
          h('span', {class: ['swatch', style.dash ? 'swatch-dashed' : null], style: {'border-color': style.color}, 'aria-hidden': 'true'}),
          h('a', {href: `/trials/${t.id}`}, `Trial ${t.id}`),
          h('span', {class: 'best-tag', hidden: true}, ' ★ best'))
        : h('td', {class: [c.num ? 'num' : null, c.cls || null]});
      cells.set(c.key, cell);
      tr.append(cell);
    }
    tr.addEventListener('mouseenter', () => this.onFocus(i));
    tr.addEventListener('mouseleave', () => this.onFocus(null));
    tr.addEventListener('focusin', () => this.onFocus(i));
    tr.addEventListener('focusout', () => this.onFocus(null));
    r = {tr, cells};
    this.rows.set(t.id, r);
    return r;
  }

  /** Shows the trials (an iterable of trial objects) in the current sort; shown(t) false hides a row. */
  draw(trials, shown = this.shown) {
    this.shown = shown || (() => true);
    this.trials = [...trials];
    // Once shown (trials on two ranks or more) the column stays, also when the page refreshes.
    if (!this.buttons.has('placement') && rankCount(this.trials) > 1) this.addColumn(placementColumn);
    const best = bestTrialId(this.trials);
    const col = this.columns.find((c) => c.key === this.view.sort) || this.columns.find((c) => c.key === 'best_val_accuracy');
    const sign = this.view.dir === 'asc' ? 1 : -1;
    const tie = (a, b) => (a.ordinal ?? a.id) - (b.ordinal ?? b.id);
    const sorted = this.trials.sort((a, b) => {
      const va = col.value(a);
      const vb = col.value(b);
      if (missing(va) || missing(vb)) return (missing(va) - missing(vb)) || tie(a, b); // missing last
      return sign * compare(va, vb) || tie(a, b);
    });
    for (const [key, btn] of this.buttons) {
      const th = btn.parentElement;
      if (key === col.key) th.setAttribute('aria-sort', this.view.dir === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      btn.lastChild.textContent = key === col.key ? (this.view.dir === 'asc' ? ' ▲' : ' ▼') : '';
    }
    for (const t of sorted) {
      const r = this.row(t);
      for (const c of this.columns) {
        if (c.key === 'trial') continue;
        const cell = r.cells.get(c.key);
        if (c.key === 'status') {
          const mark = `${t.status}|${stopMark(t)}`;
          if (cell.dataset.mark !== mark) {
            replace(cell, statusCell(t));
            cell.dataset.status = t.status;
            cell.dataset.mark = mark;
          }
          continue;
        }
        const text = display(c, t);
        if (cell.textContent !== text) cell.textContent = text;
      }
      r.tr.hidden = !this.shown(t);
      r.tr.classList.toggle('best', t.id === best);
      r.cells.get('trial').querySelector('.best-tag').hidden = t.id !== best;
    }
    const current = Array.from(this.tbody.children);
    if (current.length !== sorted.length || sorted.some((t, k) => current[k] !== this.rows.get(t.id).tr)) {
      this.tbody.replaceChildren(...sorted.map((t) => this.rows.get(t.id).tr));
    }
  }
}
