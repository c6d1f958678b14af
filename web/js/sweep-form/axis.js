// sweep-form/axis.js - one dimension of a sweep in the New sweep form: a list of values typed
// with commas (every search), or, for a sampling search and a numeric parameter, a range (low,
// high, log scale) the sampler draws from; a parameter with choices is a box per choice.
import {h, field, uid} from '../dom.js';
import {parseList} from '../grid.js';
import {listProblems, rangeProblems, readNumber} from './values.js';

/**
 * A numeric or text axis. key: the request's member; label, hint, value: the table's form text;
 * rule: values.js ruleOf(). Returns {key, wrap, fields, read(), set(v), setSampling(on),
 * problems(), isRange()}; fields are FormErrors entries: key (the list), key.low, key.high.
 */
export function numberAxis({key, label, hint, value, rule, maxAxis}) {
  const list = h('input', {type: 'text', name: key, value: value || '', autocomplete: 'off', inputmode: 'decimal', spellcheck: 'false'});
  const listField = field({label, input: list, hint: `${hint}; separate values with commas.`});
  const mode = h('select', {class: 'axis-mode', 'aria-label': `${label}: list or range`, dataset: {axisMode: key}},
    h('option', {value: 'list'}, 'List'), h('option', {value: 'range'}, 'Range'));
  const low = h('input', {type: 'text', inputmode: 'decimal', autocomplete: 'off', name: `${key}.low`, class: 'range-low'});
  const high = h('input', {type: 'text', inputmode: 'decimal', autocomplete: 'off', name: `${key}.high`, class: 'range-high'});
  const log = h('input', {type: 'checkbox', name: `${key}.log`, id: uid('log')});
  const lowField = field({label: 'low', input: low});
  const highField = field({label: 'high', input: high});
  const range = h('div', {class: 'range', role: 'group', 'aria-label': `${label}: range`, hidden: true},
    lowField.wrap, highField.wrap, h('label', {class: 'check', for: log.id}, log, ' log scale'));
  const modeWrap = h('span', {class: 'axis-mode-wrap', hidden: true}, mode);
  // the mode sits beside the label; the list field keeps its label, hint and error
  listField.wrap.querySelector('label').after(modeWrap);
  const wrap = h('div', {class: 'axis', dataset: {axis: key}}, listField.wrap, range);
  let sampling = false;

  function sync() {
    const ranged = sampling && mode.value === 'range';
    list.hidden = ranged;
    range.hidden = !ranged;
    modeWrap.hidden = !sampling;
  }
  mode.addEventListener('change', sync);

  const isRange = () => sampling && mode.value === 'range';
  const readRange = () => ({low: readNumber(low.value), high: readNumber(high.value), log: log.checked});
  return {
    key,
    wrap,
    fields: {[key]: listField, [`${key}.low`]: lowField, [`${key}.high`]: highField, [`${key}.log`]: {input: log, error: highField.error}},
    isRange,
    read() {
      if (!isRange()) return parseList(list.value);
      const r = readRange();
      return r.log ? r : {low: r.low, high: r.high};
    },
    set(v) {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        mode.value = 'range';
        low.value = v.low ?? '';
        high.value = v.high ?? '';
        log.checked = !!v.log;
      } else {
        mode.value = 'list';
        list.value = (Array.isArray(v) ? v : [v]).join(', ');
      }
      sync();
    },
    setSampling(on) {
      sampling = on;
      sync();
    },
    /** [{key, message}] for the FormErrors fields above. */
    problems() {
      if (!isRange()) return listProblems(rule, parseList(list.value), {maxAxis}).map((p) => ({key, message: p.message}));
      return rangeProblems(rule, readRange()).map((p) => ({key: `${key}.${p.part}`, message: p.message}));
    },
  };
}

/** A parameter with choices: a box per choice, the default ticked. Same interface as numberAxis. */
export function choiceAxis({key, label, choices, value}) {
  const boxes = choices.map((c) => h('input', {type: 'checkbox', name: key, value: c, checked: c === value, id: `ax-${key}-${c}`}));
  const error = h('p', {class: 'field-error', id: `ax-${key}-error`, hidden: true});
  const wrap = h('fieldset', {class: 'field choices axis', 'aria-describedby': error.id, dataset: {axis: key}},
    h('legend', null, label),
    boxes.map((b) => h('label', {class: 'check', for: b.id}, b, ` ${b.value}`)), error);
  const read = () => boxes.filter((b) => b.checked).map((b) => b.value);
  return {
    key,
    wrap,
    // FormErrors needs an input to flag and focus: the first box stands for the group.
    fields: {[key]: {input: boxes[0], error, boxes}},
    isRange: () => false,
    read,
    set(v) {
      const want = new Set((Array.isArray(v) ? v : [v]).map(String));
      for (const b of boxes) b.checked = want.has(b.value);
    },
    setSampling() {},
    problems: () => (read().length ? [] : [{key, message: 'tick at least one'}]),
  };
}
