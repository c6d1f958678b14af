// best-so-far.js - the sweep's best validation accuracy so far against wall time since it
// started: every recorded iteration of every trial is placed at its trial's start plus the
// training seconds up to it, and the line steps up whenever a trial beats the best. It shows
// what a budget buys: where the curve flattens, more time stopped paying.
import {loadUPlot, formatPercentTick, formatTick} from './charts.js';
import {OKABE_ITO} from './palette.js';

/**
 * The steps of the best so far: {xs (seconds since the sweep started), ys}, one point per new
 * best. trials: the sweep's trials; rowsOf(id): the trial's history rows (by iteration).
 */
export function bestSoFar(sweepStart, trials, rowsOf) {
  const t0 = Date.parse(sweepStart || '');
  const events = [];
  for (const t of trials) {
    const start = Date.parse(t.started_at || '');
    if (Number.isNaN(start) || Number.isNaN(t0)) continue;
    let at = Math.max(0, (start - t0) / 1000);
    for (const r of rowsOf(t.id) || []) {
      if (!r) continue;
      at += Number(r.seconds) || 0;
      if (Number.isFinite(r.val_accuracy)) events.push([at, r.val_accuracy]);
    }
  }
  events.sort((a, b) => a[0] - b[0]);
  const xs = [];
  const ys = [];
  let best = -Infinity;
  for (const [x, y] of events) {
    if (y > best) {
      best = y;
      xs.push(x);
      ys.push(y);
    }
  }
  return {xs, ys};
}

export class BestSoFarChart {
  constructor(el) {
    this.el = el;
    this.plot = null;
    this.data = [[], []];
    this.empty = document.createElement('p');
    this.empty.className = 'muted chart-empty';
    this.empty.textContent = 'No trial has a validation accuracy yet.';
    this.empty.hidden = true;
  }

  /** Call once the element is in the page. */
  async init() {
    this.el.before(this.empty);
    const UPlot = await loadUPlot();
    if (!UPlot) {
      this.el.textContent = 'Charts are unavailable: the uPlot package is not installed (npm ci --prefix web).';
      return;
    }
    const width = Math.max(280, Math.floor(this.el.clientWidth || 640));
    this.plot = new UPlot({
      width,
      height: 220,
      scales: {x: {time: false}},
      legend: {show: false},
      axes: [
        {label: 'Seconds since the sweep started', values: (u, s) => s.map(formatTick), space: 80},
        {label: 'Best validation accuracy', values: (u, s) => s.map(formatPercentTick), size: 64},
      ],
      series: [{}, {label: 'Best so far', stroke: OKABE_ITO[2], width: 2, paths: UPlot.paths.stepped({align: 1}),
        points: {show: true, size: 5}}],
    }, this.data, this.el);
    this.plot.root.setAttribute('aria-hidden', 'true');
  }

  /** Shows {xs, ys} from bestSoFar. */
  set({xs, ys}) {
    this.data = [xs, ys];
    this.el.dataset.points = String(xs.length);
    this.el.dataset.best = ys.length ? String(ys[ys.length - 1]) : '';
    this.empty.hidden = xs.length > 0;
    this.el.hidden = !xs.length;
    if (this.plot) this.plot.setData(this.data, true);
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}
