// selection.js - which trials the sweep page shows: those matching the filter words and inside
// every band brushed on the parallel coordinates, in the leaderboard; of those, the top N by best
// validation accuracy as curves, each named in the legend with its colour and dash.
import {h, replace} from './dom.js';
import {parseFilter} from './trial-filter.js';
import {seriesStyle} from './palette.js';
import {pct, plural} from './format.js';

export class Selection {
  /** bar: trial-filter.js filterBar; pc: a ParallelCoordinates; columns: the parameter columns. */
  constructor({bar, pc, columns}) {
    this.bar = bar;
    this.pc = pc;
    this.columns = columns;
    this.matched = new Set();
    this.curves = new Set();
    this.total = 0;
  }

  /** Recomputes from the trials (an array). */
  update(trials) {
    const words = parseFilter(this.bar.text.value, this.columns);
    this.total = trials.length;
    this.matched = new Set(trials.filter((t) => (!words || words(t)) && this.pc.inBrush(t)).map((t) => t.id));
    const n = this.bar.topN(trials.length);
    const ranked = trials.filter((t) => this.matched.has(t.id))
      .sort((a, b) => (Number.isFinite(b.best_val_accuracy) ? b.best_val_accuracy : -1) - (Number.isFinite(a.best_val_accuracy) ? a.best_val_accuracy : -1) || a.id - b.id);
    this.curves = new Set((n ? ranked.slice(0, n) : ranked).map((t) => t.id));
    const bands = this.pc.describe();
    const filtered = !!words || bands.length > 0;
    this.bar.clear.hidden = !filtered && !this.bar.text.value;
    replace(this.bar.summary,
      `Showing ${this.matched.size} of ${plural(trials.length, 'trial')}`,
      filtered ? ` (${[words ? `matching “${this.bar.text.value.trim()}”` : null, ...bands].filter(Boolean).join('; ')})` : '',
      `; ${this.curves.size === this.matched.size ? 'every one' : `the top ${this.curves.size}`} as curves.`);
    this.bar.summary.dataset.matched = String(this.matched.size);
    this.bar.summary.dataset.curves = String(this.curves.size);
  }

  /**
   * The legend of the drawn curves into el. seriesOf(id): the series index; trials by id;
   * onFocus(series or null): the pointer is on an entry (its curve stands out) or left it.
   */
  legend(el, trials, seriesOf, onFocus = () => {}) {
    const shown = [...this.curves].map((id) => trials.get(id)).filter(Boolean)
      .sort((a, b) => (b.best_val_accuracy ?? -1) - (a.best_val_accuracy ?? -1) || a.id - b.id);
    replace(el, shown.map((t) => {
      const st = seriesStyle(seriesOf(t.id));
      return h('li', {class: 'legend-item', dataset: {trial: t.id},
        on: {mouseenter: () => onFocus(seriesOf(t.id)), mouseleave: () => onFocus(null)}},
        h('span', {class: ['swatch', st.dash ? 'swatch-dashed' : null], style: {'border-color': st.color}, 'aria-hidden': 'true'}),
        ` Trial ${t.id} `, h('span', {class: 'muted'}, pct(t.best_val_accuracy, 1)));
    }));
  }
}
