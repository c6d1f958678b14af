// views/not-found.js - a path the dashboard does not know.
import {h, append} from '../dom.js';

export function render({root}) {
  document.title = 'Not found · mlptune';
  append(root, [
    h('h1', null, 'Page not found'),
    h('p', null, 'The dashboard has no page at ', h('code', null, location.pathname), '.'),
    h('p', null, 'Go to ', h('a', {href: '/sweeps'}, 'Sweeps'), ' or ', h('a', {href: '/datasets'}, 'Datasets'), '.'),
  ]);
}
