// sweep-form/preview.js - what the New sweep form would start: the trial count as you type
// (counted here for a grid; the budget for a sampling search), and the server's own estimate from
// POST /api/v1/sweeps?dry_run=true (trials, iterations, estimated time on this server). A server
// without that route (its API description does not name dry_run, or it refuses the parameter)
// gets no estimate line and no further calls.
import {h, replace} from '../dom.js';
import {api, isAbort} from '../api.js';
import {duration, num, plural} from '../format.js';

let dryRunKnown = null; // Promise<boolean>: does this server answer dry runs?

function serverHasDryRun() {
  if (!dryRunKnown) {
    dryRunKnown = fetch('/openapi.json', {headers: {Accept: 'application/json'}})
      .then((r) => (r.ok ? r.text() : ''))
      .then((t) => t.includes('dry_run'))
      .catch(() => false);
  }
  return dryRunKnown;
}

/** Text of a budget: "up to 60 trials, 10 min, 5,000 iterations". */
export function budgetText(s) {
  const parts = [];
  if (s.max_trials) parts.push(`up to ${plural(s.max_trials, 'trial')}`);
  if (s.max_seconds) parts.push(`at most ${duration(s.max_seconds)}`);
  if (s.max_iterations_total) parts.push(`at most ${plural(s.max_iterations_total, 'iteration')} in total`);
  return parts.join(', ');
}

export class Preview {
  /** signal: the view's; the elements are `count` (an <output>) and `estimate` (a <p>). */
  constructor(signal) {
    this.signal = signal;
    this.count = h('output', {class: 'trial-count', 'aria-live': 'polite'});
    this.estimate = h('p', {class: 'estimate muted', 'aria-live': 'polite', hidden: true});
    this.timer = 0;
    this.seq = 0;
    this.ctl = null;
  }

  /** The form is invalid: say so instead of a count. */
  invalid(names) {
    this.count.dataset.count = '';
    this.count.dataset.invalid = 'true';
    replace(this.count, h('strong', null, 'no count yet'), h('span', {class: 'muted'}, `: check ${names.join(', ')}`));
    this.cancel();
    this.estimate.hidden = true;
  }

  /** A grid's count and its factors ({count, factors} of grid.js trialCount). */
  grid({count: n, factors}) {
    delete this.count.dataset.invalid;
    this.count.dataset.count = String(n);
    replace(this.count, h('strong', null, plural(n, 'trial')),
      h('span', {class: 'muted'}, ` = ${factors.map((f) => `${f.n} ${f.label}`).join(' × ')}`));
  }

  /** A sampling search: its budget. */
  sampling(search) {
    delete this.count.dataset.invalid;
    this.count.dataset.count = search.max_trials ? String(search.max_trials) : '';
    const label = search.type === 'tpe' ? 'TPE' : 'random';
    replace(this.count, h('strong', null, budgetText(search) || 'no budget yet'), h('span', {class: 'muted'}, ` (${label} draws)`));
  }

  cancel() {
    clearTimeout(this.timer);
    this.timer = 0;
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
  }

  /** Asks the server for its estimate of body, a little after the last change. */
  ask(body) {
    this.cancel();
    const seq = ++this.seq;
    this.timer = setTimeout(async () => {
      if (!(await serverHasDryRun()) || seq !== this.seq || this.signal.aborted) return;
      this.ctl = new AbortController();
      const stop = () => this.ctl && this.ctl.abort();
      this.signal.addEventListener('abort', stop, {once: true});
      try {
        const r = await api('/sweeps?dry_run=true', {method: 'POST', body, signal: this.ctl.signal});
        if (seq === this.seq) this.show(r);
      } catch (err) {
        if (isAbort(err) || seq !== this.seq) return;
        if (err.fields && err.fields.some((f) => /dry_run/.test(f.field || ''))) dryRunKnown = Promise.resolve(false);
        this.estimate.hidden = true; // the submit shows the server's reasons beside the fields
      } finally {
        this.signal.removeEventListener('abort', stop);
      }
    }, 350);
  }

  show(r) {
    const e = this.estimate;
    e.dataset.trials = r.trials === null || r.trials === undefined ? '' : String(r.trials);
    e.dataset.iterations = String(r.iterations_total ?? '');
    e.dataset.seconds = String(r.estimated_seconds ?? '');
    replace(e, 'Server estimate: ',
      h('strong', null, r.trials === null || r.trials === undefined ? 'time-bounded' : plural(r.trials, 'trial')),
      ` · at most ${plural(r.iterations_total || 0, 'iteration')}`,
      Number.isFinite(r.estimated_seconds) ? ` · about ${duration(r.estimated_seconds)}` : '',
      r.workers ? ` on ${plural(r.workers, 'worker')}` : '',
      Number.isFinite(r.gemm_flops) ? h('span', {class: 'small'}, ` (${num(r.gemm_flops / 1e9, 3)} GFLOP)`) : '');
    e.hidden = false;
  }
}
