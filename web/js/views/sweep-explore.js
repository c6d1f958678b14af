// views/sweep-explore.js - the sweep page's tools for many trials: the filter bar and the curves'
// readout and legend (above and below the curves), the best so far against wall time, the
// parallel coordinates whose bands filter the list and the curves, and each parameter's
// importance. The page owns the trials; this reads them and tells the chart and the leaderboard
// what to show.
import {h, replace} from '../dom.js';
import {ParallelCoordinates} from '../parcoords.js';
import {renderImportance} from '../importance.js';
import {BestSoFarChart, bestSoFar} from '../best-so-far.js';
import {filterBar} from '../trial-filter.js';
import {Selection} from '../selection.js';
import {paramValue, varyingParams} from '../grid.js';
import {pct, num, DASH} from '../format.js';

export class SweepExplorer {
  /**
   * trials (Map id -> trial), hist (Map id -> rows), order (series order of trial ids), columns
   * (grid.js paramColumns), seriesOf(id), metricLabel() and isAccuracy(): the curves' metric.
   */
  constructor({trials, hist, order, columns, seriesOf, metricLabel, isAccuracy}) {
    Object.assign(this, {trials, hist, order, columns, seriesOf, metricLabel, isAccuracy});
    this.chart = null;
    this.board = null;
    this.analysed = '';
    this.bar = filterBar({onChange: () => this.drawSelection()});
    this.readout = h('p', {class: 'readout', 'aria-live': 'off'}, 'Point at a curve (or a leaderboard row) for its trial, parameters and value.');
    this.legend = h('ul', {class: 'legend curve-legend', 'aria-label': 'Curves drawn'});
    const bestEl = h('div', {class: 'chart', id: 'best-so-far'});
    const pcEl = h('div', {class: 'parcoords-wrap', id: 'parcoords'});
    this.impEl = h('div', {class: 'importance-wrap', id: 'importance'});
    this.best = new BestSoFarChart(bestEl);
    this.pc = new ParallelCoordinates(pcEl, {onBrush: () => this.drawSelection()});
    this.selection = new Selection({bar: this.bar, pc: this.pc, columns});
    this.bar.clear.addEventListener('click', () => {
      this.bar.text.value = '';
      this.pc.clear();
    });
    this.sections = [
      h('section', {class: 'card', 'aria-labelledby': 'best-title'},
        h('h2', {id: 'best-title'}, 'Best so far'),
        h('figure', {class: 'chart-figure'}, bestEl, h('figcaption', null, 'The best validation accuracy any trial had reached, against wall time since the sweep started.'))),
      h('section', {class: 'card', 'aria-labelledby': 'pc-title'},
        h('h2', {id: 'pc-title'}, 'Every trial: parameters to accuracy'),
        h('p', {class: 'muted small'}, 'One line per trial, coloured by its best validation accuracy. Drag along an axis (or focus it and use the arrow keys) to keep a band of it: the leaderboard and the curves follow. Click an axis to clear its band.'),
        pcEl),
      h('section', {class: 'card', 'aria-labelledby': 'imp-title'},
        h('h2', {id: 'imp-title'}, 'Parameter importance'), this.impEl),
    ];
  }

  /** Once: the chart of the curves and the leaderboard it filters. */
  async init(chart, board) {
    this.chart = chart;
    this.board = board;
    await this.best.init();
  }

  /** Whether the leaderboard shows trial t. */
  shows(t) {
    return this.selection.matched.has(t.id);
  }

  /** The readout: trial tid, its parameters that vary, the value at an iteration (or its best). */
  showReadout(tid, iteration, value) {
    const t = this.trials.get(tid);
    if (!t) return;
    const vary = varyingParams([...this.trials.values()], this.columns);
    const params = (vary.length ? vary : this.columns.filter((c) => c.leaderboard))
      .map((c) => `${c.label} ${paramValue(t, c) === null ? DASH : paramValue(t, c)}`).join(', ');
    const fmt = (v) => (this.isAccuracy() ? pct(v, 2) : num(v));
    replace(this.readout, h('strong', null, `Trial ${tid}`), ` · ${params} · `,
      iteration ? `${this.metricLabel()} at iteration ${iteration}: ` : 'best validation accuracy: ',
      h('strong', null, iteration ? fmt(value) : pct(t.best_val_accuracy, 2)));
    this.readout.dataset.trial = String(tid);
    this.readout.dataset.iteration = iteration ? String(iteration) : '';
  }

  /** Applies the filter, bands and top-N to the leaderboard, the curves and the legend. */
  drawSelection() {
    if (!this.board) return;
    const list = [...this.trials.values()];
    this.bar.suggest(list.length);
    this.selection.update(list);
    this.chart.setVisible((i) => this.selection.curves.has(this.order[i]));
    this.selection.legend(this.legend, this.trials, this.seriesOf, (i) => this.chart.focus(i));
    this.board.draw(this.trials.values(), (t) => this.shows(t));
  }

  /** Redraws the parallel coordinates, the importance and the best so far (when anything changed). */
  drawAnalysis(sweepStartedAt) {
    const list = [...this.trials.values()];
    // unchanged trials: keep the drawing (and the keyboard focus on an axis)
    const sig = list.map((t) => `${t.id}:${t.status}:${t.best_val_accuracy}:${this.hist.get(t.id).filter(Boolean).length}`).join(',');
    if (sig === this.analysed) return;
    this.analysed = sig;
    const vary = varyingParams(list, this.columns);
    this.pc.draw(list, vary);
    renderImportance(this.impEl, list, vary);
    this.best.set(bestSoFar(sweepStartedAt, list, (tid) => this.hist.get(tid)));
    this.drawSelection(); // the bands' axes may have changed
  }

  destroy() {
    this.best.destroy();
  }
}
