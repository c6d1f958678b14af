// views/sweeps.js - /sweeps[?status=S]: every sweep with its status, progress, best accuracy so
// far and elapsed time; refreshed while any of them is queued or running.
import {h, append, replace, progressBar, statusBadge} from '../dom.js';
import {api, apiAll, isAbort} from '../api.js';
import {setQuery} from '../router.js';
import {pct, duration, when, secondsBetween} from '../format.js';
import {loadMeta, finalStates} from '../meta.js';
import {listProgress} from '../progress.js';

// The server's sweep states and final states (meta.js), set before the first use.
let STATES = [];
let FINAL = {sweep: new Set(), trial: new Set()};


export async function render({root, signal, query}) {
  document.title = 'Sweeps · mlptune';
  try {
    const rules = await loadMeta();
    STATES = rules.sweep_states.all;
    FINAL = finalStates(rules);
  } catch (err) {
    if (isAbort(err)) return;
    replace(root, h('h1', null, 'Sweeps'), h('p', {class: 'alert', role: 'alert'}, `The sweeps could not be loaded: ${err.message}`));
    return;
  }
  if (signal.aborted) return;
  let status = STATES.includes(query.get('status')) ? query.get('status') : '';
  let items = [];
  let cursor = null;
  let timer = 0;
  let datasets = new Map();

  const filter = h('select', {id: 'sweep-filter'},
    h('option', {value: ''}, 'All'), STATES.map((s) => h('option', {value: s, selected: s === status}, s)));
  const listEl = h('div', {class: 'table-wrap', 'aria-busy': 'true'}, h('p', {class: 'muted'}, 'Loading sweeps…'));
  const more = h('button', {type: 'button', hidden: true}, 'Show older sweeps');
  const updated = h('p', {class: 'muted small', 'aria-live': 'off'});

  function row(s) {
    const elapsed = secondsBetween(s.started_at, s.finished_at);
    const ds = datasets.get(s.dataset_id);
    const pr = listProgress(s);
    const best = s.best_trial && Number.isFinite(s.best_trial.best_val_accuracy) ? s.best_trial.best_val_accuracy : null;
    return h('tr', {dataset: {id: s.id, status: s.status}},
      h('th', {scope: 'row'}, h('a', {href: `/sweeps/${s.id}`}, s.name || `Sweep #${s.id}`), s.name ? h('span', {class: 'muted small'}, ` #${s.id}`) : null),
      h('td', null, ds ? ds.name : `#${s.dataset_id}`),
      h('td', null, statusBadge(s.status)),
      h('td', {class: 'progress-cell'}, progressBar(pr.p, {label: `Progress of sweep ${s.id}`}), h('span', {class: 'num small'}, pct(pr.p, 0))),
      h('td', {class: 'num'}, `${pr.finished} / ${pr.total}`, pr.canceled ? h('span', {class: 'muted small'}, ` (${pr.canceled} canceled)`) : null),
      h('td', {class: 'num'}, best === null ? '—' : h('a', {href: `/trials/${s.best_trial.id}`}, pct(best, 2))),
      h('td', {class: 'num'}, elapsed === null ? '—' : duration(elapsed)),
      h('td', null, when(s.created_at)));
  }

  function draw() {
    listEl.setAttribute('aria-busy', 'false');
    if (!items.length) {
      if (status) replace(listEl, h('p', {class: 'empty'}, `No ${status} sweeps.`));
      else if (!datasets.size) {
        replace(listEl, h('p', {class: 'empty'}, 'No sweeps yet, and no dataset to train on: ',
          h('a', {href: '/datasets?welcome=1'}, 'upload one or add the sample'), ', then start a sweep on it.'));
      } else replace(listEl, h('p', {class: 'empty'}, 'No sweeps yet. ', h('a', {href: '/sweeps/new'}, 'Start one'), '.'));
      more.hidden = true;
      return;
    }
    replace(listEl, h('table', {class: 'data sweeps'},
      h('caption', {class: 'sr-only'}, 'Sweeps, newest first'),
      h('thead', null, h('tr', null, ['Sweep', 'Dataset', 'Status', 'Progress', 'Trials finished', 'Best val. accuracy', 'Elapsed', 'Created']
        .map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', null, items.map(row))));
    more.hidden = !cursor;
  }

  async function load({append: add = false} = {}) {
    const q = new URLSearchParams({limit: '50'});
    if (status) q.set('status', status);
    if (add && cursor) q.set('cursor', cursor);
    const page = await api(`/sweeps?${q}`, {signal});
    items = add ? items.concat(page.items || []) : (page.items || []);
    cursor = page.next_cursor || null;
  }

  // Refresh what is shown (the first page, or as many items as are shown) while anything runs.
  async function poll() {
    timer = 0;
    try {
      const shown = Math.max(items.length, 50);
      const q = new URLSearchParams({limit: String(Math.min(1000, shown))});
      if (status) q.set('status', status);
      const page = await api(`/sweeps?${q}`, {signal});
      const missing = (page.items || []).some((s) => !datasets.has(s.dataset_id));
      if (missing) datasets = new Map((await apiAll('/datasets', {signal})).map((d) => [d.id, d]));
      items = page.items || [];
      cursor = page.next_cursor || null;
      draw();
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (isAbort(err)) return;
      updated.textContent = `Refresh failed: ${err.message}`;
    }
    schedule();
  }

  function schedule() {
    if (signal.aborted || timer) return;
    const active = items.some((s) => !FINAL.sweep.has(s.status));
    timer = setTimeout(poll, active ? 1000 : 5000);
  }

  filter.addEventListener('change', async () => {
    status = filter.value;
    setQuery({status});
    try {
      await load();
      draw();
    } catch (err) {
      if (!isAbort(err)) replace(listEl, h('p', {class: 'alert', role: 'alert'}, err.message));
    }
  });
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await load({append: true});
      draw();
    } catch (err) {
      if (!isAbort(err)) updated.textContent = err.message;
    }
    more.disabled = false;
  });

  append(root, [
    h('div', {class: 'title-row'}, h('h1', null, 'Sweeps'), h('a', {class: 'button primary', href: '/sweeps/new'}, 'New sweep')),
    h('div', {class: 'toolbar'}, h('label', {for: 'sweep-filter'}, 'Status '), filter, updated),
    listEl, more,
  ]);
  try {
    const [ds] = await Promise.all([apiAll('/datasets', {signal}), load()]);
    datasets = new Map(ds.map((d) => [d.id, d]));
    draw();
  } catch (err) {
    if (isAbort(err)) return;
    replace(listEl, h('p', {class: 'alert', role: 'alert'}, `The sweeps could not be loaded: ${err.message}`));
  }
  schedule();
  return () => clearTimeout(timer);
}
