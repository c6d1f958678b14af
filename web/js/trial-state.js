// trial-state.js - why a trial ended, as its `error` says it: "pruned at rung 3 (iteration 9):
// 0.71 < 0.78" (a pruner), "stopped ..." (a budget ended the sweep while it ran), "early stopped
// ..." (no improvement). The leaderboard marks pruned and stopped trials with the rung.
import {h, statusBadge} from './dom.js';

/** {rung, iteration} from a pruner's note, or null. */
export function rungOf(error) {
  const m = /\brung\s+(\d+)(?:\s*\(iteration\s+(\d+)\))?/i.exec(String(error || ''));
  return m ? {rung: Number(m[1]), iteration: m[2] === undefined ? null : Number(m[2])} : null;
}

/** The short mark shown beside a trial's status ("rung 3, it. 9"; "budget"), or ''. */
export function stopMark(t) {
  if (t.status === 'pruned') {
    const r = rungOf(t.error);
    if (r) return `rung ${r.rung}${r.iteration !== null ? `, it. ${r.iteration}` : ''}`;
    return '';
  }
  if (t.status === 'stopped') return `at it. ${t.iterations_done ?? 0}`;
  if (t.status === 'completed' && /early/i.test(t.error || '')) return 'early stop';
  return '';
}

/** A status cell's content: the badge, the mark, and the whole note as its title. */
export function statusCell(t) {
  const mark = stopMark(t);
  return h('span', {class: 'status-cell', title: t.error || null},
    statusBadge(t.status), mark ? h('span', {class: 'stop-mark small'}, ` ${mark}`) : null);
}
