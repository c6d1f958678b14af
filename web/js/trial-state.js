// trial-state.js - why a trial ended, as its `error` says it: "pruned at rung 3 (iteration 9):
// 0.71 < 0.78" (a pruner), "stopped ..." (a budget ended the sweep while it ran), "early stopped
// ..." (no improvement). The leaderboard marks pruned and stopped trials with the rung.
import {h, statusBadge} from './dom.js';

/** {rung, bracket, iteration} from a pruner's note ("pruned at rung 0 of bracket 1 (iteration
 * 3): ..." from hyperband), or null; bracket and iteration are null when the note has none. */
export function rungOf(error) {
  const text = String(error || '');
  const m = /\brung\s+(\d+)(?:\s+of\s+bracket\s+(\d+))?/i.exec(text);
  if (!m) return null;
  const it = /\(iteration\s+(\d+)\)/i.exec(text);
  return {rung: Number(m[1]), bracket: m[2] === undefined ? null : Number(m[2]), iteration: it ? Number(it[1]) : null};
}

/** The short mark shown beside a trial's status ("rung 3, it. 9"; "budget"), or ''. */
export function stopMark(t) {
  if (t.status === 'pruned') {
    const r = rungOf(t.error);
    if (r) return `rung ${r.rung}${r.bracket !== null ? ` of bracket ${r.bracket}` : ''}${r.iteration !== null ? `, it. ${r.iteration}` : ''}`;
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
