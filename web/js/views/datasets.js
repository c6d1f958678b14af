// views/datasets.js - /datasets: upload (file picker or drag and drop, with a progress bar) and
// the list with rows, features, classes and class balance.
import {h, append, replace, field, progressBar, setProgress, uid} from '../dom.js';
import {api, apiAll, upload, isAbort, ApiError} from '../api.js';
import {FormErrors} from '../forms.js';
import {bytes, when, num, plural} from '../format.js';
import {OKABE_ITO} from '../palette.js';
import {confirmInline} from '../confirm.js';

function balanceBar(ds) {
  const names = Array.isArray(ds.classes) ? ds.classes : [];
  const counts = Array.isArray(ds.class_counts) ? ds.class_counts : [];
  const total = counts.reduce((a, b) => a + (Number(b) || 0), 0) || 1;
  const text = names.map((n, i) => `${n}: ${counts[i] ?? 0}`).join(', ');
  const shown = names.slice(0, 64);
  return h('div', {class: 'balance', role: 'img', 'aria-label': `Class balance: ${text}`, title: text},
    shown.map((n, i) => h('span', {
      class: 'balance-seg',
      style: {width: `${((counts[i] || 0) / total) * 100}%`, 'background-color': OKABE_ITO[i % OKABE_ITO.length]},
    })));
}

function classSummary(ds) {
  const names = Array.isArray(ds.classes) ? ds.classes : [];
  const preview = names.slice(0, 4).join(', ') + (names.length > 4 ? ', …' : '');
  return h('span', null, String(names.length), h('span', {class: 'muted small'}, names.length ? ` (${preview})` : ''));
}

export async function render({root, signal, query, navigate}) {
  document.title = 'Datasets · mlptune';
  const listEl = h('div', {class: 'table-wrap', 'aria-live': 'polite', 'aria-busy': 'true'}, h('p', {class: 'muted'}, 'Loading datasets…'));

  // ---- upload form --------------------------------------------------------------------------
  const fileIn = h('input', {type: 'file', name: 'file', accept: '.csv,.gz,text/csv'});
  const nameIn = h('input', {type: 'text', name: 'name', autocomplete: 'off', maxlength: 128});
  const labelIn = h('input', {type: 'text', name: 'label_column', autocomplete: 'off', placeholder: 'label'});
  const imagesIn = h('input', {type: 'file', name: 'images'});
  const labelsIn = h('input', {type: 'file', name: 'labels'});
  const fFile = field({label: 'CSV file', input: fileIn, hint: 'A header row, then one sample per line; gzip is fine.'});
  const fName = field({label: 'Name (optional)', input: nameIn, hint: 'Defaults to the file name.'});
  const fLabel = field({label: 'Label column (optional)', input: labelIn, hint: 'Name or 0-based index; default: "label", else the last column.'});
  const fImages = field({label: 'IDX images', input: imagesIn, hint: 'e.g. train-images-idx3-ubyte.gz'});
  const fLabels = field({label: 'IDX labels', input: labelsIn, hint: 'e.g. train-labels-idx1-ubyte.gz'});
  const idx = h('details', {class: 'idx'}, h('summary', null, 'IDX images and labels instead of a CSV'), fImages.wrap, fLabels.wrap);
  // A sensor recording (issue 15) is sent as `file` with its format named.
  const formatIn = h('select', {name: 'format'},
    h('option', {value: ''}, 'CSV (or IDX below)'), h('option', {value: 'wisdm'}, 'WISDM recording'),
    h('option', {value: 'timeseries'}, 'timeseries CSV recording'));
  const unitIn = h('select', {name: 'timestamp_unit'}, ['ns', 'us', 'ms', 's'].map((u) => h('option', {value: u}, u)));
  const fFormat = field({label: 'Format', input: formatIn, hint: 'A recording: subject, activity, timestamp and axes per sample; windows are derived from it on its page.'});
  const fUnit = field({label: 'Timestamp unit (timeseries)', input: unitIn});
  const summary = h('div', {class: 'alert', role: 'alert', tabindex: '-1', hidden: true});
  const errors = new FormErrors({file: fFile, name: fName, label_column: fLabel, images: fImages, labels: fLabels, format: fFormat, timestamp_unit: fUnit}, summary,
    (f, {path}) => {
      if (['file', 'name', 'label_column', 'images', 'labels', 'format', 'timestamp_unit'].includes(path)) return {key: path};
      if (/^(row|column|csv|header)/.test(path)) return {key: idx.open ? 'images' : 'file'};
      return null;
    });
  const progress = progressBar(0, {label: 'Upload progress'});
  const progressText = h('span', {class: 'progress-text', 'aria-live': 'polite'});
  const progressWrap = h('div', {class: 'upload-progress', hidden: true}, progress, progressText);
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Upload');
  const chosen = h('p', {class: 'chosen muted', 'aria-live': 'polite'}, 'No file chosen yet.');
  const dropId = uid('drop');
  const drop = h('div', {class: 'dropzone', id: dropId},
    h('p', {class: 'drop-title'}, 'Drop a CSV file here (or IDX images and labels together), or choose it below.'),
    chosen);

  function describeChoice() {
    const names = [fileIn, imagesIn, labelsIn].flatMap((i) => Array.from(i.files || []).map((f) => `${f.name} (${bytes(f.size)})`));
    chosen.textContent = names.length ? `Chosen: ${names.join(', ')}` : 'No file chosen yet.';
  }
  for (const i of [fileIn, imagesIn, labelsIn]) i.addEventListener('change', describeChoice);

  function setFiles(input, files) {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(f);
    input.files = dt.files;
  }
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const files = Array.from(e.dataTransfer.files || []);
    if (files.length === 1) {
      setFiles(fileIn, files);
      setFiles(imagesIn, []);
      setFiles(labelsIn, []);
      idx.open = false;
    } else if (files.length === 2) {
      const lab = files.find((f) => /label/i.test(f.name)) || files[1];
      const img = files.find((f) => f !== lab);
      setFiles(imagesIn, [img]);
      setFiles(labelsIn, [lab]);
      setFiles(fileIn, []);
      idx.open = true;
    } else {
      errors.clear();
      errors.add('file', 'Drop one CSV file, or two IDX files (images and labels).');
      return;
    }
    describeChoice();
  });

  const form = h('form', {class: 'card upload', novalidate: true, 'aria-labelledby': 'upload-title'},
    h('h2', {id: 'upload-title'}, 'Upload a dataset'),
    summary, drop, fFile.wrap, idx, h('div', {class: 'row'}, fName.wrap, fLabel.wrap),
    h('div', {class: 'row'}, fFormat.wrap, fUnit.wrap),
    h('div', {class: 'actions'}, submit, progressWrap));

  let uploadCtl = null;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    errors.clear();
    const useIdx = (imagesIn.files && imagesIn.files.length) || (labelsIn.files && labelsIn.files.length);
    const fd = new FormData();
    if (nameIn.value.trim()) fd.append('name', nameIn.value.trim());
    if (labelIn.value.trim()) fd.append('label_column', labelIn.value.trim());
    if (formatIn.value && !useIdx) fd.append('format', formatIn.value); // before the file: one pass
    if (formatIn.value === 'timeseries') fd.append('timestamp_unit', unitIn.value);
    if (useIdx) {
      if (imagesIn.files.length) fd.append('images', imagesIn.files[0]);
      if (labelsIn.files.length) fd.append('labels', labelsIn.files[0]);
    } else if (fileIn.files && fileIn.files.length) {
      fd.append('file', fileIn.files[0]);
    } else {
      errors.add('file', 'Choose a CSV file (or IDX images and labels) first.');
      fileIn.focus();
      return;
    }
    submit.disabled = true;
    progressWrap.hidden = false;
    setProgress(progress, 0);
    progressText.textContent = 'Uploading… 0 %';
    uploadCtl = new AbortController();
    signal.addEventListener('abort', () => uploadCtl.abort(), {once: true});
    try {
      const ds = await upload('/datasets', fd, {
        signal: uploadCtl.signal,
        onProgress: (loaded, total) => {
          if (!total) return;
          setProgress(progress, loaded / total);
          progressText.textContent = `Uploading… ${Math.floor((loaded / total) * 100)} % of ${bytes(total)}`;
        },
        onSent: () => {
          setProgress(progress, 1);
          progressText.textContent = 'Uploaded; the server is checking the file…';
        },
      });
      progressText.textContent = `Added “${ds.name}”: ${plural(ds.rows, 'row')}, ${plural(ds.features, 'feature')}, ${plural((ds.classes || []).length, 'class', 'classes')}.`;
      form.reset();
      describeChoice();
      await refresh(ds.id);
    } catch (err) {
      if (signal.aborted) return;
      progressWrap.hidden = true;
      errors.show(err instanceof ApiError ? err : new ApiError(0, {detail: String(err)}), 'The upload was refused.');
    } finally {
      submit.disabled = false;
    }
  });

  // ---- list ---------------------------------------------------------------------------------
  // Deleting a dataset deletes every sweep that trains or tests on it: the confirmation says so,
  // with their count, before anything goes.
  async function remove(ds, btn, status) {
    btn.disabled = true;
    status.textContent = '';
    let sweeps;
    try {
      sweeps = (await apiAll('/sweeps', {signal})).filter((s) => s.dataset_id === ds.id || s.test_dataset_id === ds.id);
    } catch (err) {
      if (isAbort(err)) return;
      status.textContent = `The sweeps using it could not be counted: ${err.message}`;
      btn.disabled = false;
      return;
    }
    const ids = sweeps.map((s) => `#${s.id}`);
    const text = sweeps.length
      ? `Delete dataset “${ds.name}”? This also deletes ${plural(sweeps.length, 'sweep')} that use${sweeps.length === 1 ? 's' : ''} it ` +
        `(${ids.slice(0, 8).join(', ')}${ids.length > 8 ? ', …' : ''}), with ${sweeps.length === 1 ? 'its' : 'their'} trials, histories and models. This cannot be undone.`
      : `Delete dataset “${ds.name}”? No sweep uses it. This cannot be undone.`;
    if (!(await confirmInline(btn, {text, action: sweeps.length ? `Delete dataset and ${plural(sweeps.length, 'sweep')}` : 'Delete dataset'}))) return;
    btn.disabled = true;
    try {
      await api(`/datasets/${ds.id}`, {method: 'DELETE', signal});
      await refresh();
    } catch (err) {
      if (isAbort(err)) return;
      status.textContent = err.status === 409 ? 'In use by a queued or running sweep.' : err.message;
      btn.disabled = false;
    }
  }

  async function refresh(highlight) {
    let items;
    try {
      items = await apiAll('/datasets', {signal});
    } catch (err) {
      if (isAbort(err)) return;
      replace(listEl, h('p', {class: 'alert', role: 'alert'}, `The datasets could not be loaded: ${err.message}`));
      listEl.setAttribute('aria-busy', 'false');
      return;
    }
    listEl.setAttribute('aria-busy', 'false');
    sampleCard.hidden = items.length > 0;
    if (!items.length) {
      replace(listEl, h('p', {class: 'empty'}, 'No datasets yet: upload a CSV above, or add the sample.'));
      return;
    }
    const rows = items.map((ds) => {
      const status = h('span', {class: 'row-status', 'aria-live': 'polite'});
      const del = h('button', {type: 'button', class: 'small danger'}, 'Delete');
      del.addEventListener('click', () => remove(ds, del, status));
      return h('tr', {class: ds.id === highlight ? 'fresh' : null, dataset: {id: ds.id}},
        h('th', {scope: 'row'}, h('a', {class: 'ds-name', href: `/datasets/${ds.id}`}, ds.name), h('span', {class: 'muted small'}, ` #${ds.id}`)),
        h('td', null, ds.format || '', ds.kind && ds.kind !== 'table' ? h('span', {class: 'muted small'}, ` (${ds.kind})`) : null),
        h('td', {class: 'num'}, num(ds.rows)),
        h('td', {class: 'num'}, num(ds.features)),
        h('td', null, classSummary(ds)),
        h('td', {class: 'balance-cell'}, balanceBar(ds)),
        h('td', {class: 'num'}, bytes(ds.size_bytes)),
        h('td', null, when(ds.created_at)),
        h('td', {class: 'actions-cell'},
          h('a', {class: 'button small', href: `/sweeps/new?dataset=${ds.id}`}, 'New sweep'), ' ', del, status));
    });
    replace(listEl, h('table', {class: 'data datasets'},
      h('caption', {class: 'sr-only'}, 'Datasets'),
      h('thead', null, h('tr', null,
        ['Name', 'Format', 'Rows', 'Features', 'Classes', 'Class balance', 'Size', 'Uploaded', 'Actions']
          .map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', null, rows)));
  }

  // ---- the sample: one click from an empty server to a sweep form -----------------------------
  const sampleBtn = h('button', {type: 'button', class: 'primary'}, 'Add the Iris sample and start a sweep');
  const sampleMsg = h('span', {class: 'note', role: 'status'});
  const sampleCard = h('section', {class: 'card sample', 'aria-labelledby': 'sample-title', hidden: true},
    h('h2', {id: 'sample-title'}, query && query.get('welcome') ? 'Welcome: start with a dataset' : 'No data yet?'),
    h('p', null, 'Upload your own CSV below, or add the sample: Fisher\'s Iris (150 rows, 4 features, 3 classes), trained in seconds.'),
    h('div', {class: 'actions'}, sampleBtn, sampleMsg));
  sampleBtn.addEventListener('click', async () => {
    sampleBtn.disabled = true;
    sampleMsg.textContent = 'Adding the sample…';
    try {
      const res = await fetch('/samples/iris.csv', {signal});
      if (!res.ok) throw new Error(`the sample is missing (HTTP ${res.status})`);
      const fd = new FormData();
      fd.append('name', 'iris (sample)');
      fd.append('file', new File([await res.blob()], 'iris.csv', {type: 'text/csv'}));
      const ds = await upload('/datasets', fd, {signal});
      navigate(`/sweeps/new?dataset=${ds.id}`);
    } catch (err) {
      if (signal.aborted) return;
      sampleMsg.textContent = `The sample could not be added: ${err.message}`;
      sampleBtn.disabled = false;
    }
  });

  append(root, [
    h('h1', null, 'Datasets'),
    sampleCard,
    form,
    h('section', {'aria-labelledby': 'ds-list-title'}, h('h2', {id: 'ds-list-title'}, 'Datasets on this server'), listEl),
  ]);
  // A file dropped beside the drop zone must not make the browser leave the dashboard to show it.
  const guard = (e) => {
    if (e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files') && !drop.contains(e.target)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'none';
    }
  };
  window.addEventListener('dragover', guard);
  window.addEventListener('drop', guard);
  await refresh();
  return () => {
    window.removeEventListener('dragover', guard);
    window.removeEventListener('drop', guard);
    if (uploadCtl) uploadCtl.abort();
  };
}
