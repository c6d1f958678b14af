// views/new-sweep.js - /sweeps/new[?dataset=ID]: pick a dataset, edit each grid axis, see the
// trial count as you type, submit; the API's validation messages appear beside their fields.
import {h, append, replace, field} from '../dom.js';
import {api, apiAll, isAbort, ApiError} from '../api.js';
import {FormErrors} from '../forms.js';
import {AXES, parseList, trialCount} from '../grid.js';
import {num, plural} from '../format.js';

const DEFAULTS = {hidden_layers: '1, 2', neurons: '32, 64', learning_rate: '0.1', iterations: '50', batch_size: '16'};

export async function render({root, signal, query, navigate}) {
  document.title = 'New sweep · mlptune';
  append(root, [h('h1', null, 'New sweep'), h('p', {class: 'muted'}, 'Loading datasets…')]);
  let datasets;
  try {
    datasets = await apiAll('/datasets', {signal});
  } catch (err) {
    if (isAbort(err)) return;
    replace(root, h('h1', null, 'New sweep'), h('p', {class: 'alert', role: 'alert'}, `The datasets could not be loaded: ${err.message}`));
    return;
  }
  if (!datasets.length) {
    replace(root, h('h1', null, 'New sweep'),
      h('p', {class: 'empty'}, 'A sweep trains on a dataset, and there is none yet. ', h('a', {href: '/datasets'}, 'Upload one first'), '.'));
    return;
  }

  const want = Number(query.get('dataset'));
  const dsOption = (d) => h('option', {value: d.id, selected: d.id === want}, `${d.name} (#${d.id}: ${num(d.rows)} rows, ${num(d.features)} features, ${(d.classes || []).length} classes)`);
  const dsSel = h('select', {name: 'dataset_id'}, datasets.map(dsOption));
  const testSel = h('select', {name: 'test_dataset_id'}, h('option', {value: ''}, 'None'), datasets.map((d) => h('option', {value: d.id}, `${d.name} (#${d.id})`)));
  const nameIn = h('input', {type: 'text', name: 'name', autocomplete: 'off', maxlength: 128, placeholder: 'e.g. iris depth x width'});
  const fields = {
    dataset_id: field({label: 'Dataset', input: dsSel}),
    name: field({label: 'Name (optional)', input: nameIn}),
  };

  const axisInputs = {};
  const axisBlocks = [];
  for (const ax of AXES) {
    if (ax.kind === 'choice') {
      const boxes = ax.choices.map((c) => h('input', {type: 'checkbox', name: ax.key, value: c, checked: c === 'relu', id: `ax-${ax.key}-${c}`}));
      const error = h('p', {class: 'field-error', id: `ax-${ax.key}-error`, hidden: true});
      const fs = h('fieldset', {class: 'field choices', 'aria-describedby': error.id},
        h('legend', null, ax.label),
        boxes.map((b) => h('label', {class: 'check', for: b.id}, b, ` ${b.value}`)), error);
      // FormErrors needs an input to flag and focus: the first box stands for the group.
      fields[ax.key] = {input: boxes[0], error, boxes};
      axisInputs[ax.key] = () => boxes.filter((b) => b.checked).map((b) => b.value);
      axisBlocks.push(fs);
    } else {
      const input = h('input', {type: 'text', name: ax.key, value: DEFAULTS[ax.key] || '', autocomplete: 'off', inputmode: 'decimal', spellcheck: 'false'});
      fields[ax.key] = field({label: ax.label, input, hint: `${ax.hint}; separate values with commas.`});
      axisInputs[ax.key] = () => parseList(input.value);
      axisBlocks.push(fields[ax.key].wrap);
    }
  }
  const splitIn = h('input', {type: 'number', name: 'validation_split', value: '0.2', min: '0', max: '0.95', step: '0.05'});
  const seedIn = h('input', {type: 'number', name: 'seed', value: '42', min: '0', step: '1'});
  const momIn = h('input', {type: 'number', name: 'momentum', value: '0', min: '0', max: '0.99', step: '0.05'});
  fields.validation_split = field({label: 'Validation split', input: splitIn, hint: 'Fraction of each class held out, 0 ≤ x < 1.'});
  fields.seed = field({label: 'Seed', input: seedIn, hint: 'Weights, split and shuffles.'});
  fields.momentum = field({label: 'Momentum', input: momIn, hint: 'SGD momentum, 0 ≤ x < 1.'});
  const scaleSel = h('select', {name: 'scaling'},
    ['auto', 'standardize', 'minmax', 'global_minmax', 'none'].map((v) => h('option', {value: v}, v)));
  fields.scaling = field({label: 'Input scaling', input: scaleSel, hint: 'auto: IDX pixels / 255, CSV standardised; minmax maps each column to 0..1; global_minmax one range for all (pixels / 255).'});
  const initSel = h('select', {name: 'init'},
    ['auto', 'glorot', 'he', 'sklearn', 'torch'].map((v) => h('option', {value: v}, v)));
  fields.init = field({label: 'Weight init', input: initSel, hint: 'auto: He for ReLU, Glorot otherwise; sklearn and torch start like those libraries.'});
  fields.test_dataset_id = field({label: 'Test dataset (optional)', input: testSel, hint: 'Accuracy on it is reported per trial.'});

  const count = h('output', {class: 'trial-count', 'aria-live': 'polite', for: Object.keys(axisInputs).map((k) => fields[k].input.id).join(' ')});
  const countError = h('p', {class: 'field-error', id: 'grid-error', hidden: true});
  fields.grid = {input: count, error: countError};
  const summary = h('div', {class: 'alert', role: 'alert', tabindex: '-1', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Start sweep');

  const axisFor = {
    'grid.hidden_layers': 'hidden_layers', 'grid.neurons': 'neurons', 'grid.layers': 'neurons',
    'grid.learning_rate': 'learning_rate', 'grid.iterations': 'iterations', 'grid.batch_size': 'batch_size',
    'grid.activation': 'activation', 'grid.momentum': 'momentum',
    'training.batch_size': 'batch_size', 'training.activation': 'activation', 'training.momentum': 'momentum',
    'training.validation_split': 'validation_split', 'training.seed': 'seed', 'training.scaling': 'scaling', 'training.init': 'init',
    dataset_id: 'dataset_id', test_dataset_id: 'test_dataset_id', name: 'name', grid: 'grid',
  };
  const errors = new FormErrors(fields, summary, (full, {path, index}) => {
    const key = axisFor[path];
    if (!key) return null;
    if (index === null) return {key};
    const values = path.startsWith('grid.') && axisInputs[key] ? axisInputs[key]() : [];
    const v = values[index];
    return {key, prefix: `value ${index + 1}${v !== undefined ? ` (${JSON.stringify(v)})` : ''}`};
  });

  function grid() {
    const g = {};
    for (const k of Object.keys(axisInputs)) g[k] = axisInputs[k]();
    return g;
  }

  function updateCount() {
    const g = grid();
    const {count: n, factors} = trialCount(g);
    replace(count,
      h('strong', null, plural(n, 'trial')),
      h('span', {class: 'muted'}, ` = ${factors.map((f) => `${f.n} ${f.label}`).join(' × ')}`));
    count.dataset.count = String(n);
  }
  root.addEventListener('input', updateCount);
  root.addEventListener('change', updateCount);

  const form = h('form', {class: 'card sweep-form', novalidate: true},
    summary,
    h('div', {class: 'row'}, fields.dataset_id.wrap, fields.name.wrap),
    h('fieldset', {class: 'grid-axes'}, h('legend', null, 'Grid: every combination of these values is one trial'),
      h('div', {class: 'axes'}, axisBlocks)),
    h('details', {class: 'training'}, h('summary', null, 'Training options'),
      h('div', {class: 'row'}, fields.validation_split.wrap, fields.seed.wrap, fields.momentum.wrap, fields.scaling.wrap, fields.init.wrap, fields.test_dataset_id.wrap)),
    h('div', {class: 'actions'}, h('p', {class: 'count-line'}, 'This grid runs ', count), countError, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    const g = grid();
    if ((g.hidden_layers || []).every((d) => d === 0) && !(g.neurons || []).length) delete g.neurons;
    const body = {
      dataset_id: Number(dsSel.value),
      grid: g,
      training: {
        validation_split: splitIn.value === '' ? 0.2 : Number(splitIn.value),
        seed: seedIn.value === '' ? 42 : Number(seedIn.value),
        momentum: momIn.value === '' ? 0 : Number(momIn.value),
        scaling: scaleSel.value,
        init: initSel.value,
      },
    };
    if (nameIn.value.trim()) body.name = nameIn.value.trim();
    if (testSel.value) body.test_dataset_id = Number(testSel.value);
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const sweep = await api('/sweeps', {method: 'POST', body, signal});
      navigate(`/sweeps/${sweep.id}`);
    } catch (err) {
      if (isAbort(err)) return;
      errors.show(err instanceof ApiError ? err : new ApiError(0, {detail: String(err)}), 'The sweep was not started.');
      submit.disabled = false;
      submit.textContent = 'Start sweep';
    }
  });

  replace(root, h('h1', null, 'New sweep'),
    h('p', {class: 'lead'}, 'A sweep trains one network per combination of the values below and records every iteration.'),
    form);
  updateCount();
}
