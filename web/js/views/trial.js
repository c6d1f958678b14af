// views/trial.js - /trials/{id}: one trial's curves (accuracy and loss, training and validation),
// its parameters and timings, where it ran (rank · host · workers), its model download and its
// confusion matrix (confusion.js). Polls ?since= while the trial runs.
import {h, append, replace, statusBadge} from '../dom.js';
import {api, isAbort, API} from '../api.js';
import {CurveChart, formatTick, formatPercentTick} from '../charts.js';
import {OKABE_ITO} from '../palette.js';
import {pct, num, duration, when, placement, DASH} from '../format.js';
import {loadMeta, finalStates} from '../meta.js';
import {confusionCard} from '../confusion.js';

// The server's final trial states (meta.js), set before the first use.
let FINAL = new Set();

export async function render({root, params, signal}) {
  const id = /^[1-9]\d*$/.test(params.id) ? Number(params.id) : null;
  document.title = `Trial ${params.id} · mlptune`;
  if (!id) {
    append(root, [h('h1', null, 'No such trial'), h('p', null, h('a', {href: '/sweeps'}, 'All sweeps'))]);
    return;
  }
  append(root, [h('h1', null, `Trial #${id}`), h('p', {class: 'muted'}, 'Loading…')]);
  let trial;
  let history;
  let rules;
  try {
    [trial, history, rules] = await Promise.all([api(`/trials/${id}`, {signal}), api(`/trials/${id}/history`, {signal}), loadMeta()]);
    FINAL = finalStates(rules).trial;
  } catch (err) {
    if (isAbort(err)) return;
    replace(root, h('h1', null, err.status === 404 ? 'No such trial' : `Trial #${id}`),
      h('p', {class: 'alert', role: 'alert'}, err.status === 404 ? `There is no trial #${id}.` : `The trial could not be loaded: ${err.message}`),
      h('p', null, h('a', {href: '/sweeps'}, 'All sweeps')));
    return;
  }
  const rows = [];
  const put = (r) => {
    if (r.iteration >= 1) rows[r.iteration - 1] = r;
  };
  (history.history || []).forEach(put);

  const titleStatus = h('span', {class: 'sweep-status'});
  const facts = h('dl', {class: 'meta'});
  const paramsEl = h('dl', {class: 'params'});
  const download = h('p', {class: 'download'});
  const accEl = h('div', {class: 'chart', id: 'trial-accuracy'});
  const lossEl = h('div', {class: 'chart', id: 'trial-loss'});
  const histTable = h('tbody');
  const confusion = confusionCard(id, signal);
  replace(root,
    h('p', {class: 'crumbs'}, h('a', {href: `/sweeps/${trial.sweep_id}`}, `← Sweep #${trial.sweep_id}`)),
    h('div', {class: 'title-row'}, h('h1', null, `Trial #${id}`), titleStatus),
    h('div', {class: 'two-col'},
      h('section', {class: 'card', 'aria-labelledby': 'tr-params'}, h('h2', {id: 'tr-params'}, 'Parameters'), paramsEl),
      h('section', {class: 'card', 'aria-labelledby': 'tr-facts'}, h('h2', {id: 'tr-facts'}, 'Results and timings'), facts, download)),
    h('section', {class: 'card', 'aria-labelledby': 'tr-acc'}, h('h2', {id: 'tr-acc'}, 'Accuracy'),
      h('figure', {class: 'chart-figure'}, accEl, h('figcaption', null, 'Training and validation accuracy per iteration.'))),
    h('section', {class: 'card', 'aria-labelledby': 'tr-loss'}, h('h2', {id: 'tr-loss'}, 'Loss'),
      h('figure', {class: 'chart-figure'}, lossEl, h('figcaption', null, 'Training and validation loss (cross-entropy) per iteration.'))),
    confusion.card,
    h('details', {class: 'card history'}, h('summary', null, 'Every iteration as a table'),
      h('div', {class: 'table-wrap'}, h('table', {class: 'data'},
        h('thead', null, h('tr', null, ['Iteration', 'Train loss', 'Train acc.', 'Val. loss', 'Val. acc.', 'Seconds'].map((t) => h('th', {scope: 'col'}, t)))),
        histTable))));

  const series = [
    {label: 'Training', color: OKABE_ITO[1], dash: [8, 4]},
    {label: 'Validation', color: OKABE_ITO[0]},
  ];
  const acc = new CurveChart(accEl, {series, yLabel: 'Accuracy', yFormat: formatPercentTick, height: 260});
  const loss = new CurveChart(lossEl, {series, yLabel: 'Loss', yFormat: formatTick, height: 260});
  await Promise.all([acc.init(), loss.init()]);
  if (signal.aborted) {
    acc.destroy();
    loss.destroy();
    return;
  }
  for (const c of [accEl, lossEl]) {
    c.parentElement.append(h('p', {class: 'legend', 'aria-hidden': 'true'},
      series.map((s) => h('span', {class: 'legend-item'}, h('span', {class: ['swatch', s.dash ? 'swatch-dashed' : null], style: {'border-color': s.color}}), ` ${s.label}`))));
  }

  function drawCurves() {
    acc.clearAll();
    loss.clearAll();
    rows.forEach((r) => {
      if (!r) return;
      acc.set(0, r.iteration, r.train_accuracy);
      acc.set(1, r.iteration, r.val_accuracy);
      loss.set(0, r.iteration, r.train_loss);
      loss.set(1, r.iteration, r.val_loss);
    });
    if (histTable.children.length > rows.length) histTable.replaceChildren();
    const shown = histTable.children.length;
    const fresh = rows.slice(shown).filter(Boolean).map((r) => h('tr', null,
      h('td', {class: 'num'}, String(r.iteration)),
      [r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy].map((v, k) => h('td', {class: 'num'}, k % 2 ? pct(v, 2) : num(v))),
      h('td', {class: 'num'}, num(r.seconds, 3))));
    append(histTable, fresh);
  }

  function drawInfo() {
    replace(titleStatus, statusBadge(trial.status));
    titleStatus.dataset.trialStatus = trial.status;
    const p = trial.params || {};
    const item = (k, v) => [h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? DASH : v)];
    replace(paramsEl,
      item('Hidden layers', Array.isArray(p.layers) && p.layers.length ? `${p.hidden_layers} (${p.layers.join(' → ')})` : String(p.hidden_layers ?? DASH)),
      item('Neurons per layer', p.neurons === null || p.neurons === undefined ? null : num(p.neurons)),
      item('Activation', p.activation),
      item('Learning rate', num(p.learning_rate)),
      item('Momentum', num(p.momentum)),
      p.dropout_input ? item('Input dropout', num(p.dropout_input)) : null,
      p.dropout_hidden ? item('Hidden dropout', num(p.dropout_hidden)) : null,
      item('Batch size', num(p.batch_size)),
      item('Iterations', num(p.iterations)),
      item('Validation split', num(p.validation_split)),
      p.split_by ? item('Split by', p.split_by) : null,
      Array.isArray(p.test_subjects) ? item('Test subjects', p.test_subjects.join(', ')) : null,
      item('Seed', p.seed === undefined ? null : String(p.seed)));
    const done = rows.filter(Boolean).length;
    const secs = rows.reduce((a, r) => a + (r && Number.isFinite(r.seconds) ? r.seconds : 0), 0);
    // While it runs the API has no accuracies for it yet: the history so far has.
    let best = trial.best_val_accuracy;
    let bestIt = trial.best_iteration;
    let last = trial.final_val_accuracy;
    const sofar = !FINAL.has(trial.status);
    if (sofar) {
      for (const r of rows) {
        if (r && Number.isFinite(r.val_accuracy) && !(best >= r.val_accuracy)) {
          best = r.val_accuracy;
          bestIt = r.iteration;
        }
      }
      const tail = rows[rows.length - 1];
      if (tail && Number.isFinite(tail.val_accuracy)) last = tail.val_accuracy;
    }
    replace(facts,
      item(sofar ? 'Best validation accuracy so far' : 'Best validation accuracy', `${pct(best, 2)}${bestIt ? ` (iteration ${bestIt})` : ''}`),
      item(sofar ? 'Latest validation accuracy' : 'Final validation accuracy', pct(last, 2)),
      trial.test_accuracy !== null && trial.test_accuracy !== undefined ? item('Test accuracy', pct(trial.test_accuracy, 2)) : null,
      item('Iterations done', `${num(Math.max(done, trial.iterations_done || 0))} of ${num(p.iterations)}`),
      item('Training time', duration(Number.isFinite(trial.seconds) && trial.seconds > 0 ? trial.seconds : secs)),
      item('Per iteration', done ? duration(secs / done) : null),
      item('Attempt', trial.attempt === undefined ? null : String(trial.attempt)),
      item(sofar ? 'Runs on' : 'Ran on', trial.placement ? placement(trial.placement) : (sofar ? 'not started yet' : null)),
      item('Created', when(trial.created_at)),
      item('Started', when(trial.started_at)),
      item('Finished', when(trial.finished_at)),
      trial.error ? item(['failed', 'diverged'].includes(trial.status) ? 'Error' : 'Why it stopped', trial.error) : null);
    if (trial.has_model && FINAL.has(trial.status)) confusion.load();
    if (trial.has_model) {
      replace(download, h('a', {class: 'button primary', href: `${API}/trials/${id}/model`, download: `mlptune-trial-${id}.model`}, 'Download model'),
        h('span', {class: 'muted small'}, ' mlptune model file (weights and input scaling)'));
    } else {
      replace(download, h('span', {class: 'muted'}, FINAL.has(trial.status) ? 'This trial kept no model.' : 'The model can be downloaded once the trial has finished.'));
    }
  }

  drawInfo();
  drawCurves();

  let timer = 0;
  async function poll() {
    timer = 0;
    try {
      const since = rows.length;
      const [t, more] = await Promise.all([api(`/trials/${id}`, {signal}), api(`/trials/${id}/history?since=${since}`, {signal})]);
      trial = t;
      // A re-queued trial restarts from iteration 1: start over when the history shrank.
      if ((more.history || []).length && more.history[0].iteration <= since) rows.length = 0;
      (more.history || []).forEach(put);
      if ((trial.iterations_done || 0) < rows.length) rows.length = trial.iterations_done || 0;
      drawInfo();
      drawCurves();
    } catch (err) {
      if (isAbort(err)) return;
    }
    if (!FINAL.has(trial.status) && !signal.aborted) timer = setTimeout(poll, 1000);
  }
  if (!FINAL.has(trial.status)) timer = setTimeout(poll, 1000);

  return () => {
    clearTimeout(timer);
    acc.destroy();
    loss.destroy();
  };
}
