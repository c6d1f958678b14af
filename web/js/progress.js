// progress.js - how far a sweep got, told apart honestly: trials that finished (completed,
// failed, diverged, pruned, stopped) are not trials that were canceled, and of those, the ones
// canceled while running are not the ones that never ran. A canceled sweep is not "100 %".
import {paramValue} from './grid.js';

const ENDED = new Set(['completed', 'failed', 'diverged', 'pruned', 'stopped']);

/** A trial's planned iterations (its `iterations` parameter, at least 1). */
export function planOf(t) {
  const n = paramValue(t, 'iterations');
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/**
 * The progress of a sweep from its trials: {p (0..1), trained, planned, finished, canceled,
 * neverRan, active, counts (by status)}. A trial that ended counts its whole plan as done, a
 * canceled one what it trained; the sweep is done (p = 1) only when it ended by itself.
 * plannedTrials: trials a sampling search may still add (its max_trials), else trials.length;
 * budget: a sampling search's {max_seconds, max_iterations_total} and elapsed (seconds): the
 * sweep ends when the first budget is spent, so its progress is the furthest budget's (below
 * 100 % until it has ended).
 */
export function sweepProgress(sweep, trials, {plannedTrials = null, budget = null, elapsed = null} = {}) {
  let done = 0;
  let trained = 0;
  let planned = 0;
  let finished = 0;
  let canceled = 0;
  let neverRan = 0;
  let active = 0;
  const counts = {};
  for (const t of trials) {
    const plan = planOf(t);
    const did = Math.min(t.iterations_done || 0, plan);
    planned += plan;
    trained += did;
    counts[t.status] = (counts[t.status] || 0) + 1;
    if (ENDED.has(t.status)) {
      finished += 1;
      done += plan;
    } else if (t.status === 'canceled') {
      canceled += 1;
      if (!t.started_at && !t.iterations_done) neverRan += 1;
      done += did;
    } else {
      active += 1;
      done += did;
    }
  }
  // A sampling search's trials to come: planned like the average trial so far.
  const more = plannedTrials && plannedTrials > trials.length ? plannedTrials - trials.length : 0;
  if (more && sweep.status !== 'canceled') planned += more * (trials.length ? planned / trials.length : 1);
  let p = planned ? done / planned : 0;
  if (budget) {
    if (budget.max_seconds && elapsed !== null) p = Math.max(p, elapsed / budget.max_seconds);
    if (budget.max_iterations_total) p = Math.max(p, trained / budget.max_iterations_total);
    if (sweep.status !== 'completed' && sweep.status !== 'failed') p = Math.min(p, 0.99);
  }
  if (sweep.status === 'completed' || sweep.status === 'failed') p = 1;
  return {p, trained, planned: Math.round(planned), finished, canceled, neverRan, active, counts};
}

/** For the sweeps list (counts by status only): {finished, canceled, total, p}. */
export function listProgress(s) {
  const c = s.trials || {};
  let finished = 0;
  for (const k of ENDED) finished += Number(c[k]) || 0;
  const canceled = Number(c.canceled) || 0;
  const total = Number(s.trials_total) || 0;
  const p = s.status === 'canceled' ? (total ? finished / total : 0) : s.progress;
  return {finished, canceled, total, p};
}
