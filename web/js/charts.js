// charts.js - iteration curves on uPlot (the npm package, served from /node_modules). One chart
// holds many series that fill in as iterations arrive; redraws are batched per animation frame.
// Series can be hidden (a page's top-N and filter); the pointer reports the nearest shown curve
// at its iteration (onHover), for a readout beside the chart.
import {seriesStyle} from './palette.js';

let uPlotPromise = null;

// Iterations are whole numbers: x ticks only at whole steps.
const ITERATION_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000];

/** uPlot's constructor, or null when web/node_modules is missing (run npm ci --prefix web). */
export function loadUPlot() {
  if (!uPlotPromise) {
    uPlotPromise = import('/node_modules/uplot/dist/uPlot.esm.js')
      .then((m) => m.default)
      .catch(() => null);
  }
  return uPlotPromise;
}

export function formatTick(v) {
  if (!Number.isFinite(v)) return '';
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US');
  return String(Number(v.toPrecision(3)));
}

export class CurveChart {
  /**
   * el: the element the chart fills; series: [{label, color?, dash?}]; yLabel: the y axis.
   * Call await init() once before the first set().
   */
  constructor(el, {series = [], yLabel = '', xLabel = 'Iteration', height = 320, yFormat = formatTick, onHover = null} = {}) {
    this.onHover = onHover;
    this.shown = series.map(() => true);
    this.el = el;
    this.yFormat = yFormat;
    this.labels = series.map((s) => s.label);
    this.styles = series.map((s, i) => ({...seriesStyle(i), ...s}));
    this.yLabel = yLabel;
    this.xLabel = xLabel;
    this.height = height;
    this.xs = [];
    this.ys = series.map(() => []);
    this.plot = null;
    this.frame = 0;
    this.observer = null;
    this.focused = null;
  }

  async init() {
    const UPlot = await loadUPlot();
    if (!UPlot) {
      this.el.classList.add('chart-missing');
      this.el.textContent = 'Charts are unavailable: the uPlot package is not installed (npm ci --prefix web).';
      return this;
    }
    this.UPlot = UPlot;
    this.build();
    this.observer = new ResizeObserver(() => {
      if (this.plot) {
        const w = this.width();
        if (w !== this.plot.width) this.plot.setSize({width: w, height: this.height});
      }
    });
    this.observer.observe(this.el);
    return this;
  }

  width() {
    return Math.max(280, Math.floor(this.el.clientWidth || 640));
  }

  build() {
    if (this.plot) this.plot.destroy();
    const opts = {
      width: this.width(),
      height: this.height,
      scales: {x: {time: false, range: (u, min, max) => [Math.max(1, min ?? 1), Math.max(max ?? 2, (min ?? 1) + 1)]}},
      legend: {show: false},
      cursor: {focus: {prox: 24}, drag: {x: true, y: false}},
      focus: {alpha: 0.25},
      hooks: {setCursor: [(u) => this.hover(u)]},
      axes: [
        {label: this.xLabel, values: (u, splits) => splits.map(formatTick), incrs: ITERATION_STEPS},
        {label: this.yLabel, values: (u, splits) => splits.map((v) => this.yFormat(v)), size: 64},
      ],
      series: [
        {label: this.xLabel},
        ...this.labels.map((label, i) => ({
          label,
          stroke: this.styles[i].color,
          width: 2,
          dash: this.styles[i].dash || undefined,
          spanGaps: false,
          show: this.shown[i] !== false,
        })),
      ],
    };
    this.plot = new this.UPlot(opts, this.data(), this.el);
    this.plot.root.setAttribute('aria-hidden', 'true');
  }

  data() {
    return [this.xs, ...this.ys];
  }

  /** Adds a series after the others (a trial a sweep's search added while it ran); returns its
   * index. */
  addSeries({label, ...style}) {
    const i = this.labels.length;
    this.labels.push(label);
    this.styles.push({...seriesStyle(i), ...style});
    this.ys.push(this.xs.map(() => null));
    this.shown.push(true);
    if (this.plot) this.build();
    return i;
  }

  /** Shows the series for which show(i) is true, hides the others. */
  setVisible(show) {
    const next = this.ys.map((_, i) => !!show(i));
    if (next.every((v, i) => v === this.shown[i])) return;
    this.shown = next;
    if (this.plot) {
      this.plot.batch(() => next.forEach((v, i) => {
        if (this.plot.series[i + 1].show !== v) this.plot.setSeries(i + 1, {show: v});
      }));
    }
    this.el.dataset.shown = String(next.filter(Boolean).length);
  }

  /** The pointer moved: the nearest shown curve at its iteration, or null (left the plot). */
  hover(u) {
    if (!this.onHover) return;
    const idx = u.cursor.idx;
    const top = u.cursor.top;
    if (idx === null || idx === undefined || !(top >= 0)) {
      this.onHover(null);
      return;
    }
    let best = null;
    this.ys.forEach((y, i) => {
      const v = y[idx];
      if (!this.shown[i] || v === null || v === undefined) return;
      const d = Math.abs(u.valToPos(v, 'y') - top);
      if (!best || d < best.d) best = {d, series: i, iteration: this.xs[idx], value: v};
    });
    this.onHover(best);
  }

  /** Sets series i's value at iteration it (1-based); nulls make gaps. */
  set(i, it, value) {
    if (i < 0 || i >= this.ys.length || !(it >= 1)) return;
    while (this.xs.length < it) {
      this.xs.push(this.xs.length + 1);
      for (const y of this.ys) y.push(null);
    }
    this.ys[i][it - 1] = Number.isFinite(value) ? value : null;
    this.invalidate();
  }

  /** Replaces series i's values (values[k] is iteration k + 1). */
  setSeriesValues(i, values) {
    this.clearSeries(i);
    values.forEach((v, k) => this.set(i, k + 1, v));
    this.invalidate();
  }

  clearSeries(i) {
    if (i < 0 || i >= this.ys.length) return;
    this.ys[i].fill(null);
    this.invalidate();
  }

  clearAll() {
    this.xs = [];
    this.ys = this.ys.map(() => []);
    this.invalidate();
  }

  /** Changes the y axis (label and tick format); the data stays. */
  setY(label, format = formatTick) {
    this.yLabel = label;
    this.yFormat = format;
    if (this.plot) this.build();
  }

  /** Highlights series i (null: none). */
  focus(i) {
    this.focused = i;
    if (this.plot) this.plot.setSeries(i === null ? null : i + 1, {focus: true});
  }

  /** How many points are drawn, and how many series have at least one. */
  counts() {
    let points = 0;
    let series = 0;
    for (const y of this.ys) {
      let n = 0;
      for (const v of y) if (v !== null) n += 1;
      points += n;
      if (n) series += 1;
    }
    return {points, series};
  }

  invalidate() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.plot) this.plot.setData(this.data(), true);
      const c = this.counts();
      this.el.dataset.points = String(c.points);
      this.el.dataset.series = String(c.series);
    });
  }

  destroy() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (this.observer) this.observer.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

/** Ticks of a fraction as percentages: 0.953 -> "95.3 %". */
export function formatPercentTick(v) {
  if (!Number.isFinite(v)) return '';
  return `${Number((v * 100).toPrecision(3))} %`;
}
