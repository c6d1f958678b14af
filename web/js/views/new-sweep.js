// views/new-sweep.js - /sweeps/new[?dataset=ID][?clone=SWEEP]: pick a dataset and a search
// (grid, random or TPE, with budgets), edit each dimension (a list, or a range for a sampling
// search), a pruner and early stopping; the count (and the server's estimate) follows as you type;
// submit; the API's validation messages appear beside their fields. ?clone=ID starts from a
// previous sweep's stored spec. The dimensions are the server's parameter table (GET
// /api/v1/meta/parameters): its grid rows become axes, its training rows the training options.
import {h, append, replace, field} from '../dom.js';
import {api, apiAll, isAbort, ApiError} from '../api.js';
import {FormErrors} from '../forms.js';
import {trialCount} from '../grid.js';
import {loadMeta, formRows} from '../meta.js';
import {num} from '../format.js';
import {numberAxis, choiceAxis} from '../sweep-form/axis.js';
import {searchPart, prunerPart, earlyStopPart} from '../sweep-form/search.js';
import {Preview} from '../sweep-form/preview.js';
import {ruleOf} from '../sweep-form/values.js';
import {fieldKey, fillFromSpec} from '../sweep-form/spec.js';

export async function render({root, signal, query, navigate}) {
  document.title = 'New sweep · mlptune';
  append(root, [h('h1', null, 'New sweep'), h('p', {class: 'muted'}, 'Loading datasets…')]);
  const cloneId = /^[1-9]\d*$/.test(query.get('clone') || '') ? Number(query.get('clone')) : null;
  let datasets, meta, source = null;
  try {
    [datasets, meta, source] = await Promise.all([apiAll('/datasets', {signal}), loadMeta(),
      cloneId ? api(`/sweeps/${cloneId}`, {signal}) : null]);
  } catch (err) {
    if (isAbort(err)) return;
    replace(root, h('h1', null, 'New sweep'), h('p', {class: 'alert', role: 'alert'},
      cloneId && err.status === 404 ? `There is no sweep #${cloneId} to start from.` : `The form could not be loaded: ${err.message}`));
    return;
  }
  if (signal.aborted) return;
  if (!datasets.length) {
    replace(root, h('h1', null, 'New sweep'),
      h('p', {class: 'empty'}, 'A sweep trains on a dataset, and there is none yet. ', h('a', {href: '/datasets'}, 'Upload one, or add the sample'), '.'));
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
    test_dataset_id: field({label: 'Test dataset (optional)', input: testSel, hint: 'Accuracy on it is reported per trial.'}),
  };

  // ---- the dimensions: one axis per grid row of the table (the shape as its two fields) ---------
  const maxAxis = (meta.limits && meta.limits.max_axis) || 64;
  const axes = new Map();
  const countAxes = [];
  for (const row of formRows(meta, 'grid')) {
    if (row.type === 'layers') {
      for (const f of row.form.fields) axes.set(f.key, numberAxis({key: f.key, label: f.label, hint: f.hint, value: f.value, rule: ruleOf(row, f.key), maxAxis}));
      continue;
    }
    countAxes.push({key: row.name, noun: row.form.noun});
    axes.set(row.name, row.type === 'enum'
      ? choiceAxis({key: row.name, label: row.form.label, choices: row.choices, value: row.default})
      : numberAxis({key: row.name, label: row.form.label, hint: row.form.hint, value: row.form.value, rule: row, maxAxis}));
  }
  const labelOf = (key) => {
    const a = axes.get(key.split('.')[0]);
    return a ? (a.wrap.querySelector('label, legend').textContent) : key;
  };

  // ---- training options: one field per training row, its default filled in ----------------------
  const trainingRows = formRows(meta, 'training');
  const trainingInputs = new Map();
  for (const row of trainingRows) {
    let input;
    if (row.type === 'enum') input = h('select', {name: row.name}, row.choices.map((v) => h('option', {value: v, selected: v === row.default}, v)));
    else input = h('input', {type: 'number', name: row.name, value: String(row.default), min: row.form.min, max: row.form.max, step: row.form.step});
    trainingInputs.set(row.name, input);
    fields[row.name] = field({label: row.form.label, input, hint: row.form.hint});
  }
  const trainingValue = (row) => {
    const input = trainingInputs.get(row.name);
    if (row.type === 'enum') return input.value;
    return input.value === '' ? row.default : Number(input.value);
  };

  const preview = new Preview(signal);
  const search = searchPart({onChange: (t) => {
    for (const a of axes.values()) a.setSampling(t !== 'grid');
  }});
  const pruner = prunerPart();
  const earlyStop = earlyStopPart();
  const countError = h('p', {class: 'field-error', id: 'grid-error', hidden: true});
  fields.grid = {input: preview.count, error: countError};
  for (const a of axes.values()) Object.assign(fields, a.fields);
  Object.assign(fields, search.fields, pruner.fields, earlyStop.fields);

  const summary = h('div', {class: 'alert', role: 'alert', tabindex: '-1', hidden: true});
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Start sweep');
  const has = (k) => k in errors.fields;
  const errors = new FormErrors(fields, summary, (full, {path, index}) => {
    const key = fieldKey(path, axes, has);
    if (!key) return null;
    const axis = axes.get(key);
    if (index === null || !axis || axis.isRange()) return {key};
    const v = axis.read()[index];
    return {key, prefix: `value ${index + 1}${v !== undefined ? ` (${JSON.stringify(v)})` : ''}`};
  });

  /** The request as the form stands. */
  function body() {
    const dims = {};
    for (const [k, a] of axes) dims[k] = a.read();
    const s = search.read();
    if (!s) {
      if ((dims.hidden_layers || []).every((d) => d === 0) && !(dims.neurons || []).length) delete dims.neurons;
    }
    const training = {};
    for (const row of trainingRows) training[row.name] = trainingValue(row);
    const es = earlyStop.read();
    if (es) training.early_stopping = es;
    const b = {dataset_id: Number(dsSel.value)};
    if (s) {
      b.search = s;
      b.space = dims;
    } else b.grid = dims;
    b.training = training;
    const p = pruner.read();
    if (p) b.pruner = p;
    if (nameIn.value.trim()) b.name = nameIn.value.trim();
    if (testSel.value) b.test_dataset_id = Number(testSel.value);
    return b;
  }

  /** The form's own checks: [{key, message}]. */
  function problems() {
    return [...axes.values()].flatMap((a) => a.problems());
  }

  // The count follows every edit; a value the server would refuse gets no count, and its message
  // once the field is left (not while it is being typed).
  function update() {
    const bad = problems();
    if (bad.length) {
      preview.invalid([...new Set(bad.map((p) => labelOf(p.key).toLowerCase()))]);
      return bad;
    }
    const b = body();
    if (b.search) preview.sampling(b.search);
    else preview.grid(trialCount(b.grid, countAxes));
    preview.ask(b);
    return bad;
  }
  function showProblems(bad, onlyKey) {
    for (const p of bad) if (!onlyKey || p.key === onlyKey || p.key.startsWith(`${onlyKey}.`)) errors.add(p.key, p.message);
  }
  root.addEventListener('input', () => update());
  root.addEventListener('change', () => update());
  // Leaving a field shows its problems, unless for the submit button (whose answer shows them
  // all): a message appearing under the pointer would move the button away from the click.
  root.addEventListener('focusout', (e) => {
    const key = e.target && e.target.name;
    if (!key || !axes.has(key.split('.')[0]) || e.relatedTarget === submit) return;
    errors.clearField(key);
    showProblems(problems(), key);
  });

  const cloneNote = h('div', {class: 'note clone-note', role: 'status', hidden: !source});
  const form = h('form', {class: 'card sweep-form', novalidate: true},
    summary, cloneNote,
    h('div', {class: 'row'}, fields.dataset_id.wrap, fields.name.wrap),
    search.wrap,
    h('fieldset', {class: 'grid-axes'}, h('legend', null, 'Dimensions: a list of values (or, for random and TPE, a range) per parameter'),
      h('div', {class: 'axes'}, [...axes.values()].map((a) => a.wrap))),
    pruner.wrap,
    h('details', {class: 'training', open: !!(source && source.spec && source.spec.training && source.spec.training.early_stopping)},
      h('summary', null, 'Training options and early stopping'),
      h('div', {class: 'row'}, trainingRows.map((row) => fields[row.name].wrap), fields.test_dataset_id.wrap),
      earlyStop.wrap),
    h('div', {class: 'actions'}, h('p', {class: 'count-line'}, 'This sweep runs ', preview.count), countError, submit),
    preview.estimate);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    // Values the form already knows the server refuses are not sent: the same messages, at once.
    const bad = problems();
    if (bad.length) {
      errors.show(new ApiError(0, {title: 'Some values cannot be sent as they are.', errors: bad.map((p) => ({field: p.key, message: p.message}))}),
        'The sweep was not started: check the marked values.');
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const sweep = await api('/sweeps', {method: 'POST', body: body(), signal});
      navigate(`/sweeps/${sweep.id}`);
    } catch (err) {
      if (isAbort(err)) return;
      errors.show(err instanceof ApiError ? err : new ApiError(0, {detail: String(err)}), 'The sweep was not started.');
      submit.disabled = false;
      submit.textContent = 'Start sweep';
    }
  });

  replace(root, h('h1', null, source ? `New sweep from #${source.id}` : 'New sweep'),
    h('p', {class: 'lead'}, 'A sweep trains one network per trial and records every iteration: every combination of the lists (grid), or draws from them (random, TPE) until a budget is spent.'),
    form);
  search.sync();
  if (source) {
    const notes = fillFromSpec(source.spec, {dataset: dsSel, name: nameIn, test: testSel, search, pruner, earlyStop, axes, training: trainingInputs});
    replace(cloneNote, 'Starting from the spec of ', h('a', {href: `/sweeps/${source.id}`}, source.name || `sweep #${source.id}`),
      ': change what you like and start it.', notes.length ? h('ul', null, notes.map((n) => h('li', null, n))) : null);
  }
  update();
}
