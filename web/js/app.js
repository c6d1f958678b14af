// app.js - the dashboard's entry point: its routes and the navigation bar.
import {route, start, navigate} from './router.js';
import {signOut, updateSessionControl} from './auth.js';

route('/', () => import('./views/home.js'), {name: 'home'});
route('/datasets', () => import('./views/datasets.js'), {name: 'datasets'});
route('/datasets/:id', () => import('./views/dataset.js'), {name: 'dataset'});
route('/sweeps', () => import('./views/sweeps.js'), {name: 'sweeps'});
route('/sweeps/new', () => import('./views/new-sweep.js'), {name: 'new'});
route('/sweeps/:id', () => import('./views/sweep.js'), {name: 'sweep'});
route('/trials/:id', () => import('./views/trial.js'), {name: 'trial'});
route('/__not_found__', () => import('./views/not-found.js'), {name: 'not-found'});

function markNav(name) {
  const section = {datasets: 'datasets', dataset: 'datasets', sweeps: 'sweeps', sweep: 'sweeps', trial: 'sweeps', new: 'new'}[name];
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

start(markNav);
updateSessionControl();
document.querySelector('button.signout').addEventListener('click', () => signOut(() => navigate(location.href, {replace: true})));
