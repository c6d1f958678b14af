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

/** How the leaderboard and the heatmap read a trial's parameters. */
export const PARAMS = [
  {key: 'hidden_layers', label: 'Layers', get: (p) => p.hidden_layers},
  {key: 'neurons', label: 'Neurons', get: (p) => (p.neurons === null || p.neurons === undefined
    ? (Array.isArray(p.layers) && p.layers.length ? p.layers.join('-') : null) : p.neurons)},
  {key: 'learning_rate', label: 'Learning rate', get: (p) => p.learning_rate},
  {key: 'iterations', label: 'Iterations', get: (p) => p.iterations},
  {key: 'batch_size', label: 'Batch', get: (p) => p.batch_size},
  {key: 'activation', label: 'Activation', get: (p) => p.activation},
  {key: 'momentum', label: 'Momentum', get: (p) => p.momentum},
];

export function paramValue(trial, key) {
  const def = PARAMS.find((d) => d.key === key);
  const p = trial.params || {};
  const v = def ? def.get(p) : p[key];
  return v === undefined ? null : v;
}

/** The parameters that take more than one value across the trials (the grid's real axes). */
export function varyingParams(trials) {
  return PARAMS.filter((d) => new Set(trials.map((t) => String(paramValue(t, d.key)))).size > 1);
}

/** Sorted distinct values of a parameter over the trials (numbers numerically). */
export function axisValues(trials, key) {
  const vals = unique(trials.map((t) => paramValue(t, key)).filter((v) => v !== null));
  return vals.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), 'en', {numeric: true})));
}
