// meta.js - the server's rules, from GET /api/v1/meta/parameters (loaded once per page): the
// parameter table the New sweep form is built from, the limits, which sweep and trial states are
// final. The dashboard reads them here instead of writing them out again.
import {api} from './api.js';

let pending = null;

/** Resolves to the meta document; a failed load is retried on the next call. */
export function loadMeta() {
  if (!pending) {
    pending = api('/meta/parameters').catch((err) => {
      pending = null;
      throw err;
    });
  }
  return pending;
}

/** {sweep, trial}: Sets of the final states. */
export function finalStates(meta) {
  return {sweep: new Set(meta.sweep_states.final), trial: new Set(meta.trial_states.final)};
}

/** The rows the New sweep form shows in `section` ('grid' or 'training'), in the form's order. */
export function formRows(meta, section) {
  return meta.parameters.filter((p) => p.form && p.form.section === section).sort((a, b) => a.form.order - b.form.order);
}
