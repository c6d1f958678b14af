// sweep-form/spec.js - between the New sweep form and a request: where an API field path is shown
// in the form, and how a stored sweep's spec (GET /api/v1/sweeps/{id} `spec`) fills the form to
// start from it ("clone").

/**
 * The FormErrors key of an API field path (already split by api.js splitField), or null.
 * axes: Map key -> axis; has(key): the form has that field.
 */
export function fieldKey(path, axes, has) {
  const m = /^(grid|space|training)\.([a-z_]+)(?:\.(low|high|log))?$/.exec(path);
  if (m) {
    const [, section, name, part] = m;
    if (section === 'training' && name === 'early_stopping') return has(path) ? path : null;
    const key = name === 'layers' ? 'neurons' : name; // explicit layers: beside the widths
    if (part) return has(`${key}.${part}`) ? `${key}.${part}` : null;
    return has(key) ? key : null;
  }
  if (has(path)) return path;
  const parent = path.replace(/\.[^.]*$/, '');
  if (parent !== path && has(parent)) return parent;
  if (path === 'space' || path === 'grid') return 'grid';
  return null;
}

/**
 * Fills the form's parts from a stored spec. parts: {dataset, name, test, search, pruner,
 * earlyStop, axes (Map key -> axis), training (Map name -> input)}. Returns the notes to show
 * (members the form cannot show).
 */
export function fillFromSpec(spec, parts) {
  const notes = [];
  if (!spec || typeof spec !== 'object') return ['the sweep has no stored spec'];
  if (spec.dataset_id) parts.dataset.value = String(spec.dataset_id);
  parts.test.value = spec.test_dataset_id ? String(spec.test_dataset_id) : '';
  parts.name.value = spec.name ? `${spec.name} (copy)` : '';
  const space = spec.space || spec.grid || {};
  parts.search.set(spec.search || null);
  const training = spec.training || {};
  for (const [key, axis] of parts.axes) {
    if (space[key] !== undefined) axis.set(space[key]);
    else if (training[key] !== undefined) axis.set([training[key]]);
  }
  if (Array.isArray(space.layers)) notes.push('explicit layer widths (grid.layers) are not in this form: give hidden layers and neurons');
  for (const [name, input] of parts.training) {
    if (training[name] !== undefined && training[name] !== null) input.value = String(training[name]);
  }
  parts.earlyStop.set(training.early_stopping || null);
  parts.pruner.set(spec.pruner || null);
  return notes;
}
