// views/dataset.js - /datasets/{id}: one dataset. For a sensor recording: what the upload found
// (subjects, sampling rate, gaps, quirks repaired, records skipped), one window per class as a
// spectrogram image beside its raw axes (GET /datasets/{id}/preview), and a form that derives a
// windows dataset (POST /datasets/{id}/windows). For windows: their source and parameters.
import {h, append, replace, field} from '../dom.js';
import {api, isAbort, ApiError} from '../api.js';
import {FormErrors} from '../forms.js';
import {num, when, plural, DASH} from '../format.js';
import {OKABE_ITO, rampColor} from '../palette.js';

const item = (k, v) => [h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? DASH : v)];

function counts(obj) {
  const e = Object.entries(obj || {}).filter(([, v]) => v > 0);
  return e.length ? e.map(([k, v]) => `${k.replace(/_/g, ' ')}: ${num(v)}`).join(', ') : 'none';
}

/** The spectrogram of one channel as a canvas: frames left to right, frequency bottom to top. */
function spectrogramCanvas(frames, label) {
  const nf = frames.length;
  const nb = nf ? frames[0].length : 0;
  const cw = Math.max(4, Math.floor(180 / Math.max(1, nf)));
  const ch = Math.max(2, Math.floor(84 / Math.max(1, nb)));
  const c = h('canvas', {width: nf * cw, height: nb * ch, class: 'spectrogram', role: 'img', 'aria-label': label});
  const g = c.getContext && c.getContext('2d');
  if (!g) return c;
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of frames) for (const v of f) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi > lo ? hi - lo : 1;
  frames.forEach((f, i) => f.forEach((v, b) => {
    g.fillStyle = rampColor((v - lo) / span).background;
    g.fillRect(i * cw, (nb - 1 - b) * ch, cw, ch);
  }));
  return c;
}

/** The raw axes of one window as a line plot, one colour per channel. */
function axesCanvas(samples, channels, label) {
  const W = 360;
  const H = 110;
  const c = h('canvas', {width: W, height: H, class: 'axes', role: 'img', 'aria-label': label});
  const g = c.getContext && c.getContext('2d');
  if (!g || !samples.length) return c;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of samples) for (const v of s) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi > lo ? hi - lo : 1;
  for (let k = 0; k < channels; k++) {
    g.strokeStyle = OKABE_ITO[k % OKABE_ITO.length];
    g.lineWidth = 1.2;
    g.beginPath();
    samples.forEach((s, i) => {
      const x = (i / Math.max(1, samples.length - 1)) * (W - 2) + 1;
      const y = H - 1 - ((s[k] - lo) / span) * (H - 2);
      if (i) g.lineTo(x, y);
      else g.moveTo(x, y);
    });
    g.stroke();
  }
  return c;
}

function previewCard(ds, pv) {
  const names = ds.channels || [];
  const legend = h('p', {class: 'legend'}, names.map((n, k) => h('span', {class: 'legend-item'},
    h('span', {class: 'swatch', style: {'border-color': OKABE_ITO[k % OKABE_ITO.length]}}), ` ${n}`)));
  const figs = (pv.windows || []).map((w) => h('figure', {class: 'window-preview'},
    h('figcaption', null, h('strong', null, w.class), ` · subject ${w.subject} · from ${num(w.start_seconds, 3)} s`),
    axesCanvas(w.samples || [], names.length, `Raw axes of a ${w.class} window of subject ${w.subject}`),
    h('div', {class: 'spectrograms'}, (w.spectrogram || []).map((frames, k) => h('div', {class: 'spec'},
      spectrogramCanvas(frames, `Spectrogram of channel ${names[k] || k} of a ${w.class} window`),
      h('span', {class: 'muted small'}, names[k] || `channel ${k}`))))));
  return h('section', {class: 'card', 'aria-labelledby': 'ds-preview'},
    h('h2', {id: 'ds-preview'}, 'One window per class'),
    h('p', {class: 'muted small'},
      `${num(pv.window_samples)} samples at ${num(pv.rate_hz, 3)} Hz; spectrograms of ${pv.frames} frames × ${pv.bins} ` +
      `frequencies (0 to ${num(pv.bin_hz * (pv.bins - 1), 3)} Hz, bottom to top), log magnitude.`),
    legend, h('div', {class: 'previews'}, figs));
}

function deriveForm(ds, signal, navigate) {
  const inputs = {};
  const fields = {};
  const spec = [
    ['window_seconds', 'Window (s)', '10'], ['step_seconds', 'Step (s)', '5'],
    ['frame_seconds', 'Frame (s)', '2'], ['hop_seconds', 'Hop (s)', '1'],
    ['max_gap_seconds', 'Largest gap inside a window (s)', '1'],
  ];
  for (const [k, label, v] of spec) {
    inputs[k] = h('input', {type: 'number', name: k, value: v, min: '0', step: 'any'});
    fields[k] = field({label, input: inputs[k]});
  }
  inputs.features = h('select', {name: 'features'},
    ['spectrogram', 'stats', 'raw'].map((f) => h('option', {value: f}, f)));
  fields.features = field({label: 'Features', input: inputs.features,
    hint: 'spectrogram: per axis, log magnitude spectra of Hann-windowed frames; stats: the 43 features of Kwapisz et al.; raw: the samples.'});
  inputs.name = h('input', {type: 'text', name: 'name', maxlength: 128, placeholder: `${ds.name}-spectrogram`});
  fields.name = field({label: 'Name (optional)', input: inputs.name});
  const summary = h('div', {class: 'alert', role: 'alert', tabindex: '-1', hidden: true});
  const errors = new FormErrors(fields, summary, (f, {path}) => (fields[path] ? {key: path} : null));
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Derive windows');
  const form = h('form', {class: 'card', novalidate: true, 'aria-labelledby': 'ds-derive'},
    h('h2', {id: 'ds-derive'}, 'Derive a windows dataset'), summary,
    h('div', {class: 'row'}, fields.window_seconds.wrap, fields.step_seconds.wrap, fields.features.wrap),
    h('div', {class: 'row'}, fields.frame_seconds.wrap, fields.hop_seconds.wrap, fields.max_gap_seconds.wrap),
    fields.name.wrap, h('div', {class: 'actions'}, submit));
  const sync = () => {
    const spectro = inputs.features.value === 'spectrogram';
    fields.frame_seconds.wrap.hidden = !spectro;
    fields.hop_seconds.wrap.hidden = !spectro;
  };
  inputs.features.addEventListener('change', sync);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    const body = {features: inputs.features.value};
    for (const [k] of spec) {
      if ((k === 'frame_seconds' || k === 'hop_seconds') && body.features !== 'spectrogram') continue;
      if (inputs[k].value !== '') body[k] = Number(inputs[k].value);
    }
    if (inputs.name.value.trim()) body.name = inputs.name.value.trim();
    submit.disabled = true;
    try {
      const w = await api(`/datasets/${ds.id}/windows`, {method: 'POST', body, signal});
      navigate(`/datasets/${w.id}`);
    } catch (err) {
      if (isAbort(err)) return;
      errors.show(err instanceof ApiError ? err : new ApiError(0, {detail: String(err)}), 'The windows could not be derived.');
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function render({root, params, signal, navigate}) {
  const id = /^[1-9]\d*$/.test(params.id) ? Number(params.id) : null;
  document.title = `Dataset ${params.id} · mlptune`;
  const back = h('p', {class: 'crumbs'}, h('a', {href: '/datasets'}, '← Datasets'));
  if (!id) {
    append(root, [back, h('h1', null, 'No such dataset')]);
    return;
  }
  append(root, [back, h('h1', null, `Dataset #${id}`), h('p', {class: 'muted'}, 'Loading…')]);
  let ds;
  try {
    ds = await api(`/datasets/${id}`, {signal});
  } catch (err) {
    if (isAbort(err)) return;
    replace(root, back, h('h1', null, err.status === 404 ? 'No such dataset' : `Dataset #${id}`),
      h('p', {class: 'alert', role: 'alert'}, err.status === 404 ? `There is no dataset #${id}.` : `The dataset could not be loaded: ${err.message}`));
    return;
  }
  document.title = `${ds.name} · mlptune`;
  const kind = ds.kind || 'table';
  const facts = h('dl', {class: 'meta'},
    item('Kind', kind), item('Format', ds.format), item('Rows', num(ds.rows)), item('Features', num(ds.features)),
    item('Classes', (ds.classes || []).map((c, i) => `${c} (${num((ds.class_counts || [])[i])})`).join(', ')),
    item('Uploaded', when(ds.created_at)));
  const parts = [back, h('h1', null, ds.name, h('span', {class: 'muted small'}, ` #${ds.id}`)),
    h('section', {class: 'card', 'aria-labelledby': 'ds-facts'}, h('h2', {id: 'ds-facts'}, 'Dataset'), facts,
      h('p', null, h('a', {class: 'button', href: `/sweeps/new?dataset=${ds.id}`}, 'New sweep')))];
  if (kind === 'recording') {
    const gaps = ds.gaps || {};
    append(facts, [
      item('Channels', (ds.channels || []).join(', ')),
      item('Subjects', `${(ds.subjects || []).length}: ${(ds.subjects || []).map((s) => s.id).join(', ')}`),
      item('Sampling rate', `${num(ds.sampling_rate_hz, 4)} Hz`),
      item('Gaps', `${num(gaps.count)} over ${num(gaps.threshold_seconds, 3)} s (longest ${num(gaps.longest_seconds, 3)} s)`),
      item('Quirks repaired', counts(ds.quirks)),
      item('Records skipped', counts(ds.skipped)),
    ]);
    const previewEl = h('div', {'aria-live': 'polite'}, h('p', {class: 'muted'}, 'Loading one window per class…'));
    parts.push(deriveForm(ds, signal, navigate), previewEl);
    replace(root, ...parts);
    try {
      const pv = await api(`/datasets/${ds.id}/preview`, {signal});
      replace(previewEl, previewCard(ds, pv));
    } catch (err) {
      if (isAbort(err)) return;
      replace(previewEl, h('p', {class: 'muted'}, `No preview: ${err.message}`));
    }
    return;
  }
  if (kind === 'windows') {
    const p = ds.parameters || {};
    append(facts, [
      item('Source', ds.source ? h('a', {href: `/datasets/${ds.source.dataset_id}`}, `${ds.source.name} #${ds.source.dataset_id}`) : null),
      item('Windows', `${num(p.window_seconds)} s every ${num(p.step_seconds)} s, ${p.features}` +
        (p.features === 'spectrogram' ? ` (frames ${num(p.frame_seconds)} s every ${num(p.hop_seconds)} s)` : '') +
        `, gaps up to ${num(p.max_gap_seconds)} s`),
      item('Subjects', plural((ds.subjects || []).length, 'subject')),
      item('Split', 'by subject (a sweep\'s default for windows)'),
    ]);
  }
  replace(root, ...parts);
}
