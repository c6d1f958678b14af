// dom.js - building elements without innerHTML (every text from the API is untrusted).

/**
 * h('a', {href: '/x', class: 'btn', on: {click: fn}, dataset: {id: 3}, 'aria-label': 'x'}, 'text', child)
 * Attribute values that are null, undefined or false are left out; true sets an empty attribute.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      } else if (k === 'class') {
        el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      } else if (k === 'style' && typeof v === 'object') {
        for (const [sk, sv] of Object.entries(v)) el.style.setProperty(sk, sv);
      } else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') {
        el[k] = v;
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

/** Appends children: nodes, strings, numbers, arrays of those; null/undefined/false are skipped. */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces every child of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idCounter = 0;
/** A document-unique id with a readable prefix. */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form control: returns {wrap, input, error} with the label, hint and error wired up. */
export function field({label, input, hint, id}) {
  const inputId = id || input.id || uid('f');
  input.id = inputId;
  const hintEl = hint ? h('p', {class: 'hint', id: `${inputId}-hint`}, hint) : null;
  const error = h('p', {class: 'field-error', id: `${inputId}-error`, hidden: true});
  const describedBy = [hintEl ? hintEl.id : null, error.id].filter(Boolean).join(' ');
  input.setAttribute('aria-describedby', describedBy);
  const wrap = h('div', {class: 'field'}, h('label', {for: inputId}, label), input, hintEl, error);
  return {wrap, input, error};
}

/** A <progress>-like bar that is readable without colour: role=progressbar with its text. */
export function progressBar(fraction, {label, indeterminate = false} = {}) {
  const pct = Math.max(0, Math.min(1, fraction || 0)) * 100;
  const bar = h('div', {
    class: ['bar', indeterminate ? 'indeterminate' : null],
    role: 'progressbar',
    'aria-valuemin': 0,
    'aria-valuemax': 100,
    'aria-valuenow': indeterminate ? null : Math.round(pct),
    'aria-label': label || 'Progress',
  }, h('span', {class: 'bar-fill', style: {width: `${indeterminate ? 100 : pct}%`}}));
  return bar;
}

export function setProgress(bar, fraction) {
  const pct = Math.max(0, Math.min(1, fraction || 0)) * 100;
  bar.classList.remove('indeterminate');
  bar.setAttribute('aria-valuenow', String(Math.round(pct)));
  bar.firstChild.style.width = `${pct}%`;
}

/** A status word as a badge: a shape and the word, colour only as a third cue. */
export function statusBadge(status) {
  const icons = {
    queued: '○', running: '▶', completed: '✓', failed: '✕', canceled: '■', diverged: '⚠', pruned: '✂', stopped: '⏸',
  };
  return h('span', {class: `status status-${status || 'unknown'}`},
    h('span', {'aria-hidden': 'true', class: 'status-icon'}, icons[status] || '?'), ' ', status || 'unknown');
}
