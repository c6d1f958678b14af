// views/new-sweep.js - /sweeps/new[?dataset=ID]: pick a dataset, edit each grid axis, see the
// trial count as you type, submit; the API's validation messages appear beside their fields. The
// fields are the server's parameter table (GET /api/v1/meta/parameters): its grid rows become
// axes, its training rows the training options, with the server's labels, hints and defaults.
import {h, append, replace, field} from '../dom.js';
import {api, apiAll, isAbort, ApiError} from '../api.js';
import {FormErrors} from '../forms.js';
import {parseList, trialCount} from '../grid.js';
import {loadMeta, formRows} from '../meta.js';
import {num, plural} from '../format.js';

export async function render({root, signal, query, navigate}) {
  document.title = 'New sweep · mlptune';
  append(root, [h('h1', null, 'New sweep'), h('p', {class: 'muted'}, 'Loading datasets…')]);
  let datasets, meta;
  try {
    [datasets, meta] = await Promise.all([apiAll('/datasets', {signal}), loadMeta()]);
  } catch (err) {
    if (isAbort(err)) return;
    replace(root, h('h1', null, 'New sweep'), h('p', {class: 'alert', role: 'alert'}, `The datasets could not be loaded: ${err.message}`));
    return;
  }
  if (signal.aborted) return;
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

  // The grid: the shape's fields, then one axis per grid row of the table (a text list, or a
  // box per choice with the default ticked).
  const axisInputs = {};
  const axisBlocks = [];
  const axisFor = {dataset_id: 'dataset_id', test_dataset_id: 'test_dataset_id', name: 'name', grid: 'grid'};
  const countAxes = [];
  const textAxis = (key, label, hint, value) => {
    const input = h('input', {type: 'text', name: key, value: value || '', autocomplete: 'off', inputmode: 'decimal', spellcheck: 'false'});
    fields[key] = field({label, input, hint: `${hint}; separate values with commas.`});
    axisInputs[key] = () => parseList(input.value);
    axisBlocks.push(fields[key].wrap);
  };
  for (const row of formRows(meta, 'grid')) {
    if (row.type === 'layers') {
      for (const f of row.form.fields) {
        textAxis(f.key, f.label, f.hint, f.value);
        axisFor[`grid.${f.key}`] = f.key;
      }
      axisFor[`grid.${row.name}`] = row.form.fields[row.form.fields.length - 1].key; // grid.layers: beside the widths
      continue;
    }
    const key = row.name;
    axisFor[`grid.${key}`] = key;
    if (row.training) axisFor[`training.${key}`] = key;
    countAxes.push({key, noun: row.form.noun});
    if (row.type === 'enum') {
      const boxes = row.choices.map((c) => h('input', {type: 'checkbox', name: key, value: c, checked: c === row.default, id: `ax-${key}-${c}`}));
      const error = h('p', {class: 'field-error', id: `ax-${key}-error`, hidden: true});
      const fs = h('fieldset', {class: 'field choices', 'aria-describedby': error.id},
        h('legend', null, row.form.label),
        boxes.map((b) => h('label', {class: 'check', for: b.id}, b, ` ${b.value}`)), error);
      // FormErrors needs an input to flag and focus: the first box stands for the group.
      fields[key] = {input: boxes[0], error, boxes};
      axisInputs[key] = () => boxes.filter((b) => b.checked).map((b) => b.value);
      axisBlocks.push(fs);
    } else {
      textAxis(key, row.form.label, row.form.hint, row.form.value);
    }
  }
  // The training options: one field per training row of the table, its default filled in.
  const trainingRows = formRows(meta, 'training');
  const trainingValue = {};
  for (const row of trainingRows) {
    const key = row.name;
    axisFor[`training.${key}`] = key;
    if (row.grid) axisFor[`grid.${key}`] = key;
    let input;
    if (row.type === 'enum') {
      input = h('select', {name: key}, row.choices.map((v) => h('option', {value: v, selected: v === row.default}, v)));
      trainingValue[key] = () => input.value;
    } else {
      const f = row.form;
      input = h('input', {type: 'number', name: key, value: String(row.default), min: f.min, max: f.max, step: f.step});
      trainingValue[key] = () => (input.value === '' ? row.default : Number(input.value));
    }
    fields[key] = field({label: row.form.label, input, hint: row.form.hint});
  }
  fields.test_dataset_id = field({label: 'Test dataset (optional)', input: testSel, hint: 'Accuracy on it is reported per trial.'});

  const count = h('output', {class: 'trial-count', 'aria-live': 'polite', for: Object.keys(axisInputs).map((k) => fields[k].input.id).join(' ')});
  const countError = h('p', {class: 'field-error', id: 'grid-error', hidden: true});
  fields.grid = {input: count, error: countError};
  const summary = h('div', {class: 'alert', role: 'alert', tabindex: '-1', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Start sweep');

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
    const {count: n, factors} = trialCount(g, countAxes);
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
      h('div', {class: 'row'}, trainingRows.map((row) => fields[row.name].wrap), fields.test_dataset_id.wrap)),
    h('div', {class: 'actions'}, h('p', {class: 'count-line'}, 'This grid runs ', count), countError, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    const g = grid();
    if ((g.hidden_layers || []).every((d) => d === 0) && !(g.neurons || []).length) delete g.neurons;
    const training = {};
    for (const row of trainingRows) training[row.name] = trainingValue[row.name]();
    const body = {dataset_id: Number(dsSel.value), grid: g, training};
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
