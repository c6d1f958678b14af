// auth.js - signing in to a server started with an API token. When an API call answers 401,
// requireSignIn() shows a modal form asking for the token; POST /api/v1/session exchanges it for a
// session cookie (HttpOnly: this code never sees it; SameSite=Strict) that every later call and
// event stream carries, and the calls that were waiting go on. "Sign out" in the header ends the
// session on the server and asks again.
import {h, uid} from './dom.js';

const SESSION = '/api/v1/session';
let pending = null; // the sign-in in progress, shared by every call that got a 401

async function postToken(token) {
  const res = await fetch(SESSION, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', Accept: 'application/json, application/problem+json'},
    body: JSON.stringify({token}),
  });
  if (res.ok) return null;
  if (res.status === 401) return 'That is not this server\'s API token.';
  let detail = '';
  try {
    detail = (await res.json()).detail || '';
  } catch {
    // not JSON: the status says enough
  }
  return `Signing in failed (HTTP ${res.status}${detail ? `: ${detail}` : ''}).`;
}

function showForm() {
  return new Promise((resolve) => {
    const inputId = uid('token');
    const titleId = uid('signin-title');
    const input = h('input', {id: inputId, name: 'token', type: 'password', autocomplete: 'current-password',
      required: true, spellcheck: 'false', 'aria-describedby': `${inputId}-hint ${inputId}-error`});
    const error = h('p', {class: 'field-error', id: `${inputId}-error`, role: 'alert', hidden: true});
    const submit = h('button', {type: 'submit', class: 'primary'}, 'Sign in');
    const dialog = h('dialog', {class: 'signin', 'aria-labelledby': titleId});
    const form = h('form', {on: {submit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      let failure;
      try {
        failure = await postToken(input.value.trim());
      } catch {
        failure = 'The server cannot be reached.';
      }
      submit.disabled = false;
      if (failure) {
        error.textContent = failure;
        error.hidden = false;
        input.select();
        return;
      }
      dialog.close();
      dialog.remove();
      updateSessionControl();
      resolve();
    }}},
    h('h2', {id: titleId}, 'Sign in'),
    h('div', {class: 'field'},
      h('label', {for: inputId}, 'API token'),
      input,
      h('p', {class: 'hint', id: `${inputId}-hint`},
        'This server was started with an API token (--token-file or MLPTUNE_TOKEN). Enter it to use the dashboard; ' +
        'the browser then keeps a session for 12 hours.'),
      error),
    h('div', {class: 'actions'}, submit));
    dialog.append(form);
    // The form is the only way on: Escape does not dismiss it.
    dialog.addEventListener('cancel', (e) => e.preventDefault());
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/**
 * Resolves once the user has signed in (one form for every caller waiting). Rejects with an
 * AbortError when signal aborts first (the view was left); the form stays for the next view.
 */
export function requireSignIn(signal) {
  if (!pending) pending = showForm().finally(() => {
    pending = null;
  });
  if (!signal) return pending;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new DOMException('The view was left', 'AbortError'));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, {once: true});
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** What GET /api/v1/session says ({token_required, authenticated, via}), or null on failure. */
export async function sessionState() {
  try {
    const res = await fetch(SESSION, {headers: {Accept: 'application/json'}});
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

/** Shows the header's "Sign out" button while this browser holds a session. */
export async function updateSessionControl() {
  const button = document.querySelector('button.signout');
  if (!button) return;
  const s = await sessionState();
  button.hidden = !(s && s.via === 'session');
}

/** Ends the session on the server (and its cookie); then rerender() shows the views again, which ask for the token. */
export async function signOut(rerender) {
  try {
    await fetch(SESSION, {method: 'DELETE'});
  } catch {
    // the cookie may outlive an unreachable server; it is useless once the session is gone
  }
  await updateSessionControl();
  if (rerender) rerender();
}
