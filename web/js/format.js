// format.js - numbers, fractions, durations and times as the dashboard shows them.

export const DASH = '—';

export function pct(x, digits = 1) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return DASH;
  return `${(Number(x) * 100).toFixed(digits)} %`;
}

export function num(x, digits = 4) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return DASH;
  const v = Number(x);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toString();
}

export function bytes(n) {
  if (!Number.isFinite(n)) return DASH;
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Seconds as "850 ms", "4.2 s", "3 min 05 s", "1 h 02 min". */
export function duration(s) {
  if (s === null || s === undefined || !Number.isFinite(s) || s < 0) return DASH;
  if (s === 0) return '0 s';
  if (s < 1) return `${Number((s * 1000).toPrecision(2))} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** An RFC 3339 time as local date and time; DASH for null. */
export function when(iso) {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return DASH;
  return d.toLocaleString();
}

/** Seconds between two RFC 3339 times (the second defaults to now); null when the first is missing. */
export function secondsBetween(fromIso, toIso) {
  if (!fromIso) return null;
  const a = Date.parse(fromIso);
  const b = toIso ? Date.parse(toIso) : Date.now();
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return Math.max(0, (b - a) / 1000);
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** Where a trial ran (its `placement`) as "rank 1 · node-a · 2 workers"; DASH before it ran. */
export function placement(p) {
  if (!p || typeof p !== 'object' || !Number.isInteger(p.rank)) return DASH;
  const workers = Number.isInteger(p.workers) ? ` · ${plural(p.workers, 'worker')}` : '';
  return `rank ${p.rank} · ${p.host || '?'}${workers}`;
}

/** How many ranks the trials ran on (distinct placement ranks). */
export function rankCount(trials) {
  const ranks = new Set();
  for (const t of trials) if (t.placement && Number.isInteger(t.placement.rank)) ranks.add(t.placement.rank);
  return ranks.size;
}
