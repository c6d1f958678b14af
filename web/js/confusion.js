// confusion.js - a trial's confusion matrix on its validation split (GET /trials/{id}/confusion):
// a table whose rows are the true classes and columns the predicted ones, each cell shaded by
// its share of its row (the diagonal: the recall of that class), with the counts as text.
import {h, replace} from './dom.js';
import {api, isAbort} from './api.js';
import {pct} from './format.js';
import {rampColor} from './palette.js';

/** A card that loads the matrix once load() is called (when the trial has a model). */
export function confusionCard(trialId, signal) {
  const body = h('div', {class: 'confusion-body', 'aria-live': 'polite'},
    h('p', {class: 'muted'}, 'Shown once the trial has a model.'));
  const card = h('section', {class: 'card confusion', 'aria-labelledby': 'tr-confusion'},
    h('h2', {id: 'tr-confusion'}, 'Confusion matrix (validation split)'), body);
  let loaded = false;
  async function load() {
    if (loaded) return;
    loaded = true;
    replace(body, h('p', {class: 'muted'}, 'Computing…'));
    let cm;
    try {
      cm = await api(`/trials/${trialId}/confusion`, {signal});
    } catch (err) {
      if (isAbort(err)) return;
      replace(body, h('p', {class: 'muted'}, `No confusion matrix: ${err.message}`));
      return;
    }
    replace(body, matrixTable(cm));
  }
  return {card, load};
}

function matrixTable(cm) {
  const names = cm.classes || [];
  const rows = cm.matrix || [];
  const head = h('tr', null, h('th', {scope: 'col'}, 'True \\ predicted'),
    names.map((n) => h('th', {scope: 'col'}, n)));
  const body = rows.map((row, t) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    return h('tr', null, h('th', {scope: 'row'}, names[t]),
      row.map((v, p) => {
        const c = rampColor(v / total);
        return h('td', {
          class: ['num', p === t ? 'diag' : null],
          style: {background: c.background, color: c.color},
          title: `${names[t]} predicted as ${names[p]}: ${v} of ${total} (${pct(v / total, 1)})`,
        }, String(v));
      }));
  });
  return h('div', null,
    h('p', {class: 'muted small'},
      `${cm.rows} validation rows (split by ${cm.split_by}); accuracy ${pct(cm.accuracy, 2)}. ` +
      'Rows: true class; columns: predicted class; shade: share of the row.'),
    h('div', {class: 'table-wrap'}, h('table', {class: 'data confusion-table'},
      h('caption', {class: 'sr-only'}, 'Confusion matrix of the validation split'),
      h('thead', null, head), h('tbody', null, body))));
}
