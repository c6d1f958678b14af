// csv.js - the leaderboard as a CSV file (RFC 4180: comma, CRLF, quotes doubled), one row per
// trial in the table's order, every parameter column, best_iteration, and why a trial stopped.
import {paramValue} from './grid.js';

function cell(v) {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = Array.isArray(v) ? v.join('-') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV text of trials (in order) with the parameter columns (grid.js paramColumns). */
export function leaderboardCsv(trials, columns) {
  const head = ['trial', 'ordinal', 'status', ...columns.map((c) => c.key), 'iterations_done', 'best_val_accuracy',
    'best_iteration', 'final_val_accuracy', 'test_accuracy', 'seconds', 'note'];
  const rows = trials.map((t) => [t.id, t.ordinal, t.status, ...columns.map((c) => paramValue(t, c)), t.iterations_done,
    t.best_val_accuracy, t.best_iteration, t.final_val_accuracy, t.test_accuracy, t.seconds, t.error]);
  return [head, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** Offers text as a file download named name. */
export function download(name, text, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], {type}));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
