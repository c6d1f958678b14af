// trial-filter.js - the sweep page's filter: words that a trial must all match, and how many
// curves to draw (the top N by best validation accuracy), so a sweep of hundreds of trials stays
// readable. A word is a status ("pruned"), any parameter's value ("relu", "64"), or a comparison
// with a parameter's key: "learning_rate<0.1", "neurons>=64", "activation=tanh",
// "best_val_accuracy>0.9".
import {h, uid} from './dom.js';
import {paramValue} from './grid.js';

const OPS = {
  '<': (a, b) => a < b, '<=': (a, b) => a <= b, '>': (a, b) => a > b, '>=': (a, b) => a >= b,
  '=': (a, b) => a === b, '!=': (a, b) => a !== b,
};

/** A predicate for the filter text over trials with the parameter columns; null when it is empty. */
export function parseFilter(text, columns) {
  const words = String(text || '').trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return null;
  const value = (t, key) => {
    if (key === 'best_val_accuracy' || key === 'final_val_accuracy' || key === 'iterations_done' || key === 'best_iteration') return t[key];
    if (key === 'status') return t.status;
    if (key === 'trial' || key === 'id') return t.id;
    const c = columns.find((x) => x.key === key);
    return c ? paramValue(t, c) : undefined;
  };
  const tests = words.map((w) => {
    const m = /^([a-z_]+)(<=|>=|!=|<|>|=)(.+)$/.exec(w);
    if (m) {
      const [, key, op, raw] = m;
      const num = Number(raw);
      return (t) => {
        const v = value(t, key);
        if (v === undefined || v === null) return false;
        if (typeof v === 'number' && Number.isFinite(num)) return OPS[op](v, num);
        return OPS[op](String(v).toLowerCase(), raw);
      };
    }
    return (t) => t.status === w || columns.some((c) => String(paramValue(t, c) ?? '').toLowerCase() === w) || String(t.id) === w;
  });
  return (t) => tests.every((f) => f(t));
}

/** The filter's controls; onChange() after each edit. Default top-N: all up to 20 trials, else 10. */
export function filterBar({onChange}) {
  const textId = uid('filter');
  const topId = uid('top');
  const text = h('input', {type: 'search', id: textId, name: 'filter', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'e.g. relu pruned learning_rate<0.1'});
  const top = h('input', {type: 'number', id: topId, name: 'top', min: 1, step: 1, inputmode: 'numeric', class: 'top-n'});
  const summary = h('p', {class: 'filter-summary small', 'aria-live': 'polite'});
  const clear = h('button', {type: 'button', class: 'small', hidden: true}, 'Clear filters');
  const wrap = h('div', {class: 'filter-bar'},
    h('div', {class: 'toolbar'},
      h('label', {for: textId}, 'Filter trials '), text,
      h('label', {for: topId}, 'Curves: top '), top, h('span', {class: 'muted small'}, 'by best validation accuracy'),
      clear),
    summary);
  let touchedTop = false;
  text.addEventListener('input', onChange);
  top.addEventListener('input', () => {
    touchedTop = true;
    onChange();
  });
  return {
    wrap,
    summary,
    clear,
    text,
    top,
    /** The top-N (null: every trial) given how many trials there are. */
    topN(count) {
      const v = Number(top.value);
      if (!touchedTop && top.value === '') return count > 20 ? 10 : null;
      return Number.isInteger(v) && v >= 1 ? v : null;
    },
    /** Shows the default top-N in the box once the trial count is known. */
    suggest(count) {
      if (!touchedTop && top.value === '' && count > 20) top.value = '10';
    },
  };
}
