// sweep-form/search.js - the New sweep form's strategy: the search type (grid, random, TPE) with
// its budgets and seed, the pruner with its settings, and per-trial early stopping. Each part
// returns {wrap, fields (FormErrors entries keyed by the API's field path), read(), set(spec)}.
import {h, field, uid} from '../dom.js';
import {readNumber} from './values.js';

export const SEARCH_TYPES = [
  {value: 'grid', label: 'Grid', hint: 'every combination of the lists'},
  {value: 'random', label: 'Random', hint: 'seeded draws from lists and ranges'},
  {value: 'tpe', label: 'TPE', hint: 'draws guided by the results so far (tree-structured Parzen estimator)'},
];

function numberField(name, label, hint, attrs = {}) {
  const input = h('input', {type: 'number', name, autocomplete: 'off', ...attrs});
  return field({label, input, hint});
}

/** The search type and its budgets. onChange(type) is told of every change of type. */
export function searchPart({onChange}) {
  const name = uid('search');
  const radios = SEARCH_TYPES.map((t) => h('input', {type: 'radio', name, value: t.value, id: `search-${t.value}`, checked: t.value === 'grid'}));
  const type = () => radios.find((r) => r.checked).value;
  const budget = {
    max_trials: numberField('max_trials', 'Max trials', 'How many trials to draw.', {min: 1, step: 1, value: '20'}),
    max_seconds: numberField('max_seconds', 'Max seconds', 'Wall time; running trials stop cleanly (kept, "stopped").', {min: 1, step: 1}),
    max_iterations_total: numberField('max_iterations_total', 'Max iterations in total', 'Iterations trained over every trial.', {min: 1, step: 1}),
    seed: numberField('search_seed', 'Sampling seed', 'The same seed draws the same trials.', {min: 0, step: 1, value: '0'}),
    n_startup_trials: numberField('n_startup_trials', 'Startup trials', 'TPE: random draws before the model guides them.', {min: 0, step: 1, placeholder: 'server default'}),
  };
  const budgetSet = h('fieldset', {class: 'budget', hidden: true}, h('legend', null, 'Budget and sampling: the sweep ends when a budget is spent'),
    h('div', {class: 'row'}, Object.values(budget).map((f) => f.wrap)));
  const wrap = h('div', {class: 'search-part'},
    h('fieldset', {class: 'segmented search-type'}, h('legend', null, 'Search'),
      SEARCH_TYPES.map((t, i) => h('label', {class: 'seg', for: radios[i].id, title: t.hint}, radios[i], ` ${t.label}`)),
      h('p', {class: 'hint search-hint'})),
    budgetSet);
  const hint = wrap.querySelector('.search-hint');
  function sync() {
    const t = type();
    budgetSet.hidden = t === 'grid';
    budget.n_startup_trials.wrap.hidden = t !== 'tpe';
    hint.textContent = SEARCH_TYPES.find((x) => x.value === t).hint;
    onChange(t);
  }
  for (const r of radios) r.addEventListener('change', sync);
  const fields = {'search.type': {input: radios[0], error: h('p', {class: 'field-error', hidden: true}), boxes: radios}};
  wrap.querySelector('.search-type').append(fields['search.type'].error);
  for (const [k, f] of Object.entries(budget)) fields[k === 'seed' ? 'search.seed' : `search.${k}`] = f;
  return {
    wrap,
    fields,
    type,
    sync,
    /** The request's `search` (null for a grid). */
    read() {
      const t = type();
      if (t === 'grid') return null;
      const s = {type: t};
      for (const [k, f] of Object.entries(budget)) {
        if (k === 'n_startup_trials' && t !== 'tpe') continue;
        const v = readNumber(f.input.value);
        if (v !== null) s[k] = v;
      }
      return s;
    },
    set(s) {
      const t = s && s.type ? s.type : 'grid';
      for (const r of radios) r.checked = r.value === t;
      for (const [k, f] of Object.entries(budget)) f.input.value = s && s[k] !== undefined && s[k] !== null ? String(s[k]) : '';
      sync();
    },
  };
}

// The pruners and their settings (the server's defaults in the placeholders).
const PRUNERS = {
  none: {label: 'None: every trial runs to its end', fields: []},
  asha: {label: 'ASHA (asynchronous successive halving)', fields: ['min_iterations', 'reduction_factor']},
  median: {label: 'Median: stop below the median of the others', fields: ['warmup_iterations', 'min_trials']},
  hyperband: {label: 'Hyperband (brackets of ASHA)', fields: ['min_iterations', 'reduction_factor', 'max_iterations']},
};
const PRUNER_FIELDS = {
  min_iterations: ['Min iterations', 'The first rung.', 1],
  reduction_factor: ['Reduction factor', 'Keep the top 1/factor at each rung.', 3],
  warmup_iterations: ['Warm-up iterations', 'Never stop a trial before this.', 5],
  min_trials: ['Min trials', 'Trials that must have reached an iteration first.', 3],
  max_iterations: ['Max iterations', 'The last rung (default: the trials\' iterations).', ''],
};

/** The pruner: a choice and the chosen one's settings. */
export function prunerPart() {
  const sel = h('select', {name: 'pruner'}, Object.entries(PRUNERS).map(([v, p]) => h('option', {value: v}, p.label)));
  const typeField = field({label: 'Pruner', input: sel, hint: 'Stops trials that are losing, across the sweep.'});
  const settings = {};
  for (const [k, [label, hint, def]] of Object.entries(PRUNER_FIELDS)) {
    settings[k] = numberField(`pruner_${k}`, label, hint, {min: k === 'warmup_iterations' ? 0 : 1, step: 1, placeholder: String(def)});
  }
  const row = h('div', {class: 'row'}, Object.values(settings).map((f) => f.wrap));
  function sync() {
    const want = PRUNERS[sel.value].fields;
    for (const [k, f] of Object.entries(settings)) f.wrap.hidden = !want.includes(k);
  }
  sel.addEventListener('change', sync);
  sync();
  const fields = {pruner: typeField, 'pruner.type': typeField};
  for (const [k, f] of Object.entries(settings)) fields[`pruner.${k}`] = f;
  return {
    wrap: h('fieldset', {class: 'pruner'}, h('legend', null, 'Pruning'), typeField.wrap, row),
    fields,
    read() {
      if (sel.value === 'none') return null;
      const p = {type: sel.value};
      for (const k of PRUNERS[sel.value].fields) {
        const v = readNumber(settings[k].input.value);
        if (v !== null) p[k] = v;
      }
      return p;
    },
    set(p) {
      sel.value = p && PRUNERS[p.type] ? p.type : 'none';
      for (const [k, f] of Object.entries(settings)) f.input.value = p && p[k] !== undefined ? String(p[k]) : '';
      sync();
    },
  };
}

/** Early stopping per trial (training.early_stopping). */
export function earlyStopPart() {
  const metric = h('select', {name: 'es_metric'},
    h('option', {value: ''}, 'Off'), h('option', {value: 'val_loss'}, 'Validation loss'), h('option', {value: 'val_accuracy'}, 'Validation accuracy'));
  const f = {
    metric: field({label: 'Early stopping', input: metric, hint: 'Stop a trial whose metric stopped improving.'}),
    patience: numberField('es_patience', 'Patience', 'Iterations without improvement.', {min: 1, step: 1, placeholder: '5'}),
    min_delta: numberField('es_min_delta', 'Min improvement', 'Smaller changes do not count.', {min: 0, step: 'any', placeholder: '0'}),
  };
  function sync() {
    f.patience.wrap.hidden = !metric.value;
    f.min_delta.wrap.hidden = !metric.value;
  }
  metric.addEventListener('change', sync);
  sync();
  return {
    wrap: h('div', {class: 'row early-stop'}, f.metric.wrap, f.patience.wrap, f.min_delta.wrap),
    fields: {'training.early_stopping': f.metric, 'training.early_stopping.metric': f.metric,
      'training.early_stopping.patience': f.patience, 'training.early_stopping.min_delta': f.min_delta},
    read() {
      if (!metric.value) return null;
      const es = {metric: metric.value};
      for (const k of ['patience', 'min_delta']) {
        const v = readNumber(f[k].input.value);
        if (v !== null) es[k] = v;
      }
      return es;
    },
    set(es) {
      metric.value = es && es.metric ? es.metric : '';
      f.patience.input.value = es && es.patience !== undefined ? String(es.patience) : '';
      f.min_delta.input.value = es && es.min_delta !== undefined ? String(es.min_delta) : '';
      sync();
    },
  };
}
