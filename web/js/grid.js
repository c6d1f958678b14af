// grid.js - a sweep's grid: how the form reads an axis, how many trials the axes make, and how a
// trial's params are read back for tables and the heatmap. (The axes themselves come from the
// server's parameter table, meta.js.)

/**
 * Splits a list typed by a person ("0.1, 0.5 1e-3") into values: numbers where they parse, the
 * raw text otherwise (the API then names the bad one). Returns [] for an empty field.
 */
export function parseList(text) {
  return String(text || '')
    .split(/[\s,;]+/)
    .map((t) => t.trim())
    .filter((t) => t.length)
    .map((t) => (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : t));
}

function unique(list) {
  const seen = new Set();
  const out = [];
  for (const v of list) {
    const k = typeof v === 'number' ? `n${v}` : `s${v}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(v);
    }
  }
  return out;
}

/**
 * The number of distinct trials a grid expands to, the way the scheduler counts them after
 * removing duplicates: network shapes (hidden_layers x neurons; every depth 0 is one shape, its
 * width does not matter) times the other axes' distinct values. axes: [{key, noun}] in the order
 * the factors are listed (the form's grid rows of the parameter table, the shape left out).
 * Returns {count, factors}.
 */
export function trialCount(grid, axes) {
  const hl = unique(grid.hidden_layers || []);
  const ne = unique(grid.neurons || []);
  let shapes = 0;
  for (const d of hl) shapes += d === 0 ? 1 : ne.length;
  const factors = [
    {label: shapes === 1 ? 'network shape' : 'network shapes', n: shapes},
    ...axes.map(({key, noun}) => {
      const n = unique(grid[key] || []).length;
      return {label: n === 1 ? noun : `${noun}s`, n};
    }),
  ];
  return {count: factors.reduce((a, f) => a * f.n, 1), factors};
}

/** A layers row's widths: "16" when every hidden layer has them, else "500-500-2000" (null: none). */
function widths(key, name) {
  return (p) => (p[key] === null || p[key] === undefined
    ? (Array.isArray(p[name]) && p[name].length ? p[name].join('-') : null) : p[key]);
}

/**
 * The columns of a trial's parameters in the leaderboard and the heatmap, from the server's
 * parameter table (meta.js): the rows that vary within a sweep, in their column order, each column
 * {key, label, type (the row's), num (a number: right-aligned), get(params), leaderboard (the
 * leaderboard shows it), runLength (a longer run answers a shorter one: the leaderboard shows it
 * as progress)}. A layers row gives two columns, its depth and then its widths.
 */
export function paramColumns(meta) {
  return meta.parameters.filter((r) => Array.isArray(r.columns) && r.columns.length)
    .sort((a, b) => a.column_order - b.column_order)
    .flatMap((r) => r.columns.map((c, i) => ({
      key: c.key,
      label: c.label,
      type: r.type,
      num: r.type !== 'enum',
      get: r.type === 'layers' && i > 0 ? widths(c.key, r.name) : (p) => p[c.key],
      leaderboard: r.leaderboard,
      runLength: r.shares_run,
    })));
}

/** A trial's value of a parameter column (or of the params member named `key`), null if none. */
export function paramValue(trial, column) {
  const p = trial.params || {};
  const v = typeof column === 'string' ? p[column] : column.get(p);
  return v === undefined ? null : v;
}

/** The columns that take more than one value across the trials (the grid's real axes). */
export function varyingParams(trials, columns) {
  return columns.filter((d) => new Set(trials.map((t) => String(paramValue(t, d)))).size > 1);
}

/** Sorted distinct values of a parameter column over the trials (numbers numerically). */
export function axisValues(trials, column) {
  const vals = unique(trials.map((t) => paramValue(t, column)).filter((v) => v !== null));
  return vals.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), 'en', {numeric: true})));
}
