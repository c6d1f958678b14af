// api.js - the HTTP API at /api/v1: a fetch wrapper that turns application/problem+json answers
// into ApiError (with the problem's field errors), and an upload with progress (XMLHttpRequest,
// since fetch cannot report upload progress). A 401 (a server with an API token, and no session
// yet or an expired one) shows the sign-in form (auth.js) and the call is made again once signed
// in.
import {requireSignIn} from './auth.js';

export const API = '/api/v1';

/** An error answer. problem is the problem+json object ({type, title, status, detail, errors}). */
export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === 'object' ? problem : {};
    super(p.detail || p.title || (status ? `HTTP ${status}` : 'Network error'));
    this.name = 'ApiError';
    this.status = status;
    this.problem = p;
    /** [{field, message}] as the API named them, e.g. {field: "grid.learning_rate[1]", ...} */
    this.fields = Array.isArray(p.errors) ? p.errors.filter((e) => e && typeof e === 'object') : [];
  }
}

export function isAbort(e) {
  return e && (e.name === 'AbortError' || e.code === 20);
}

function parseBody(text, contentType) {
  if (!text) return null;
  if (/json/i.test(contentType || '')) {
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }
  return null;
}

function problemOf(status, data, text, statusText) {
  if (data && typeof data === 'object') return data;
  return {title: statusText || `HTTP ${status}`, detail: (text || '').slice(0, 300) || statusText, errors: []};
}

const SIGN_IN_ROUNDS = 3; // a server that keeps refusing the session after as many sign-ins is an error

/**
 * Calls the API. path is relative to /api/v1 ("/sweeps?status=running"). body (an object) is sent
 * as JSON. Resolves to the parsed JSON (null for an empty answer); rejects with ApiError, or an
 * AbortError when signal aborts (also while the sign-in form waits).
 */
export async function api(path, {method = 'GET', body, signal} = {}) {
  for (let round = 1; ; round++) {
    try {
      return await apiOnce(path, {method, body, signal});
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401 || round === SIGN_IN_ROUNDS) throw e;
      await requireSignIn(signal);
    }
  }
}

async function apiOnce(path, {method, body, signal}) {
  const init = {method, signal, headers: {Accept: 'application/json, application/problem+json'}};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, {title: 'Network error', detail: 'The server cannot be reached.', errors: []});
  }
  const text = await res.text();
  const data = parseBody(text, res.headers.get('Content-Type'));
  if (!res.ok) throw new ApiError(res.status, problemOf(res.status, data, text, res.statusText));
  return data;
}

/** Every item of a paged list ({items, next_cursor}), following cursors up to max items. */
export async function apiAll(path, {signal, max = 10000} = {}) {
  const items = [];
  let cursor = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const page = await api(`${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {signal});
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/**
 * POSTs a FormData with XMLHttpRequest. onProgress(loaded, total) follows the upload; onSent() is
 * called once every byte is sent (the server still parses). Resolves to the parsed JSON answer;
 * rejects with ApiError (also for aborts: status 0, title "Canceled").
 */
export async function upload(path, form, opts = {}) {
  for (let round = 1; ; round++) {
    try {
      return await uploadOnce(path, form, opts);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401 || round === SIGN_IN_ROUNDS) throw e;
      await requireSignIn(opts.signal);
    }
  }
}

function uploadOnce(path, form, {onProgress, onSent, signal} = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API + path);
    xhr.setRequestHeader('Accept', 'application/json, application/problem+json');
    xhr.upload.addEventListener('progress', (e) => {
      if (onProgress) onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    });
    xhr.upload.addEventListener('load', () => {
      if (onSent) onSent();
    });
    xhr.addEventListener('load', () => {
      const data = parseBody(xhr.responseText, xhr.getResponseHeader('Content-Type'));
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, problemOf(xhr.status, data, xhr.responseText, xhr.statusText)));
    });
    xhr.addEventListener('error', () => {
      reject(new ApiError(0, {title: 'Network error', detail: 'The upload did not reach the server (or the connection was closed).', errors: []}));
    });
    xhr.addEventListener('abort', () => {
      reject(new ApiError(0, {title: 'Canceled', detail: 'The upload was canceled.', errors: []}));
    });
    if (signal) signal.addEventListener('abort', () => xhr.abort(), {once: true});
    xhr.send(form);
  });
}

/**
 * Splits an API field path into its parts: "grid.learning_rate[1]" -> {path:
 * "grid.learning_rate", index: 1}; "rows[3][0]" -> {path: "rows", index: 3}.
 */
export function splitField(field) {
  const m = /^([^[]*)(?:\[(\d+)\])?/.exec(field || '');
  return {path: m ? m[1] : '', index: m && m[2] !== undefined ? Number(m[2]) : null};
}
