// router.js - client-side routing on the History API. Every view has its own URL; the server
// answers index.html for any path that is not an API route or a file, so URLs can be bookmarked.

const routes = [];
let current = null; // {cleanup, controller}
let rendering = 0;
let onRoute = () => {};

/** Registers a view: pattern like "/sweeps/:id", load() -> module with render(ctx). */
export function route(pattern, load, {name} = {}) {
  const keys = [];
  const re = new RegExp(`^${pattern.replace(/\/:([a-z_]+)/g, (_, k) => {
    keys.push(k);
    return '/([^/]+)';
  })}/?$`);
  routes.push({re, keys, load, name: name || pattern});
}

/** Navigates to an app URL (pushes history unless replace). */
export function navigate(url, {replace = false} = {}) {
  const u = new URL(url, location.href);
  if (u.href === location.href && !replace) {
    render({focus: true});
    return;
  }
  history[replace ? 'replaceState' : 'pushState'](null, '', u.pathname + u.search + u.hash);
  render({focus: true});
}

/** Replaces the query string of the current URL without re-rendering (view state in the URL). */
export function setQuery(params) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') u.searchParams.delete(k);
    else u.searchParams.set(k, String(v));
  }
  history.replaceState(null, '', u.pathname + u.search + u.hash);
}

function match(pathname) {
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1]);
      });
      return {route: r, params};
    }
  }
  return null;
}

async function render({focus}) {
  const token = ++rendering;
  if (current) {
    current.controller.abort();
    try {
      if (current.cleanup) current.cleanup();
    } catch (e) {
      console.warn('view cleanup failed', e);
    }
    current = null;
  }
  const root = document.getElementById('main');
  const m = match(location.pathname) || {route: routes.find((r) => r.name === 'not-found'), params: {}};
  const controller = new AbortController();
  const ctx = {
    root,
    params: m.params,
    query: new URLSearchParams(location.search),
    signal: controller.signal,
    navigate,
  };
  onRoute(m.route.name);
  current = {controller, cleanup: null};
  try {
    const mod = await m.route.load();
    if (token !== rendering) return;
    root.replaceChildren();
    const cleanup = await mod.render(ctx);
    if (token !== rendering) {
      if (typeof cleanup === 'function') cleanup();
      return;
    }
    current.cleanup = typeof cleanup === 'function' ? cleanup : null;
  } catch (e) {
    if (controller.signal.aborted || token !== rendering) return;
    root.replaceChildren();
    const p = document.createElement('p');
    p.className = 'alert';
    p.setAttribute('role', 'alert');
    p.textContent = `This page could not be shown: ${e && e.message ? e.message : e}`;
    root.append(p);
  }
  if (focus && token === rendering) {
    const heading = root.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({preventScroll: false});
    }
  }
}

function isAppLink(a, e) {
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return false;
  if (a.target && a.target !== '_self') return false;
  if (a.hasAttribute('download') || a.dataset.external !== undefined) return false;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin) return false;
  if (u.pathname.startsWith('/api/') || u.pathname === '/openapi.json' || u.pathname === '/metrics' || u.pathname === '/healthz') return false;
  return match(u.pathname) !== null;
}

/** Starts routing: link clicks and back/forward. routeChanged(name) is told of every route. */
export function start(routeChanged) {
  onRoute = routeChanged || onRoute;
  document.addEventListener('click', (e) => {
    const a = e.target instanceof Element ? e.target.closest('a[href]') : null;
    if (!isAppLink(a, e)) return;
    e.preventDefault();
    navigate(a.href);
  });
  window.addEventListener('popstate', () => render({focus: true}));
  render({focus: false});
}
