// views/sweep.js - /sweeps/{id}: live curves of every trial (Server-Sent Events while the sweep
// runs, its stored history once it has finished) with a hover readout, a legend, a filter and
// top-N; the best so far against wall time; parallel coordinates of every trial (brushable: the
// list and curves follow); each parameter's importance; the sortable leaderboard (pruned and
// stopped trials with their rung) and its CSV; the heatmap over two axes; progress with an ETA
// that tells finished from canceled trials; cancel, clone and delete.
//
// View state that is worth sharing lives in the query string: ?split=val|train&metric=accuracy|loss
// &x=<axis>&y=<axis>&sort=<column>&dir=asc|desc.
import {h, append, replace, progressBar, setProgress, statusBadge} from '../dom.js';
import {confirmInline} from '../confirm.js';
import {sweepProgress} from '../progress.js';
import {leaderboardCsv, download} from '../csv.js';
import {SweepExplorer} from './sweep-explore.js';
import {api, apiAll, isAbort, API} from '../api.js';
import {setQuery, navigate} from '../router.js';
import {requireSignIn, sessionState} from '../auth.js';
import {CurveChart, formatTick, formatPercentTick} from '../charts.js';
import {renderHeatmap} from '../heatmap.js';
import {Leaderboard} from '../leaderboard.js';
import {seriesStyle} from '../palette.js';
import {paramColumns, varyingParams} from '../grid.js';
import {loadMeta, finalStates} from '../meta.js';
import {pct, num, duration, when, secondsBetween, plural, DASH} from '../format.js';

// The server's final sweep and trial states (meta.js), set before the first use.
let FINAL_SWEEP = new Set();
let FINAL_TRIAL = new Set();
const SPLITS = {val: 'Validation', train: 'Training'};
const METRICS = {accuracy: 'accuracy', loss: 'loss'};

export async function render({root, params, signal, query}) {
  const id = /^[1-9]\d*$/.test(params.id) ? Number(params.id) : null;
  document.title = `Sweep ${params.id} · mlptune`;
  if (!id) {
    append(root, [h('h1', null, 'No such sweep'), h('p', null, 'Sweep ids are positive integers. ', h('a', {href: '/sweeps'}, 'All sweeps'))]);
    return;
  }
  append(root, [h('h1', null, `Sweep #${id}`), h('p', {class: 'muted'}, 'Loading…')]);

  let sweep;
  let trialList;
  let rules;
  try {
    [sweep, trialList, rules] = await Promise.all([api(`/sweeps/${id}`, {signal}), apiAll(`/sweeps/${id}/trials`, {signal}), loadMeta()]);
    ({sweep: FINAL_SWEEP, trial: FINAL_TRIAL} = finalStates(rules));
  } catch (err) {
    if (isAbort(err)) return;
    replace(root, h('h1', null, err.status === 404 ? 'No such sweep' : `Sweep #${id}`),
      h('p', {class: 'alert', role: 'alert'}, err.status === 404 ? `There is no sweep #${id}.` : `The sweep could not be loaded: ${err.message}`),
      h('p', null, h('a', {href: '/sweeps'}, 'All sweeps')));
    return;
  }
  const columns = paramColumns(rules); // of the leaderboard and the heatmap, from the parameter table
  let dataset = null;
  api(`/datasets/${sweep.dataset_id}`, {signal}).then((d) => {
    dataset = d;
    drawHeader();
  }).catch(() => {});

  // ---- state ------------------------------------------------------------------------------------
  const trials = new Map(); // id -> trial (as the API gives it, kept current by events)
  const hist = new Map(); // id -> [record by iteration - 1]
  const order = []; // trial ids in ordinal order = series order
  function addTrial(t) {
    if (!trials.has(t.id)) {
      order.push(t.id);
      hist.set(t.id, []);
    }
    trials.set(t.id, {...trials.get(t.id), ...t});
  }
  trialList.sort((a, b) => (a.ordinal ?? a.id) - (b.ordinal ?? b.id)).forEach(addTrial);
  const seriesOf = (tid) => order.indexOf(tid);

  const view = {
    split: SPLITS[query.get('split')] ? query.get('split') : 'val',
    metric: METRICS[query.get('metric')] ? query.get('metric') : 'accuracy',
    sort: query.get('sort') || 'best_val_accuracy',
    dir: query.get('dir') === 'asc' ? 'asc' : 'desc',
    x: query.get('x'),
    y: query.get('y') === 'none' ? '' : query.get('y'),
  };

  // ---- layout -----------------------------------------------------------------------------------
  const title = h('h1');
  const statusBox = h('span', {class: 'sweep-status', 'aria-live': 'polite'});
  const meta = h('dl', {class: 'meta-inline'});
  const bar = progressBar(0, {label: 'Sweep progress'});
  const progressText = h('p', {class: 'progress-line'});
  const live = h('span', {class: 'live', 'aria-live': 'polite'});
  const cancelBtn = h('button', {type: 'button', class: 'danger'}, 'Cancel sweep');
  const cancelMsg = h('span', {class: 'note', role: 'status'});
  const cloneLink = h('a', {class: 'button', href: `/sweeps/new?clone=${id}`}, 'Clone');
  const deleteBtn = h('button', {type: 'button', class: 'danger', hidden: true}, 'Delete sweep');
  const chartEl = h('div', {class: 'chart', id: 'curves'});
  const chartCaption = h('figcaption');
  const csvBtn = h('button', {type: 'button', class: 'small'}, 'Download CSV');
  const table = h('table', {class: 'data leaderboard'});
  const heatEl = h('div', {class: 'heatmap-wrap'});
  const xSel = h('select', {id: 'hm-x'});
  const ySel = h('select', {id: 'hm-y'});

  const radio = (name, value, label, checked) => {
    const input = h('input', {type: 'radio', name, value, id: `${name}-${value}`, checked});
    return h('label', {for: input.id, class: 'seg'}, input, ` ${label}`);
  };
  const splitGroup = h('fieldset', {class: 'segmented'}, h('legend', null, 'Split'),
    radio('split', 'val', 'Validation', view.split === 'val'), radio('split', 'train', 'Training', view.split === 'train'));
  const metricGroup = h('fieldset', {class: 'segmented'}, h('legend', null, 'Metric'),
    radio('metric', 'accuracy', 'Accuracy', view.metric === 'accuracy'), radio('metric', 'loss', 'Loss', view.metric === 'loss'));

  const explore = new SweepExplorer({trials, hist, order, columns, seriesOf, metricLabel: () => yLabel(),
    isAccuracy: () => view.metric === 'accuracy'});
  replace(root,
    h('div', {class: 'title-row'}, title, statusBox, h('div', {class: 'title-actions'}, cloneLink, deleteBtn)),
    meta,
    h('section', {class: 'card progress-card', 'aria-label': 'Progress'},
      bar, progressText, h('div', {class: 'actions'}, cancelBtn, cancelMsg, live)),
    h('section', {class: 'card', 'aria-labelledby': 'curves-title'},
      h('div', {class: 'card-head'}, h('h2', {id: 'curves-title'}, 'Curves'), h('div', {class: 'toolbar'}, splitGroup, metricGroup)),
      explore.bar.wrap,
      h('figure', {class: 'chart-figure'}, chartEl, explore.readout, explore.legend, chartCaption)),
    explore.sections,
    h('section', {class: 'card', 'aria-labelledby': 'lb-title'},
      h('div', {class: 'card-head'}, h('h2', {id: 'lb-title'}, 'Leaderboard'), csvBtn),
      h('p', {class: 'muted small'}, 'Sort by a column with its header button. Hover or focus a row to pick out its curve. Pruned and stopped trials say at which rung or iteration.'),
      h('div', {class: 'table-wrap'}, table)),
    h('section', {class: 'card', 'aria-labelledby': 'hm-title'},
      h('div', {class: 'card-head'}, h('h2', {id: 'hm-title'}, 'Heatmap'),
        h('div', {class: 'toolbar'}, h('label', {for: 'hm-x'}, 'Columns '), xSel, h('label', {for: 'hm-y'}, 'Rows '), ySel)),
      heatEl));

  // ---- header, progress -------------------------------------------------------------------------
  function drawHeader() {
    replace(title, sweep.name ? sweep.name : `Sweep #${id}`, sweep.name ? h('span', {class: 'muted'}, ` #${id}`) : null);
    document.title = `${sweep.name || `Sweep ${id}`} · mlptune`;
    if (statusBox.dataset.sweepStatus !== sweep.status) { // a live region: change it only on news
      replace(statusBox, statusBadge(sweep.status));
      statusBox.dataset.sweepStatus = sweep.status;
    }
    const item = (k, v) => h('div', null, h('dt', null, k), h('dd', null, v));
    replace(meta,
      item('Dataset', dataset ? h('a', {href: '/datasets'}, `${dataset.name} (#${dataset.id})`) : `#${sweep.dataset_id}`),
      item('Trials', String(sweep.trials_total ?? trials.size)),
      item('Created', when(sweep.created_at)),
      item('Started', when(sweep.started_at)),
      item('Finished', when(sweep.finished_at)));
    cancelBtn.hidden = FINAL_SWEEP.has(sweep.status);
    deleteBtn.hidden = !FINAL_SWEEP.has(sweep.status);
  }

  // A sampling search may add trials up to its max_trials (they are part of the plan), and ends
  // when its first budget is spent.
  const sampling = () => {
    const sr = sweep.spec && sweep.spec.search;
    return sr && sr.type && sr.type !== 'grid' ? sr : null;
  };

  function drawProgress() {
    const elapsed = secondsBetween(sweep.started_at, sweep.finished_at);
    const sr = sampling();
    const pr = sweepProgress(sweep, [...trials.values()], {plannedTrials: sr ? sr.max_trials : null, budget: sr, elapsed});
    setProgress(bar, pr.p);
    let eta = DASH;
    if (FINAL_SWEEP.has(sweep.status)) eta = sweep.status === 'canceled' ? 'canceled' : 'finished';
    else if (sweep.status === 'queued' || !sweep.started_at) eta = 'waiting for a worker';
    else if (pr.p > 0.001 && elapsed !== null) eta = duration((elapsed * (1 - pr.p)) / pr.p);
    const states = Object.entries(pr.counts).filter(([k]) => k !== 'canceled').map(([k, v]) => `${v} ${k}`).join(', ');
    const canceled = pr.canceled
      ? ` · ${pr.canceled} canceled (${pr.neverRan === pr.canceled ? 'never ran' : `${pr.canceled - pr.neverRan} while running, ${pr.neverRan} never ran`})`
      : '';
    replace(progressText,
      h('strong', null, pct(pr.p, 0)),
      ` · ${num(pr.trained)} of ${plural(pr.planned, 'iteration')} trained · `,
      h('span', {class: 'finished-count'}, `${pr.finished} of ${plural(trials.size, 'trial')} finished`),
      states ? ` (${states})` : '', canceled,
      ` · elapsed ${elapsed === null ? DASH : duration(elapsed)}`,
      ' · ETA ', h('span', {class: 'eta'}, eta));
    progressText.dataset.finished = String(pr.finished);
    progressText.dataset.canceled = String(pr.canceled);
    progressText.dataset.neverRan = String(pr.neverRan);
  }

  // ---- chart ------------------------------------------------------------------------------------
  const metricKey = () => `${view.split}_${view.metric}`;
  const yLabel = () => `${SPLITS[view.split]} ${view.metric}`;
  const chart = new CurveChart(chartEl, {
    series: order.map((tid, i) => ({label: `Trial ${tid}`, ...seriesStyle(i)})),
    yLabel: yLabel(),
    yFormat: view.metric === 'accuracy' ? formatPercentTick : formatTick,
    onHover: (hit) => {
      if (hit) explore.showReadout(order[hit.series], hit.iteration, hit.value);
    },
  });
  await chart.init();
  if (signal.aborted) {
    chart.destroy();
    return;
  }

  function refillChart() {
    const key = metricKey();
    chart.clearAll();
    order.forEach((tid, i) => chart.setSeriesValues(i, hist.get(tid).map((r) => (r ? r[key] : null))));
    chartCaption.textContent = `${yLabel()} per iteration, one line per trial (${trials.size}); the leaderboard lists the same trials with their colours.`;
  }

  for (const g of [splitGroup, metricGroup]) {
    g.addEventListener('change', (e) => {
      view[e.target.name] = e.target.value;
      setQuery({split: view.split === 'val' ? null : view.split, metric: view.metric === 'accuracy' ? null : view.metric});
      chart.setY(yLabel(), view.metric === 'accuracy' ? formatPercentTick : formatTick);
      refillChart();
    });
  }

  // ---- leaderboard --------------------------------------------------------------------------------
  const board = new Leaderboard(table, {
    params: columns,
    view,
    seriesOf,
    onFocus: (i) => {
      if (i !== null) explore.showReadout(order[i], null, null);
      chart.focus(i);
    },
    onSort: () => setQuery({sort: view.sort === 'best_val_accuracy' ? null : view.sort, dir: view.dir === 'desc' ? null : view.dir}),
  });
  await explore.init(chart, board);
  if (signal.aborted) {
    chart.destroy();
    explore.destroy();
    return;
  }

  // ---- CSV, delete -------------------------------------------------------------------------------------
  csvBtn.addEventListener('click', () => {
    const name = `mlptune-sweep-${id}-leaderboard.csv`;
    download(name, leaderboardCsv(board.ordered(), columns));
  });
  deleteBtn.addEventListener('click', async () => {
    const n = trials.size;
    const ok = await confirmInline(deleteBtn, {
      text: `Delete ${sweep.name ? `sweep “${sweep.name}” (#${id})` : `sweep #${id}`} with its ${plural(n, 'trial')}, their histories and models? This cannot be undone.`,
      action: 'Delete sweep'});
    if (!ok) return;
    deleteBtn.disabled = true;
    try {
      await api(`/sweeps/${id}`, {method: 'DELETE', signal});
      navigate('/sweeps');
    } catch (err) {
      if (isAbort(err)) return;
      cancelMsg.textContent = err.status === 409 ? 'Only a finished sweep can be deleted.' : `Delete failed: ${err.message}`;
      deleteBtn.disabled = false;
    }
  });

  // ---- heatmap --------------------------------------------------------------------------------------
  function setupAxes() {
    const vary = varyingParams([...trials.values()], columns);
    const pool = [...vary, ...columns.filter((p) => !vary.includes(p))]; // the grid's real axes first
    const keys = pool.map((p) => p.key);
    const pick = (want, fallback) => (want && keys.includes(want) ? want : fallback);
    const varies = (k) => vary.some((p) => p.key === k);
    const [depth, widths] = columns.filter((c) => c.type === 'layers'); // the network shape's columns
    const both = depth && widths && varies(widths.key) && varies(depth.key);
    const defX = both ? widths.key : (vary[0] || columns[1]).key;
    const defY = both ? depth.key : (vary.find((p) => p.key !== defX) || {key: ''}).key;
    view.x = pick(view.x, defX);
    view.y = view.y === '' ? '' : pick(view.y, defY);
    const label = (p) => (varies(p.key) ? p.label : `${p.label} (one value)`);
    replace(xSel, pool.map((p) => h('option', {value: p.key, selected: p.key === view.x}, label(p))));
    replace(ySel, h('option', {value: '', selected: !view.y}, 'None (one row)'),
      pool.map((p) => h('option', {value: p.key, selected: p.key === view.y}, label(p))));
  }
  function drawHeatmap() {
    renderHeatmap(heatEl, [...trials.values()], view.x, view.y && view.y !== view.x ? view.y : null, columns);
  }
  for (const sel of [xSel, ySel]) {
    sel.addEventListener('change', () => {
      view.x = xSel.value;
      view.y = ySel.value;
      setQuery({x: view.x, y: view.y === '' ? 'none' : view.y});
      drawHeatmap();
    });
  }
  setupAxes();

  // ---- redraws ---------------------------------------------------------------------------------------
  let redrawTimer = 0;
  let lastHeatmap = 0;
  function redraw() {
    redrawTimer = 0;
    drawHeader();
    drawProgress();
    explore.drawSelection();
    if (Date.now() - lastHeatmap > 1000 || FINAL_SWEEP.has(sweep.status)) {
      lastHeatmap = Date.now();
      drawHeatmap();
      explore.drawAnalysis(sweep.started_at);
    }
  }
  function markDirty() {
    if (!redrawTimer) redrawTimer = setTimeout(redraw, 200);
  }
  refillChart();
  redraw();
  const ticker = setInterval(() => {
    if (!FINAL_SWEEP.has(sweep.status)) drawProgress();
  }, 1000);

  // ---- refreshes from the API ------------------------------------------------------------------------
  let refreshTimer = 0;
  async function refresh() {
    refreshTimer = 0;
    try {
      const [s, list] = await Promise.all([api(`/sweeps/${id}`, {signal}), apiAll(`/sweeps/${id}/trials`, {signal})]);
      sweep = s;
      for (const t of list) {
        const known = trials.get(t.id);
        // A trial still running: the events know more (the API fills its accuracies at the end).
        if (known && !FINAL_TRIAL.has(t.status) && (known.iterations_done || 0) >= (t.iterations_done || 0)) {
          t.iterations_done = known.iterations_done;
          t.best_val_accuracy = known.best_val_accuracy;
          t.final_val_accuracy = known.final_val_accuracy;
          t.seconds = known.seconds;
        }
        if (trials.has(t.id)) addTrial(t);
      }
      // Trials the sweep's search strategy added while it ran: a row, a curve, their history so far.
      const fresh = list.filter((t) => !trials.has(t.id)).sort((a, b) => (a.ordinal ?? a.id) - (b.ordinal ?? b.id));
      for (const t of fresh) {
        addTrial(t);
        chart.addSeries({label: `Trial ${t.id}`});
      }
      if (fresh.length) {
        setupAxes();
        const past = await Promise.all(fresh.map((t) => api(`/trials/${t.id}/history`, {signal}).catch(() => null)));
        past.forEach((h, k) => (h && h.history ? h.history : []).forEach((r) => record(fresh[k].id, r)));
        chartCaption.textContent = `${yLabel()} per iteration, one line per trial (${trials.size}); the leaderboard lists the same trials with their colours.`;
      }
      markDirty();
    } catch (err) {
      if (!isAbort(err)) live.textContent = `Refresh failed: ${err.message}`;
    }
  }
  function refreshSoon(ms = 400) {
    if (!refreshTimer && !signal.aborted) refreshTimer = setTimeout(refresh, ms);
  }

  // ---- cancel ------------------------------------------------------------------------------------------
  cancelBtn.addEventListener('click', async () => {
    cancelBtn.disabled = true;
    cancelMsg.textContent = 'Canceling…';
    try {
      const s = await api(`/sweeps/${id}/cancel`, {method: 'POST', signal});
      if (s && s.status) sweep = {...sweep, ...s};
      cancelMsg.textContent = 'Canceled: running trials stop within one mini-batch.';
      markDirty();
      refreshSoon(300);
    } catch (err) {
      if (isAbort(err)) return;
      cancelMsg.textContent = err.status === 409 ? 'The sweep has already finished.' : `Cancel failed: ${err.message}`;
      cancelBtn.disabled = false;
      refreshSoon(0);
    }
  });

  // ---- data: stored history for a finished sweep, events for a live one ---------------------------------
  function record(tid, r) {
    const list = hist.get(tid);
    if (!list || !(r.iteration >= 1)) return;
    list[r.iteration - 1] = r;
    const t = trials.get(tid);
    t.iterations_done = Math.max(t.iterations_done || 0, r.iteration);
    if (Number.isFinite(r.val_accuracy) && !(t.best_val_accuracy >= r.val_accuracy)) t.best_val_accuracy = r.val_accuracy;
    if (r.iteration === t.iterations_done) t.final_val_accuracy = Number.isFinite(r.val_accuracy) ? r.val_accuracy : t.final_val_accuracy;
    chart.set(seriesOf(tid), r.iteration, r[metricKey()]);
  }

  let es = null;
  if (FINAL_SWEEP.has(sweep.status)) {
    live.textContent = '';
    try {
      const all = await api(`/sweeps/${id}/history`, {signal});
      for (const t of all.trials || []) {
        if (!trials.has(t.trial_id)) continue;
        for (const r of t.history || []) record(t.trial_id, r);
      }
      // The stored figures are the authority for a finished sweep.
      for (const t of trialList) addTrial(t);
      markDirty();
    } catch (err) {
      if (!isAbort(err)) live.textContent = `The history could not be loaded: ${err.message}`;
    }
  } else {
    es = new EventSource(`${API}/sweeps/${id}/events`);
    const parse = (e) => {
      try {
        return JSON.parse(e.data);
      } catch {
        return null;
      }
    };
    es.addEventListener('open', () => {
      live.textContent = '● live';
      live.className = 'live on';
    });
    es.addEventListener('error', () => {
      if (!es) return;
      if (es.readyState === EventSource.CLOSED) {
        live.textContent = 'Disconnected: reload the page to follow the sweep again.';
        live.className = 'live off';
        // A stream refused with 401 (the session ended): sign in, then show the sweep again.
        sessionState().then((s) => {
          if (s && s.token_required && !s.authenticated && !signal.aborted) {
            requireSignIn(signal).then(() => navigate(location.href, {replace: true}), () => {});
          }
        });
      } else {
        live.textContent = 'Reconnecting…';
        live.className = 'live off';
      }
    });
    es.addEventListener('trial_started', (e) => {
      const d = parse(e);
      if (!d || !trials.has(d.trial_id)) {
        refreshSoon(0); // a trial added while the sweep runs: the refresh brings its row and curve
        return;
      }
      const t = trials.get(d.trial_id);
      t.status = 'running';
      refreshSoon(); // where it runs (its placement) comes with the trial resource
      // A trial resumed after a restart keeps every row it had (the service never deletes one,
      // and does not send the iterations it recomputes again): its curve and figures stay.
      if (sweep.status === 'queued') {
        sweep.status = 'running';
        refreshSoon();
      }
      markDirty();
    });
    es.addEventListener('iteration', (e) => {
      const d = parse(e);
      if (!d || !trials.has(d.trial_id)) return;
      const t = trials.get(d.trial_id);
      if (t.status === 'queued') t.status = 'running';
      const before = hist.get(d.trial_id)[d.iteration - 1];
      t.seconds = (t.seconds || 0) + (Number(d.seconds) || 0) - (before ? Number(before.seconds) || 0 : 0);
      record(d.trial_id, d);
      markDirty();
    });
    es.addEventListener('trial_finished', (e) => {
      const d = parse(e);
      if (d && trials.has(d.trial_id)) trials.get(d.trial_id).status = d.status;
      markDirty();
      refreshSoon();
    });
    es.addEventListener('sweep_finished', (e) => {
      const d = parse(e);
      if (d && d.status) sweep.status = d.status;
      es.close();
      es = null;
      live.textContent = '';
      live.className = 'live';
      markDirty();
      refreshSoon(0);
    });
  }

  return () => {
    if (es) es.close();
    es = null;
    clearTimeout(redrawTimer);
    clearTimeout(refreshTimer);
    clearInterval(ticker);
    chart.destroy();
    explore.destroy();
  };
}
