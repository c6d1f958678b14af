#!/usr/bin/env node
// Browser tests of the dashboard's adaptive-search views (issue 14): the real server, headless
// Chromium, playwright-core.
//
//   node tests/browser/search.mjs <mlptune binary> <web dir> <artifacts dir>
//
// An empty server first: the first page leads to the sample dataset and the form in one click.
// Then the New sweep form: the live count refuses invalid values, field errors go once the value
// is edited, the server's estimate (dry run) is shown, a random sweep with ranges and a pruner is
// created from the form, and cloned. Then a 120-trial sweep with ASHA (tiny: iris, a few
// iterations): pruned trials marked with their rung, top-N and the filter, the legend, the hover
// readout, the parallel coordinates' brushes (pointer and keyboard), the importance panel (checked
// against eta squared computed here), the best-so-far chart and the CSV. Then deleting a sweep and
// a dataset (the confirmation names its sweeps), and a canceled sweep's progress. Any console
// error fails. The last line is "N passed, M failed".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {assert, until, startServer, stopServer, launch, runTests} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [bin, webDirArg, artifactsArg] = process.argv.slice(2);
const repo = path.resolve(here, '..', '..');
const webDir = path.resolve(webDirArg || path.join(repo, 'web'));
const artifacts = path.resolve(artifactsArg || path.join(os.tmpdir(), 'mlptune-browser-artifacts'));
const dataFiles = path.join(repo, 'tests', 'data');
const chromiumPath = process.env.MLPTUNE_CHROMIUM || '/usr/bin/chromium';

function bail(msg) {
  console.log(`FAIL - setup: ${msg}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
if (!bin || !fs.existsSync(bin)) bail(`no mlptune binary at ${bin}`);
if (!fs.existsSync(chromiumPath)) bail(`no Chromium at ${chromiumPath}`);
let chromium;
try {
  ({chromium} = await import('playwright-core'));
} catch (e) {
  bail(`playwright-core is not installed: run npm ci --prefix tests/browser (${e.message})`);
}

fs.mkdirSync(artifacts, {recursive: true});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlpt-browser-search-'));
let server;
let context;
try {
  server = await startServer({bin, webDir, data: path.join(tmp, 'data'), logFile: path.join(artifacts, 'server-search.log')});
  context = await launch(chromium, {executablePath: chromiumPath, profileDir: path.join(tmp, 'profile')});
} catch (e) {
  await stopServer(server);
  bail(e.message);
}
const base = server.url;
console.log(`# server ${base}`);
const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(20000);

// ---- console errors (error answers provoked on purpose are allowed first) -------------------------
const consoleErrors = [];
const allowed = [];
function expectErrorAnswers(status, count = 1) {
  allowed.push({re: new RegExp(`status of ${status}\\b`), left: count});
}
page.on('console', (msg) => {
  if (msg.type() !== 'error') return;
  const a = allowed.find((x) => x.left > 0 && x.re.test(msg.text()));
  if (a) a.left -= 1;
  else consoleErrors.push(`${page.url()}: ${msg.text()}`);
});
page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: uncaught ${err.message}`));

// ---- helpers ----------------------------------------------------------------------------------------
async function call(method, p, body) {
  const res = await page.request.fetch(`${base}/api/v1${p}`, {method, data: body === undefined ? undefined : body,
    headers: body === undefined ? {} : {'Content-Type': 'application/json'}});
  const text = await res.text();
  return {status: res.status(), json: text ? JSON.parse(text) : null};
}
async function trialsOf(id) {
  return (await call('GET', `/sweeps/${id}/trials?limit=1000`)).json.items;
}
async function finished(id, timeoutMs = 60000) {
  await until(async () => ['completed', 'failed', 'canceled'].includes((await call('GET', `/sweeps/${id}`)).json.status),
    `sweep ${id} to finish`, timeoutMs, 200);
}
const label = (text) => page.getByLabel(text, {exact: true});
const shownRows = () => page.locator('table.leaderboard tbody tr:not([hidden])').count();
const summaryData = async (k) => Number(await page.locator('.filter-summary').getAttribute(`data-${k}`));
async function shot(name) {
  const file = path.join(artifacts, `search-${name}.png`);
  await page.screenshot({path: file, fullPage: true});
  console.log(`# screenshot ${file}`);
}

/** eta squared of ys grouped by keys, computed here independently of the dashboard. */
function eta2(keys, ys) {
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  const total = ys.reduce((a, y) => a + (y - mean) ** 2, 0);
  const groups = {};
  keys.forEach((k, i) => (groups[k] = groups[k] || []).push(ys[i]));
  const between = Object.values(groups).reduce((a, g) => a + g.length * (g.reduce((x, y) => x + y, 0) / g.length - mean) ** 2, 0);
  return between / total;
}

const state = {};
const tests = [];
const test = (name, fn, timeoutMs = 60000) => tests.push({name, fn, timeoutMs});

// ---- the first page ----------------------------------------------------------------------------------
test('first page: an empty server leads straight to the upload and a one-click sample', async () => {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/datasets\?welcome=1$/);
  await page.getByRole('heading', {name: 'Welcome: start with a dataset'}).waitFor();
  assert(await page.getByLabel('CSV file').isVisible(), 'the upload form is on the same page');
  await page.getByRole('button', {name: 'Add the Iris sample and start a sweep'}).click();
  await page.waitForURL(/\/sweeps\/new\?dataset=\d+$/);
  state.iris = Number(/dataset=(\d+)/.exec(page.url())[1]);
  await page.getByRole('heading', {name: 'New sweep', level: 1}).waitFor();
  assert(await label('Dataset').inputValue() === String(state.iris), 'the sample is the chosen dataset');
  const ds = (await call('GET', `/datasets/${state.iris}`)).json;
  assert(ds.rows === 150 && ds.classes.length === 3, `the sample is iris: ${JSON.stringify(ds).slice(0, 120)}`);
  await page.goto(`${base}/`);
  await page.waitForURL(/\/sweeps\/new$/); // a dataset but no sweep yet: the form
});

// ---- the New sweep form ---------------------------------------------------------------------------------
test('new sweep: the live count refuses invalid values, and a field error goes once the value is edited', async () => {
  await page.goto(`${base}/sweeps/new?dataset=${state.iris}`);
  const count = page.locator('output.trial-count');
  await label('Hidden layers').fill('1');
  await label('Neurons per layer').fill('4, 8');
  await label('Learning rate').fill('0.1, -1');
  await until(async () => (await count.getAttribute('data-invalid')) === 'true', 'the count to refuse -1');
  assert(!(await count.getAttribute('data-count')), 'no trial count for an invalid value');
  assert(/learning rate/.test(await count.textContent()), `the count names the field: ${await count.textContent()}`);
  await label('Learning rate').blur();
  const lr = label('Learning rate');
  await until(async () => (await lr.getAttribute('aria-invalid')) === 'true', 'the learning rate flagged once left');
  const errId = (await lr.getAttribute('aria-describedby')).split(' ').find((x) => x.endsWith('-error'));
  assert(/value 2 \(-1\): must be > 0/.test(await page.locator(`[id="${errId}"]`).textContent()), 'the message names the value');
  await lr.fill('0.1, 0.2');
  assert(await lr.getAttribute('aria-invalid') === null, 'the error goes as soon as the value is edited');
  assert(await page.locator(`[id="${errId}"]`).isHidden(), 'the message is gone');
  await until(async () => (await count.getAttribute('data-count')) === '4', 'the count of the corrected grid');
  // Submitting with a value the form knows is refused sends nothing: the same message, a summary.
  await label('Iterations').fill('0');
  const posts = [];
  const watch = (req) => {
    if (req.method() === 'POST' && /\/api\/v1\/sweeps$/.test(req.url())) posts.push(req);
  };
  page.on('request', watch);
  await page.getByRole('button', {name: 'Start sweep'}).click();
  const it = label('Iterations');
  await until(async () => (await it.getAttribute('aria-invalid')) === 'true', 'iterations flagged on submit');
  assert(await page.locator('form .alert[role=alert]').isVisible(), 'the summary is shown');
  await page.waitForTimeout(200);
  page.off('request', watch);
  assert(posts.length === 0, 'nothing was sent');
  await it.fill('3');
  assert(await it.getAttribute('aria-invalid') === null, 'the error goes once edited');
  assert(await page.locator('form .alert[role=alert]').isHidden(), 'the summary goes with the last field error');
  // The server's own errors go the same way: a reduction factor of 1 is refused by the API.
  await label('Pruner').selectOption('asha');
  await label('Reduction factor').fill('1');
  expectErrorAnswers(422);
  await page.getByRole('button', {name: 'Start sweep'}).click();
  const rf = label('Reduction factor');
  await until(async () => (await rf.getAttribute('aria-invalid')) === 'true', 'the server\'s message beside the reduction factor');
  assert(await page.locator('form .alert[role=alert]').isVisible(), 'the server\'s summary is shown');
  await rf.fill('3');
  assert(await rf.getAttribute('aria-invalid') === null, 'the server\'s error goes once edited');
  assert(await page.locator('form .alert[role=alert]').isHidden(), 'and its summary');
  await label('Pruner').selectOption('none');
  // An integer field takes no fraction.
  await label('Neurons per layer').fill('4.5');
  await until(async () => (await count.getAttribute('data-invalid')) === 'true', 'the count to refuse 4.5 neurons');
  await label('Neurons per layer').fill('4, 8');
});

test('new sweep: the server\'s estimate (dry run) follows the form, or is left out quietly', async () => {
  const openapi = await (await page.request.get(`${base}/openapi.json`)).text();
  const dryRuns = [];
  const watch = (req) => {
    if (/dry_run=true/.test(req.url())) dryRuns.push(req);
  };
  page.on('request', watch);
  await page.goto(`${base}/sweeps/new?dataset=${state.iris}`);
  await label('Learning rate').fill('0.1, 0.3');
  await page.waitForTimeout(900);
  const estimate = page.locator('p.estimate');
  if (!openapi.includes('dry_run')) {
    assert(dryRuns.length === 0, 'no dry run is asked of a server without the route');
    assert(await estimate.isHidden(), 'no estimate line without the route');
  } else {
    await until(async () => estimate.isVisible(), 'the estimate from the server');
  }
  page.off('request', watch);
  // The contract's answer, served here, is shown as it says.
  const bodies = [];
  await page.route('**/openapi.json', (r) => r.fulfill({contentType: 'application/json', body: '{"paths": {"dry_run": {}}}'}));
  await page.route('**/api/v1/sweeps?dry_run=true', (r) => {
    bodies.push(r.request().postDataJSON());
    r.fulfill({contentType: 'application/json', body: JSON.stringify({dry_run: true, search: 'grid', trials: 4, budget: null,
      iterations_total: 200, gemm_flops: 2.5e9, throughput_gflops: 40, estimated_seconds: 12.5, workers: 2})});
  });
  await page.goto(`${base}/sweeps/new?dataset=${state.iris}`);
  await label('Learning rate').fill('0.1, 0.3');
  await until(async () => estimate.isVisible(), 'the estimate line');
  const text = await estimate.textContent();
  assert(/4 trials/.test(text) && /200 iterations/.test(text) && /12\.5 s/.test(text) && /2 workers/.test(text), `the estimate: ${text}`);
  const last = bodies[bodies.length - 1];
  assert(last && last.grid && last.grid.learning_rate.join() === '0.1,0.3', `the dry run carries the form's body: ${JSON.stringify(last)}`);
  await page.unroute('**/openapi.json');
  await page.unroute('**/api/v1/sweeps?dry_run=true');
});

test('new sweep: a random sweep with ranges, a budget and an ASHA pruner, from the form', async () => {
  await page.goto(`${base}/sweeps/new?dataset=${state.iris}`);
  await label('Name (optional)').fill('sampled');
  await label('Random').check();
  await label('Max trials').fill('6');
  await label('Sampling seed').fill('3');
  await label('Hidden layers').fill('1');
  const range = async (key, low, high, log) => {
    await page.locator(`[data-axis-mode=${key}]`).selectOption('range');
    const ax = page.locator(`[data-axis=${key}]`);
    await ax.getByLabel('low', {exact: true}).fill(low);
    await ax.getByLabel('high', {exact: true}).fill(high);
    if (log) await ax.getByLabel('log scale').check();
  };
  await range('neurons', '4', '16', false);
  await range('learning_rate', '0.01', '0.5', true);
  await label('Iterations').fill('4');
  await label('Batch size').fill('16');
  await label('Pruner').selectOption('asha');
  await label('Min iterations').fill('1');
  await label('Reduction factor').fill('2');
  const count = page.locator('output.trial-count');
  await until(async () => (await count.getAttribute('data-count')) === '6', 'the budget as the count');
  assert(/up to 6 trials/.test(await count.textContent()), `the count line: ${await count.textContent()}`);
  await shot('01-form-random');
  const sent = page.waitForRequest((r) => r.method() === 'POST' && /\/api\/v1\/sweeps$/.test(r.url()));
  const answered = page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/v1\/sweeps$/.test(r.url()));
  expectErrorAnswers(422); // allowed once: a server whose random search takes no pruner yet
  await page.getByRole('button', {name: 'Start sweep'}).click();
  const body = (await sent).postDataJSON();
  assert(body.search.type === 'random' && body.search.max_trials === 6 && body.search.seed === 3, `search: ${JSON.stringify(body.search)}`);
  assert(JSON.stringify(body.space.learning_rate) === '{"low":0.01,"high":0.5,"log":true}', `lr range: ${JSON.stringify(body.space.learning_rate)}`);
  assert(JSON.stringify(body.space.neurons) === '{"low":4,"high":16}', `neurons range: ${JSON.stringify(body.space.neurons)}`);
  assert(JSON.stringify(body.pruner) === '{"type":"asha","min_iterations":1,"reduction_factor":2}', `pruner: ${JSON.stringify(body.pruner)}`);
  assert(!body.grid, 'no grid with a search');
  const res = await answered;
  if (res.status() === 422) {
    // This server refuses a pruner on random search (before the pruners across sampling sweeps):
    // the refusal is shown beside the pruner, and the sweep goes without it.
    const problem = await res.json();
    assert(problem.errors.every((e) => /^pruner/.test(e.field)), `only the pruner is refused: ${JSON.stringify(problem.errors)}`);
    await until(async () => (await label('Pruner').getAttribute('aria-invalid')) === 'true', 'the pruner flagged');
    console.log('# this server takes no pruner with random search: the sweep is started without one');
    await label('Pruner').selectOption('none');
    await page.getByRole('button', {name: 'Start sweep'}).click();
  }
  await page.waitForURL(/\/sweeps\/\d+$/);
  state.sampled = Number(/\/sweeps\/(\d+)$/.exec(page.url())[1]);
  await finished(state.sampled);
  const trials = await trialsOf(state.sampled);
  assert(trials.length === 6, `6 trials drawn (${trials.length})`);
  for (const t of trials) {
    const p = t.params;
    assert(p.learning_rate >= 0.01 && p.learning_rate <= 0.5 && Number.isInteger(p.neurons) && p.neurons >= 4 && p.neurons <= 16,
      `trial ${t.id} is inside the ranges: ${JSON.stringify(p)}`);
  }
});

test('clone: the New sweep form starts from a previous sweep\'s stored spec', async () => {
  await page.goto(`${base}/sweeps/${state.sampled}`);
  await page.getByRole('link', {name: 'Clone'}).click();
  await page.waitForURL(new RegExp(`/sweeps/new\\?clone=${state.sampled}$`));
  await page.getByRole('heading', {name: `New sweep from #${state.sampled}`}).waitFor();
  assert(await label('Random').isChecked(), 'the search type');
  assert(await label('Max trials').inputValue() === '6' && await label('Sampling seed').inputValue() === '3', 'the budget and seed');
  const ax = page.locator('[data-axis=learning_rate]');
  assert(await ax.getByLabel('low', {exact: true}).inputValue() === '0.01' && await ax.getByLabel('high', {exact: true}).inputValue() === '0.5' &&
    await ax.getByLabel('log scale').isChecked(), 'the learning rate range');
  assert(await label('Name (optional)').inputValue() === 'sampled (copy)', 'the name, as a copy');
  await label('Max trials').fill('3');
  await page.getByRole('button', {name: 'Start sweep'}).click();
  await page.waitForURL(/\/sweeps\/\d+$/);
  state.clone = Number(/\/sweeps\/(\d+)$/.exec(page.url())[1]);
  const [a, b] = [(await call('GET', `/sweeps/${state.sampled}`)).json.spec, (await call('GET', `/sweeps/${state.clone}`)).json.spec];
  assert(JSON.stringify(a.space) === JSON.stringify(b.space), `the same space:\n${JSON.stringify(a.space)}\n${JSON.stringify(b.space)}`);
  assert(JSON.stringify(a.pruner || null) === JSON.stringify(b.pruner || null), 'the same pruner');
  assert(b.search.max_trials === 3 && b.search.seed === 3 && b.search.type === 'random', `the edited search: ${JSON.stringify(b.search)}`);
  await finished(state.clone);
});

test('sweep delete: a finished sweep is deleted after a confirmation that says what goes', async () => {
  await page.goto(`${base}/sweeps/${state.clone}`);
  await page.getByRole('button', {name: 'Delete sweep'}).click();
  const confirm = page.locator('.confirm');
  await confirm.waitFor();
  const text = await confirm.textContent();
  assert(/3 trials/.test(text) && /cannot be undone/.test(text), `the confirmation: ${text}`);
  await confirm.getByRole('button', {name: 'Keep it'}).click();
  assert(await confirm.count() === 0, 'keeping it closes the question');
  assert((await call('GET', `/sweeps/${state.clone}`)).status === 200, 'kept');
  await page.getByRole('button', {name: 'Delete sweep'}).click();
  await page.locator('.confirm button.danger').click();
  await page.waitForURL(/\/sweeps$/);
  assert((await call('GET', `/sweeps/${state.clone}`)).status === 404, 'the sweep is gone');
});

// ---- 120 trials with ASHA -----------------------------------------------------------------------------------
test('many trials: a 120-trial grid with ASHA runs (tiny: 4 iterations on iris)', async () => {
  const r = await call('POST', '/sweeps', {dataset_id: state.iris, name: 'many',
    grid: {hidden_layers: [1], neurons: [2, 4, 8, 16, 32], learning_rate: [0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
      batch_size: [8, 16, 32, 64], iterations: [4]},
    pruner: {type: 'asha', min_iterations: 1, reduction_factor: 2}});
  assert(r.status === 201, `created (${r.status}: ${JSON.stringify(r.json).slice(0, 200)})`);
  state.many = r.json.id;
  await finished(state.many, 120000);
  state.manyTrials = await trialsOf(state.many);
  assert(state.manyTrials.length === 120, `120 trials (${state.manyTrials.length})`);
  assert(state.manyTrials.some((t) => t.status === 'pruned'), 'ASHA pruned some');
}, 150000);

test('sweep: pruned trials are marked with their rung; stopped ones with their iteration', async () => {
  await page.goto(`${base}/sweeps/${state.many}`);
  await until(async () => (await page.locator('table.leaderboard tbody tr').count()) === 120, '120 leaderboard rows');
  const pruned = state.manyTrials.find((t) => t.status === 'pruned' && /rung/.test(t.error || ''));
  assert(pruned, 'a pruned trial with a note');
  const rung = /rung (\d+)/.exec(pruned.error)[1];
  const cell = page.locator(`table.leaderboard tr[data-trial="${pruned.id}"] td .status-cell`);
  const text = await cell.textContent();
  assert(/pruned/.test(text) && new RegExp(`rung ${rung}\\b`).test(text), `the status cell: ${text} (note: ${pruned.error})`);
  assert(await cell.getAttribute('title') === pruned.error, 'the whole note as its title');
  // 'stopped' (a budget ended the sweep while the trial ran) from the same module.
  const marks = await page.evaluate(async () => {
    const m = await import('/js/trial-state.js');
    return [m.stopMark({status: 'stopped', iterations_done: 4}), JSON.stringify(m.rungOf('pruned at rung 3 (iteration 9): 0.71 < 0.78')),
      m.stopMark({status: 'pruned', error: 'pruned at rung 0 of bracket 1 (iteration 3): 0.7667 < 0.8'}),
      m.statusCell({status: 'stopped', iterations_done: 4, error: 'stopped: max_seconds'}).textContent];
  });
  assert(marks[0] === 'at it. 4' && marks[1] === '{"rung":3,"bracket":null,"iteration":9}' &&
    marks[2] === 'rung 0 of bracket 1, it. 3' && /stopped at it\. 4/.test(marks[3]), `marks: ${marks.join(' | ')}`);
  await shot('02-many');
});

test('sweep: top-N, the filter and the legend keep 120 trials readable', async () => {
  const chart = page.locator('#curves');
  await until(async () => (await chart.getAttribute('data-shown')) === '10', 'the top 10 curves by default');
  assert(await page.locator('.curve-legend li').count() === 10, 'a legend entry per drawn curve');
  const best = [...state.manyTrials].sort((a, b) => b.best_val_accuracy - a.best_val_accuracy || a.id - b.id)[0];
  assert(await page.locator(`.curve-legend li[data-trial="${best.id}"]`).count() === 1, 'the best trial is in the legend');
  assert(await shownRows() === 120, 'every trial in the leaderboard');
  await label('Curves: top').fill('3');
  await until(async () => (await chart.getAttribute('data-shown')) === '3', '3 curves');
  await label('Filter trials').fill('neurons=8 relu');
  const want = state.manyTrials.filter((t) => t.params.neurons === 8).length;
  await until(async () => (await shownRows()) === want, `${want} rows for neurons=8`);
  await label('Filter trials').fill('learning_rate<0.02 pruned');
  const want2 = state.manyTrials.filter((t) => t.params.learning_rate < 0.02 && t.status === 'pruned').length;
  await until(async () => (await shownRows()) === want2, `${want2} rows for learning_rate<0.02 pruned`);
  assert(await summaryData('matched') === want2, 'the summary counts them');
  await label('Filter trials').fill('');
  await label('Curves: top').fill('10');
  await until(async () => (await shownRows()) === 120, 'every row again');
});

test('sweep: the hover readout names the trial, its parameters and the value', async () => {
  const over = page.locator('#curves .u-over');
  await over.scrollIntoViewIfNeeded();
  const box = await over.boundingBox();
  const readout = page.locator('p.readout');
  let tid = null;
  for (let fx = 0.1; fx < 1 && !tid; fx += 0.2) {
    for (let fy = 0.1; fy < 1 && !tid; fy += 0.2) {
      await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
      tid = await readout.getAttribute('data-trial');
      if (tid && !(await readout.getAttribute('data-iteration'))) tid = null;
    }
  }
  assert(tid, 'pointing at the chart shows a readout');
  const t = state.manyTrials.find((x) => x.id === Number(tid));
  const text = await readout.textContent();
  assert(new RegExp(`Trial ${tid}\\b`).test(text) && /iteration \d+: \d+\.\d\d %/.test(text), `the readout: ${text}`);
  assert(text.includes(`Neurons ${t.params.neurons}`) && text.includes(`Learning rate ${t.params.learning_rate}`), `its parameters: ${text}`);
  assert(await page.locator(`.curve-legend li[data-trial="${tid}"]`).count() === 1, 'a drawn (legend) curve');
  // Keyboard: focusing a leaderboard row shows its trial.
  await page.mouse.move(0, 0);
  const row = page.locator('table.leaderboard tbody tr').nth(5);
  await row.locator('th a').focus();
  const rid = await row.getAttribute('data-trial');
  await until(async () => (await readout.getAttribute('data-trial')) === rid, 'the focused row\'s readout');
});

test('sweep: brushing a parallel-coordinates axis filters the leaderboard and the curves', async () => {
  const pc = page.locator('#parcoords');
  await until(async () => (await pc.getAttribute('data-lit')) === '120', 'every trial lit');
  const axis = pc.locator('g.pc-axis[data-axis="best_val_accuracy"]');
  const hit = axis.locator('rect.pc-hit');
  await pc.scrollIntoViewIfNeeded();
  const b = await hit.boundingBox();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height * 0.05);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height * 0.3, {steps: 5});
  await page.mouse.up();
  const lo = Number(await axis.getAttribute('data-lo'));
  const hi = Number(await axis.getAttribute('data-hi'));
  assert(lo < hi, `a band ${lo}..${hi}`);
  const inside = state.manyTrials.filter((t) => t.best_val_accuracy >= lo - 1e-9 && t.best_val_accuracy <= hi + 1e-9);
  assert(inside.length > 0 && inside.length < 120, `the band keeps some trials (${inside.length})`);
  await until(async () => (await shownRows()) === inside.length, `${inside.length} rows inside the band`);
  assert(Number(await pc.getAttribute('data-lit')) === inside.length, 'as many lines lit');
  const curves = Number(await page.locator('#curves').getAttribute('data-shown'));
  assert(curves === Math.min(10, inside.length), `the curves follow (${curves})`);
  assert(/Best val\. acc\./.test(await page.locator('.filter-summary').textContent()), 'the summary names the band');
  await shot('03-brushed');
  // Keyboard: a band on the learning rate too, then Escape clears it.
  const lrAxis = pc.locator('g.pc-axis[data-axis="learning_rate"]');
  await lrAxis.focus();
  await page.keyboard.press('ArrowUp');
  const both = state.manyTrials.filter((t) => inside.includes(t));
  await until(async () => (await shownRows()) < both.length || both.length === 0, 'a second band narrows the list');
  await page.locator('g.pc-axis[data-axis="learning_rate"]').focus();
  await page.keyboard.press('Escape');
  await until(async () => (await shownRows()) === inside.length, 'Escape clears the band');
  await page.getByRole('button', {name: 'Clear filters'}).click();
  await until(async () => (await shownRows()) === 120, 'every row after clearing');
});

test('sweep: the importance panel names its method and matches eta squared', async () => {
  const panel = page.locator('#importance');
  const text = await panel.textContent();
  assert(/one-way ANOVA/.test(text) && /η²/.test(text), `the method is named: ${text.slice(0, 200)}`);
  const used = state.manyTrials.filter((t) => Number.isFinite(t.best_val_accuracy));
  const ys = used.map((t) => t.best_val_accuracy);
  for (const key of ['neurons', 'learning_rate', 'batch_size']) {
    const row = panel.locator(`tr[data-param="${key}"]`);
    assert(await row.count() === 1, `a row for ${key}`);
    const shown = Number(await row.getAttribute('data-eta2'));
    const want = eta2(used.map((t) => String(t.params[key])), ys);
    assert(Math.abs(shown - want) < 1e-9, `${key}: ${shown} vs ${want}`);
  }
  const order = await panel.locator('tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.dataset.eta2)));
  assert(order.every((v, i) => i === 0 || order[i - 1] >= v), `largest share first: ${order.join(', ')}`);
  assert(await panel.locator('tr[data-param="activation"]').count() === 0, 'a parameter that does not vary has no row');
  // A range's many values are cut into 5 equal-count bins (ties kept together) before the ANOVA.
  const binned = await page.evaluate(async () => {
    const m = await import('/js/importance.js');
    return [m.groupsOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).keys.join(), m.groupsOf([1, 1, 1, 1, 2, 3, 4, 5, 6, 7]).keys.join(),
      m.groupsOf(['a', 'b']).binned, m.etaSquared(['x', 'x', 'y', 'y'], [1, 1, 3, 3]), m.etaSquared(['x', 'y', 'x', 'y'], [1, 1, 3, 3])];
  });
  assert(binned[0] === 'bin0,bin0,bin1,bin1,bin2,bin2,bin3,bin3,bin4,bin4', `equal-count bins: ${binned[0]}`);
  assert(binned[1] === 'bin0,bin0,bin0,bin0,bin2,bin2,bin3,bin3,bin4,bin4', `ties stay in one bin: ${binned[1]}`);
  assert(binned[2] === false && binned[3] === 1 && binned[4] === 0, `eta squared of clear cases: ${binned.slice(2).join()}`);
});

test('sweep: best so far against wall time, and the leaderboard as CSV with best_iteration', async () => {
  const bestEl = page.locator('#best-so-far');
  const top = Math.max(...state.manyTrials.map((t) => t.best_val_accuracy));
  await until(async () => Number(await bestEl.getAttribute('data-points')) >= 1, 'best-so-far points');
  assert(Math.abs(Number(await bestEl.getAttribute('data-best')) - top) < 1e-9, 'it ends at the best accuracy');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', {name: 'Download CSV'}).click()]);
  assert(dl.suggestedFilename() === `mlptune-sweep-${state.many}-leaderboard.csv`, dl.suggestedFilename());
  const csv = fs.readFileSync(await dl.path(), 'utf8').trim().split(/\r\n/);
  const head = csv[0].split(',');
  assert(head.includes('best_iteration') && head.includes('best_val_accuracy') && head.includes('learning_rate'), `the header: ${csv[0]}`);
  assert(csv.length === 121, `a row per trial (${csv.length - 1})`);
  const first = Object.fromEntries(csv[1].split(',').map((v, i) => [head[i], v]));
  const t = state.manyTrials.find((x) => x.id === Number(first.trial));
  assert(Number(first.best_val_accuracy) === t.best_val_accuracy && Number(first.best_iteration) === t.best_iteration,
    `the first row matches the API: ${csv[1]}`);
  assert(t.best_val_accuracy === top, 'sorted like the leaderboard: the best first');
});

test('sweep: trials a spent budget stopped are marked (on a server that stops them)', async () => {
  const meta = (await call('GET', '/meta/parameters')).json;
  if (!meta.trial_states.all.includes('stopped')) {
    console.log('# this server has no trial state "stopped" yet: only the marks above are checked');
    return;
  }
  const r = await call('POST', '/sweeps', {dataset_id: state.iris, search: {type: 'random', max_trials: 4, max_iterations_total: 40, seed: 1},
    space: {hidden_layers: [1], neurons: [8], learning_rate: {low: 0.01, high: 0.1}, iterations: [1000], batch_size: [8]}});
  assert(r.status === 201, `created (${r.status})`);
  await finished(r.json.id);
  const stopped = (await trialsOf(r.json.id)).filter((t) => t.status === 'stopped');
  assert(stopped.length > 0, 'the budget stopped a running trial');
  await page.goto(`${base}/sweeps/${r.json.id}`);
  const t = stopped[0];
  const cell = page.locator(`table.leaderboard tr[data-trial="${t.id}"] td .status-cell`);
  await cell.waitFor();
  const text = await cell.textContent();
  assert(/stopped/.test(text) && text.includes(`at it. ${t.iterations_done}`) && await cell.getAttribute('title') === t.error, `the cell: ${text}`);
  const line = page.locator('.progress-line');
  await until(async () => Number(await line.getAttribute('data-finished')) >= stopped.length, 'stopped trials count as finished');
  await call('DELETE', `/sweeps/${r.json.id}`);
});

test('heatmap: an axis of many sampled values is cut into equal-count bins', async () => {
  const r = await page.evaluate(async () => {
    const m = await import('/js/heatmap.js');
    const col = {key: 'learning_rate', get: (p) => p.learning_rate};
    const trials = Array.from({length: 40}, (_, i) => ({params: {learning_rate: 0.01 * (i + 1)}}));
    const bins = m.axisBins(trials, col);
    const few = m.axisBins(trials.slice(0, 5), col);
    const counts = {};
    for (const t of trials) counts[bins.keyOf(t)] = (counts[bins.keyOf(t)] || 0) + 1;
    return {n: bins.items.length, first: bins.items[0].label, counts: Object.values(counts), few: few.items.map((x) => x.label).join()};
  });
  assert(r.n === 8 && r.counts.every((c) => c === 5), `8 bins of 5: ${JSON.stringify(r)}`);
  assert(r.first === '0.01–0.05' && r.few === '0.01,0.02,0.03,0.04,0.05', `labels: ${JSON.stringify(r)}`);
});

// ---- datasets, canceled sweeps -------------------------------------------------------------------------------
test('dataset delete: the confirmation says, visibly, how many sweeps go with it', async () => {
  const wine = await page.request.post(`${base}/api/v1/datasets`, {multipart: {label_column: 'cultivar', name: 'wine',
    file: {name: 'wine.csv', mimeType: 'text/csv', buffer: fs.readFileSync(path.join(dataFiles, 'wine.csv'))}}});
  const ds = await wine.json();
  const sw = await call('POST', '/sweeps', {dataset_id: ds.id, grid: {hidden_layers: [0], learning_rate: [0.1], iterations: [1]}});
  assert(sw.status === 201, `a sweep on wine (${sw.status})`);
  await finished(sw.json.id);
  await page.goto(`${base}/datasets`);
  const row = page.locator('table.datasets tbody tr', {hasText: 'wine'});
  await row.getByRole('button', {name: 'Delete'}).click();
  const confirm = row.locator('.confirm');
  await confirm.waitFor();
  const text = await confirm.textContent();
  assert(/1 sweep\b/.test(text) && text.includes(`#${sw.json.id}`), `the confirmation names the sweep: ${text}`);
  assert(await confirm.isVisible(), 'in view, not only an aria-label');
  await confirm.getByRole('button', {name: 'Delete dataset and 1 sweep'}).click();
  await until(async () => (await page.locator('table.datasets tbody tr', {hasText: 'wine'}).count()) === 0, 'the row to go');
  assert((await call('GET', `/sweeps/${sw.json.id}`)).status === 404, 'its sweep went with it');
});

test('canceled sweep: progress counts finished trials, not canceled ones, and says which never ran', async () => {
  const r = await call('POST', '/sweeps', {dataset_id: state.iris, name: 'to cancel',
    grid: {hidden_layers: [3], neurons: [256, 512], learning_rate: [0.01, 0.02, 0.03, 0.04], iterations: [5000], batch_size: [1]}});
  const id = r.json.id;
  await until(async () => (await trialsOf(id)).some((t) => t.iterations_done >= 1 || t.status === 'running'), 'a trial to start', 30000, 100);
  await call('POST', `/sweeps/${id}/cancel`);
  await finished(id);
  const trials = await until(async () => {
    const list = await trialsOf(id);
    return list.every((t) => !['queued', 'running'].includes(t.status)) && list;
  }, 'every trial to have stopped', 30000, 200);
  const never = trials.filter((t) => !t.started_at).length;
  const done = trials.filter((t) => t.status !== 'canceled').length;
  assert(never >= 4, `most trials never ran (${never})`);
  await page.goto(`${base}/sweeps/${id}`);
  const line = page.locator('.progress-line');
  await until(async () => (await line.getAttribute('data-canceled')) !== null, 'the progress line');
  const text = await line.textContent();
  assert(Number(await line.getAttribute('data-finished')) === done && Number(await line.getAttribute('data-never-ran')) === never,
    `finished ${done}, never ran ${never}: ${text}`);
  assert(new RegExp(`${done} of 8 trials finished`).test(text) && /never ran/.test(text), `the text: ${text}`);
  const pct = Number(await page.locator('.progress-card [role=progressbar]').getAttribute('aria-valuenow'));
  assert(pct < 100, `not 100 % (${pct})`);
  await shot('04-canceled');
  await page.goto(`${base}/sweeps`);
  const listRow = page.locator(`table.sweeps tbody tr[data-id="${id}"]`);
  await listRow.waitFor();
  const lt = await listRow.textContent();
  assert(new RegExp(`${done} / 8`).test(lt) && /canceled\)/.test(lt) && !/100 %/.test(lt), `the list row: ${lt}`);
  await page.goto(`${base}/`);
  await page.waitForURL(/\/sweeps$/); // with sweeps, the first page is the list
  // A sampling sweep ends with its first spent budget: its progress is the furthest budget's.
  const ps = await page.evaluate(async () => {
    const m = await import('/js/progress.js');
    const t = {status: 'running', iterations_done: 5, params: {iterations: 10}};
    return [m.sweepProgress({status: 'running'}, [t], {budget: {max_seconds: 100}, elapsed: 80}).p,
      m.sweepProgress({status: 'running'}, [t], {budget: {max_iterations_total: 4}, elapsed: 1}).p,
      m.sweepProgress({status: 'running'}, [t], {plannedTrials: 4}).p];
  });
  assert(ps[0] === 0.8 && ps[1] === 0.99 && ps[2] === 0.125, `budget progress: ${ps.join(', ')}`);
});

test('no console errors, and the views\' controls are labelled', async () => {
  for (const p of ['/sweeps/new', `/sweeps/${state.many}`]) {
    await page.goto(base + p);
    await page.locator('main h1').first().waitFor();
    await page.waitForTimeout(300);
    const unlabelled = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea, button'))
      .filter((el) => el.offsetParent !== null)
      .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim())))
      .map((el) => el.outerHTML.slice(0, 80)));
    assert(!unlabelled.length, `${p}: unlabelled controls: ${unlabelled.join(', ')}`);
  }
  assert(!consoleErrors.length, `console errors:\n  ${consoleErrors.join('\n  ')}`);
});

const {passed, failed} = await runTests(tests, (name, n) => shot(`fail-${n}`));
await context.close().catch(() => {});
await stopServer(server);
fs.rmSync(tmp, {recursive: true, force: true});
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
