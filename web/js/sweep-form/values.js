// sweep-form/values.js - the New sweep form's own check of a value against the server's parameter
// table (meta.js), so the trial count never counts a value the server would refuse. The server
// stays the authority: its answer to the request replaces these messages.

/**
 * The rule of a form field: from a table row ({type, min, max, min_exclusive, max_exclusive,
 * choices}) or, for the network shape's fields, made here from its limits.
 */
export function ruleOf(row, key) {
  if (row.type === 'layers') {
    return key === 'hidden_layers'
      ? {type: 'int', min: 0, max: row.max_layers}
      : {type: 'int', min: 1, max: row.max_neurons};
  }
  return row;
}

/** Why v is not a value of rule (a short sentence), or null when it is one. */
export function valueProblem(rule, v) {
  if (rule.type === 'enum') return rule.choices.includes(v) ? null : `must be one of ${rule.choices.join(', ')}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'is not a number';
  if (rule.type === 'int' && !Number.isInteger(v)) return 'must be a whole number';
  if (Number.isFinite(rule.min)) {
    if (rule.min_exclusive && !(v > rule.min)) return `must be > ${rule.min}`;
    if (!rule.min_exclusive && v < rule.min) return `must be ≥ ${rule.min}`;
  }
  if (Number.isFinite(rule.max)) {
    if (rule.max_exclusive && !(v < rule.max)) return `must be < ${rule.max}`;
    if (!rule.max_exclusive && v > rule.max) return `must be ≤ ${rule.max}`;
  }
  return null;
}

/** The problems of a list of values: [{index, message}] ("value 2 (-1): must be > 0"). */
export function listProblems(rule, values, {maxAxis = 64} = {}) {
  const out = [];
  if (!values.length) out.push({index: null, message: 'give at least one value'});
  if (values.length > maxAxis) out.push({index: null, message: `at most ${maxAxis} values`});
  values.forEach((v, i) => {
    const p = valueProblem(rule, v);
    if (p) out.push({index: i, message: `value ${i + 1} (${JSON.stringify(v)}): ${p}`});
  });
  return out;
}

/** The problems of a range {low, high, log}: [{part: 'low'|'high', message}]. */
export function rangeProblems(rule, {low, high, log}) {
  const out = [];
  const lp = low === null ? 'is required' : valueProblem(rule, low);
  const hp = high === null ? 'is required' : valueProblem(rule, high);
  if (lp) out.push({part: 'low', message: lp});
  if (hp) out.push({part: 'high', message: hp});
  if (!lp && !hp && high < low) out.push({part: 'high', message: `must be ≥ low (${low})`});
  if (!lp && log && !(low > 0)) out.push({part: 'low', message: 'must be > 0 on a log scale'});
  return out;
}

/** A number typed in a box, or null when the box is empty; text that is no number stays text. */
export function readNumber(text) {
  const t = String(text ?? '').trim();
  if (!t) return null;
  return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : t;
}
