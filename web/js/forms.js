// forms.js - showing the API's field errors next to the fields they name, and the rest in a
// summary at the top of the form. A field's error goes away as soon as its value is edited (the
// message was about the old value); the summary goes once every field it named is edited.
import {h, replace} from './dom.js';
import {splitField} from './api.js';

export class FormErrors {
  /**
   * fields: {key: {input, error}} as made by dom.field(); resolve(apiField) -> {key, prefix} or
   * null (an error the form has no field for); summary: the element for those and the headline.
   */
  constructor(fields, summary, resolve) {
    this.fields = {};
    this.summary = summary;
    this.resolve = resolve;
    for (const [key, f] of Object.entries(fields)) this.register(key, f);
  }

  /** Adds a field (or replaces one): key -> {input, error, boxes?}; editing it clears its error. */
  register(key, f) {
    this.fields[key] = f;
    const edited = () => this.clearField(key);
    for (const el of f.boxes || [f.input]) {
      el.addEventListener('input', edited);
      el.addEventListener('change', edited);
    }
  }

  /** Removes one field's message (and the summary once no field has one left). */
  clearField(key) {
    const f = this.fields[key];
    if (!f || f.error.hidden) return;
    f.error.hidden = true;
    f.error.replaceChildren();
    f.input.removeAttribute('aria-invalid');
    const left = Object.values(this.fields).some((x) => !x.error.hidden);
    if (!left && this.summaryFieldsOnly) {
      this.summary.hidden = true;
      this.summary.replaceChildren();
    }
  }

  clear() {
    for (const f of Object.values(this.fields)) {
      f.error.hidden = true;
      f.error.replaceChildren();
      f.input.removeAttribute('aria-invalid');
    }
    this.summary.hidden = true;
    this.summary.replaceChildren();
    this.summaryFieldsOnly = false;
  }

  /** One message on one field (client-side checks use it too). */
  add(key, message) {
    const f = this.fields[key];
    if (!f) return false;
    if (!f.error.hidden) f.error.append(h('br'));
    f.error.append(message);
    f.error.hidden = false;
    f.input.setAttribute('aria-invalid', 'true');
    return true;
  }

  /** Shows an ApiError (or any Error): field errors beside their fields, the rest in the summary. */
  show(err, headline) {
    this.clear();
    const loose = [];
    const placed = [];
    for (const fe of err.fields || []) {
      const target = this.resolve(fe.field, splitField(fe.field));
      const text = target && target.prefix ? `${target.prefix}: ${fe.message}` : fe.message;
      if (target && this.add(target.key, text)) placed.push({key: target.key, text});
      else loose.push(fe.field ? `${fe.field}: ${fe.message}` : fe.message);
    }
    const items = [];
    for (const p of placed) {
      const input = this.fields[p.key].input;
      const label = input.labels && input.labels[0] ? input.labels[0].textContent : p.key;
      items.push(h('li', null, h('a', {href: `#${input.id}`, on: {click: (e) => {
        e.preventDefault();
        input.focus();
      }}}, label), `: ${p.text}`));
    }
    for (const t of loose) items.push(h('li', null, t));
    const title = headline || err.message || 'The request was refused.';
    replace(this.summary,
      h('p', {class: 'summary-title'}, title, err.status ? ` (HTTP ${err.status})` : ''),
      items.length && !(items.length === 1 && loose.length === 1 && loose[0] === title) ? h('ul', null, items) : null);
    this.summary.hidden = false;
    this.summaryFieldsOnly = loose.length === 0 && placed.length > 0;
    if (placed.length) this.fields[placed[0].key].input.focus();
    else this.summary.focus();
  }
}
