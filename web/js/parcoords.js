// parcoords.js - every trial of a sweep as a line across parallel axes: the parameters that vary,
// then the best validation accuracy (lines coloured by it, viridis, so colour repeats the last
// axis and is never the only cue). Drag along an axis to brush a band of it: only trials inside
// every band stay lit, and the page filters its list and curves to them. Keyboard: each axis is
// focusable; arrow keys move a band (created on the first press), Shift + arrows resize it,
// Escape clears it.
import {rampColor} from './palette.js';
import {paramValue, axisValues} from './grid.js';
import {formatTick, formatPercentTick} from './charts.js';

const NS = 'http://www.w3.org/2000/svg';
const PAD = {top: 24, bottom: 34, left: 40, right: 56};

function svg(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  if (parent) parent.append(el);
  return el;
}

/** An axis's scale over the trials: value -> 0..1 (0 at the bottom), and its tick labels. */
export function axisScale(trials, column, get) {
  const vals = trials.map(get).filter((v) => v !== null && v !== undefined && !(typeof v === 'number' && !Number.isFinite(v)));
  const numeric = vals.length && vals.every((v) => typeof v === 'number');
  if (!numeric) {
    const cats = column ? axisValues(trials, column) : [...new Set(vals)];
    const pos = (v) => (cats.length < 2 ? 0.5 : cats.indexOf(v) / (cats.length - 1));
    return {at: (v) => (cats.includes(v) ? pos(v) : null), ticks: cats.map((c) => ({pos: pos(c), label: String(c)})), kind: 'category'};
  }
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  const log = lo > 0 && hi / lo >= 20;
  const f = log ? Math.log10 : (x) => x;
  if (lo === hi) {
    lo -= lo === 0 ? 1 : Math.abs(lo) * 0.1;
    hi += hi === 0 ? 1 : Math.abs(hi) * 0.1;
  }
  const a = f(lo);
  const b = f(hi);
  const at = (v) => (typeof v === 'number' && Number.isFinite(v) && (!log || v > 0) ? (f(v) - a) / (b - a) : null);
  const distinct = [...new Set(vals)].sort((x, y) => x - y);
  const tickVals = distinct.length <= 6 ? distinct : [0, 0.25, 0.5, 0.75, 1].map((t) => (log ? 10 ** (a + t * (b - a)) : a + t * (b - a)));
  return {at, ticks: tickVals.map((v) => ({pos: at(v), value: v})), kind: log ? 'log' : 'linear', invert: (p) => (log ? 10 ** (a + p * (b - a)) : a + p * (b - a))};
}

export class ParallelCoordinates {
  /**
   * el: the container; columns: the parameter columns to draw (grid.js paramColumns, those that
   * vary); onBrush(): the brushes changed (read them with inBrush).
   */
  constructor(el, {onBrush}) {
    this.el = el;
    this.onBrush = onBrush;
    this.brush = new Map(); // axis key -> [lo, hi] in 0..1 (0 at the bottom)
    this.axes = [];
    this.trials = [];
    this.height = 300;
  }

  /** Sets the axes (parameter columns) and redraws with the trials. */
  draw(trials, columns) {
    this.trials = trials;
    const metric = {key: 'best_val_accuracy', label: 'Best val. acc.', metric: true, get: (t) => t.best_val_accuracy};
    this.axes = [...columns.map((c) => ({key: c.key, label: c.label, column: c, get: (t) => paramValue(t, c)})), metric];
    for (const a of this.axes) a.scale = axisScale(trials, a.column, a.get);
    for (const k of [...this.brush.keys()]) if (!this.axes.some((a) => a.key === k)) this.brush.delete(k);
    this.render();
  }

  /** Whether trial t is inside every band. */
  inBrush(t) {
    for (const [key, [lo, hi]] of this.brush) {
      const a = this.axes.find((x) => x.key === key);
      if (!a) continue;
      const p = a.scale.at(a.get(t));
      if (p === null || p < lo - 1e-9 || p > hi + 1e-9) return false;
    }
    return true;
  }

  /** The bands as text ("Learning rate 0.01 to 0.1"), for the page's filter summary. */
  describe() {
    const out = [];
    for (const [key, [lo, hi]] of this.brush) {
      const a = this.axes.find((x) => x.key === key);
      if (!a) continue;
      if (a.scale.invert) {
        const fmt = a.metric ? formatPercentTick : formatTick;
        out.push(`${a.label} ${fmt(a.scale.invert(lo))} to ${fmt(a.scale.invert(hi))}`);
      } else {
        out.push(`${a.label}: ${a.scale.ticks.filter((tk) => tk.pos >= lo - 1e-9 && tk.pos <= hi + 1e-9).map((tk) => tk.label).join(', ')}`);
      }
    }
    return out;
  }

  clear() {
    this.brush.clear();
    this.render();
    this.onBrush();
  }

  setBrush(key, band) {
    if (band) this.brush.set(key, [Math.max(0, Math.min(band[0], band[1])), Math.min(1, Math.max(band[0], band[1]))]);
    else this.brush.delete(key);
    this.render();
    this.onBrush();
  }

  render() {
    const width = Math.max(360, Math.floor(this.el.clientWidth || 800));
    const n = this.axes.length;
    const innerH = this.height - PAD.top - PAD.bottom;
    const x = (i) => PAD.left + (n < 2 ? 0 : (i * (width - PAD.left - PAD.right)) / (n - 1));
    const y = (p) => PAD.top + (1 - p) * innerH;
    const root = svg('svg', {width, height: this.height, class: 'parcoords', role: 'group',
      'aria-label': `Parallel coordinates of ${this.trials.length} trials`});
    const lines = svg('g', {class: 'pc-lines', 'aria-hidden': 'true'}, root);
    const metricAxis = this.axes[n - 1];
    const lit = [];
    const dim = [];
    for (const t of this.trials) (this.inBrush(t) ? lit : dim).push(t);
    const path = (t) => {
      let d = '';
      let pen = false;
      this.axes.forEach((a, i) => {
        const p = a.scale.at(a.get(t));
        if (p === null) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(p).toFixed(1)}`;
        pen = true;
      });
      return d;
    };
    for (const t of dim) svg('path', {d: path(t), class: 'pc-line pc-dim', dataset: null}, lines);
    for (const t of lit) {
      const p = metricAxis.scale.at(t.best_val_accuracy);
      svg('path', {d: path(t), class: 'pc-line', stroke: p === null ? '#8b929c' : rampColor(p).background,
        'stroke-dasharray': p === null ? '4 3' : null, 'data-trial': t.id}, lines);
    }
    this.axes.forEach((a, i) => this.drawAxis(root, a, x(i), y, innerH));
    this.el.replaceChildren(root);
    this.el.dataset.lit = String(lit.length);
    this.el.dataset.axes = String(n);
  }

  drawAxis(root, a, ax, y, innerH) {
    const band = this.brush.get(a.key);
    const g = svg('g', {class: 'pc-axis', tabindex: 0, role: 'slider', 'data-axis': a.key,
      'aria-label': `${a.label}: ${band ? 'band set' : 'no band'}; arrow keys move a band, Shift resizes, Escape clears`,
      'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': band ? Math.round(((band[0] + band[1]) / 2) * 100) : 50}, root);
    if (band && a.scale.invert) {
      g.dataset.lo = String(a.scale.invert(band[0]));
      g.dataset.hi = String(a.scale.invert(band[1]));
    }
    svg('line', {x1: ax, x2: ax, y1: y(0), y2: y(1), class: 'pc-axis-line'}, g);
    const fmt = a.metric ? formatPercentTick : formatTick;
    for (const tk of a.scale.ticks) {
      if (tk.pos === null) continue;
      svg('line', {x1: ax - 4, x2: ax, y1: y(tk.pos), y2: y(tk.pos), class: 'pc-tick'}, g);
      svg('text', {x: ax - 6, y: y(tk.pos) + 4, 'text-anchor': 'end', class: 'pc-tick-label'}, g).textContent =
        tk.label !== undefined ? tk.label : fmt(tk.value);
    }
    svg('text', {x: ax, y: y(1) - 10, 'text-anchor': 'middle', class: 'pc-axis-label'}, g).textContent = a.label;
    if (band) svg('rect', {x: ax - 9, width: 18, y: y(band[1]), height: Math.max(2, y(band[0]) - y(band[1])), class: 'pc-brush'}, g);
    const hit = svg('rect', {x: ax - 14, width: 28, y: y(1) - 4, height: innerH + 8, class: 'pc-hit'}, g);
    // A drag draws its band in place (the svg is not rebuilt under the pointer); the release
    // keeps it, a click without a drag clears the axis's band.
    hit.addEventListener('pointerdown', (ev) => {
      ev.preventDefault();
      const r = hit.getBoundingClientRect();
      const toP = (e2) => Math.max(0, Math.min(1, 1 - (e2.clientY - r.top - 4) / (r.height - 8)));
      const start = toP(ev);
      let band = null;
      let preview = null;
      const move = (e2) => {
        const p = toP(e2);
        if (Math.abs(p - start) < 0.01) return;
        band = [Math.min(start, p), Math.max(start, p)];
        if (!preview) preview = svg('rect', {x: ax - 9, width: 18, class: 'pc-brush'}, g);
        preview.setAttribute('y', y(band[1]));
        preview.setAttribute('height', Math.max(2, y(band[0]) - y(band[1])));
      };
      const up = (e2) => {
        window.removeEventListener('pointermove', move);
        window.removeEventListener('pointerup', up);
        move(e2);
        this.setBrush(a.key, band);
      };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', up);
    });
    g.addEventListener('keydown', (ev) => {
      const cur = this.brush.get(a.key) || [0.34, 0.66];
      const step = 0.05;
      let next = null;
      if (ev.key === 'Escape' || ev.key === 'Delete') {
        this.setBrush(a.key, null);
      } else if (ev.key === 'ArrowUp' || ev.key === 'ArrowDown') {
        const d = ev.key === 'ArrowUp' ? step : -step;
        const w = cur[1] - cur[0];
        if (!this.brush.has(a.key)) next = cur;
        else if (ev.shiftKey) next = [cur[0], Math.max(cur[0] + 0.02, Math.min(1, cur[1] + d))];
        else {
          const lo = Math.max(0, Math.min(1 - w, cur[0] + d));
          next = [lo, lo + w];
        }
        this.setBrush(a.key, next);
      } else return;
      ev.preventDefault();
      const again = this.el.querySelector(`g.pc-axis[data-axis="${a.key}"]`);
      if (again) again.focus();
    });
  }
}
