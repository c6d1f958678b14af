// views/home.js - /: where a person should start. With sweeps: the sweeps; with datasets but no
// sweep yet: the New sweep form; with nothing: the datasets page, which offers the upload and a
// sample dataset (one click, no detour through empty pages).
import {h, append} from '../dom.js';
import {api, isAbort} from '../api.js';

export async function render({root, signal, navigate}) {
  append(root, [h('h1', null, 'mlptune'), h('p', {class: 'muted'}, 'Loading…')]);
  let sweeps, datasets;
  try {
    [sweeps, datasets] = await Promise.all([api('/sweeps?limit=1', {signal}), api('/datasets?limit=1', {signal})]);
  } catch (err) {
    if (isAbort(err)) return;
    navigate('/sweeps', {replace: true});
    return;
  }
  if (signal.aborted) return;
  if ((sweeps.items || []).length) navigate('/sweeps', {replace: true});
  else if ((datasets.items || []).length) navigate('/sweeps/new', {replace: true});
  else navigate('/datasets?welcome=1', {replace: true});
}
