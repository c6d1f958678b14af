#!/usr/bin/env node
// Browser tests of the dashboard: the real server, headless Chromium (Debian's), playwright-core.
//
//   node tests/browser/run.mjs <mlptune binary> <web dir> <artifacts dir>
//
// Starts `mlptune serve --port 0` on a temporary data dir, then drives the dashboard as a person
// would: uploads a CSV through the file input (and another by drag and drop), creates a sweep
// through the New sweep form, watches its curves grow and its leaderboard fill, checks the
// finished sweep, a trial, the sweeps list, cancels another sweep with the button, and fails on
// any console error. Then a second server started with an API token: the dashboard asks for the
// token, refuses a wrong one, signs in (a session cookie), every page works with it (live curves
// over the event stream included) while a page of the first server's origin cannot cancel or
// upload there through the browser, and after "Sign out" every page asks for the token again.
// Where trials ran: no placement column on one machine, one when the API reports two ranks (the
// trial list answered through page.route), and the trial page's "Ran on"; then, where Open MPI is
// installed and the build has it, a real `mpirun -np 2 ... serve --mpi` whose sweep ran on both ranks.
// Also a trial's confusion matrix, and a generated sensor recording: uploaded with its format, its
// page with one window per class, and windows derived from its form.
// Screenshots of each view go to <artifacts dir>/*.png (their paths are printed), with the
// servers' logs. The last line is "N passed, M failed".
//
// Needs: /usr/bin/chromium (or MLPTUNE_CHROMIUM), `npm ci --prefix tests/browser` (playwright-core)
// and `npm ci --prefix web` (uPlot).
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {startServer as libStartServer} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [bin, webDirArg, artifactsArg] = process.argv.slice(2);
const repo = path.resolve(here, '..', '..');
const webDir = path.resolve(webDirArg || path.join(repo, 'web'));
const artifacts = path.resolve(artifactsArg || path.join(os.tmpdir(), 'mlptune-browser-artifacts'));
const dataFiles = path.join(repo, 'tests', 'data');
const chromiumPath = process.env.MLPTUNE_CHROMIUM || '/usr/bin/chromium';
// The watched sweep: 4 trials on iris, long enough to see it run (a few seconds), short enough
// for CI. The canceled one is far longer; it is canceled after its first iterations.
const ITERATIONS = Number(process.env.MLPTUNE_BROWSER_ITERATIONS || 200);
const TOTAL_TIMEOUT_MS = 9 * 60 * 1000; // below ctest's 600 s, so the server is stopped here

function finish(passed, failed) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

function fatal(msg) {
  console.log(`FAIL - setup: ${msg}`);
  finish(0, 1);
}

if (!bin) fatal('usage: node tests/browser/run.mjs <mlptune binary> <web dir> <artifacts dir>');
if (!fs.existsSync(bin)) fatal(`no mlptune binary at ${bin}`);
if (!fs.existsSync(chromiumPath)) fatal(`no Chromium at ${chromiumPath} (scripts/install-deps.sh --test installs Debian's chromium)`);
if (!fs.existsSync(path.join(webDir, 'node_modules', 'uplot', 'dist', 'uPlot.esm.js'))) {
  fatal(`uPlot is not installed in ${webDir}/node_modules: run npm ci --prefix web`);
}

let chromium;
try {
  ({chromium} = await import('playwright-core'));
} catch (e) {
  fatal(`playwright-core is not installed: run npm ci --prefix tests/browser (${e.message})`);
}

fs.mkdirSync(artifacts, {recursive: true});
for (const f of fs.readdirSync(artifacts)) if (f.endsWith('.png')) fs.rmSync(path.join(artifacts, f));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlpt-browser-'));
const dataDir = path.join(tmp, 'data');
const profileDir = path.join(tmp, 'chromium-profile');
const serverLog = path.join(artifacts, 'server.log');
const TOKEN = 'browser-test-token-5f0c2a9e';

// ---- the server ----------------------------------------------------------------------------------
// launcher: a command the server runs under (mpirun for `serve --mpi`), extra: more serve flags.
function startServer({data = dataDir, logFile = serverLog, env = process.env, launcher = [], workers = 2, extra = []} = {}) {
  return libStartServer({bin, webDir, data, logFile, workers, env, launcher, extra});
}

let server = null;
let tokenServer = null; // the second server, started with an API token by its tests
let mpiServer = null; // under mpirun -np 2 (serve --mpi), when this machine and build have MPI
let context = null;
async function stopServer(s) {
  if (s && s.proc.exitCode === null) {
    const exited = new Promise((r) => s.proc.once('exit', r));
    s.proc.kill('SIGTERM');
    const t = setTimeout(() => s.proc.kill('SIGKILL'), 20000);
    await exited;
    clearTimeout(t);
  }
}
async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  await stopServer(server);
  await stopServer(tokenServer);
  await stopServer(mpiServer);
  fs.rmSync(tmp, {recursive: true, force: true});
}

const watchdog = setTimeout(async () => {
  console.log(`FAIL - the browser tests did not finish within ${TOTAL_TIMEOUT_MS / 60000} minutes`);
  await cleanup();
  finish(0, 1);
}, TOTAL_TIMEOUT_MS);

try {
  server = await startServer();
} catch (e) {
  await cleanup();
  fatal(e.message);
}
const base = server.url;
console.log(`# server ${base} (data dir ${dataDir}, log ${serverLog})`);

try {
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true, // playwright passes --headless
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    viewport: {width: 1280, height: 900},
    acceptDownloads: true,
  });
} catch (e) {
  await cleanup();
  fatal(`Chromium did not start: ${e.message}`);
}
const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(30000);

// ---- console errors ----------------------------------------------------------------------------------
const consoleErrors = [];
// Chromium logs every error answer as "Failed to load resource: ... status of 422". A step that
// provokes one on purpose allows it here first (the log may arrive after the step has moved on).
const allowed = [];
function expectErrorAnswers(status, count = 1) {
  allowed.push({re: new RegExp(`Failed to load resource: the server responded with a status of ${status}\\b`), left: count});
}
page.on('console', (msg) => {
  if (msg.type() !== 'error') return;
  const text = msg.text();
  const a = allowed.find((x) => x.left > 0 && x.re.test(text));
  if (a) {
    a.left -= 1;
    return;
  }
  consoleErrors.push(`${page.url()}: ${text}`);
});
page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: uncaught ${err.message}`));
// The dashboard works offline: nothing it loads may come from anywhere but the server.
const foreignRequests = [];
context.on('request', (req) => {
  const u = req.url();
  const ours = [base, tokenServer && tokenServer.url, mpiServer && mpiServer.url].filter(Boolean).some((b) => u.startsWith(`${b}/`));
  if (!ours && !u.startsWith('data:') && !u.startsWith('blob:')) foreignRequests.push(u);
});

// ---- helpers -------------------------------------------------------------------------------------------
const shots = [];
async function shot(name) {
  const file = path.join(artifacts, `${name}.png`);
  await page.waitForTimeout(300); // let the last animation frame land
  await page.screenshot({path: file, fullPage: true});
  shots.push(file);
  console.log(`# screenshot ${file}`);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function until(fn, what, timeoutMs = 30000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await page.waitForTimeout(everyMs);
  }
}

async function clickNav(label) {
  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: label, exact: true}).click();
}

const chartPoints = async (sel = '#curves') => Number(await page.locator(sel).getAttribute('data-points') || 0);
const sweepStatus = () => page.locator('.sweep-status').getAttribute('data-sweep-status');
const leaderboardRows = () => page.locator('table.leaderboard tbody tr').count();

// Fills the New sweep form's grid; leaves the other fields as they are.
async function fillGrid({hidden, neurons, lr, iterations, batch}) {
  await page.getByLabel('Hidden layers', {exact: true}).fill(hidden);
  await page.getByLabel('Neurons per layer', {exact: true}).fill(neurons);
  await page.getByLabel('Learning rate', {exact: true}).fill(lr);
  await page.getByLabel('Iterations', {exact: true}).fill(iterations);
  await page.getByLabel('Batch size', {exact: true}).fill(batch);
}

// ---- the tests ---------------------------------------------------------------------------------------
const state = {};
const tests = [];
const test = (name, fn, timeoutMs = 90000) => tests.push({name, fn, timeoutMs});

test('datasets: upload iris.csv through the file input, with progress and the new row', async () => {
  await page.goto(`${base}/datasets`);
  await page.getByRole('heading', {name: 'Datasets', level: 1}).waitFor();
  await page.getByLabel('CSV file').setInputFiles(path.join(dataFiles, 'iris.csv'));
  await page.getByLabel('Name (optional)').fill('iris');
  await page.getByRole('button', {name: 'Upload'}).click();
  await page.getByText(/Added “iris”: 150 rows, 4 features, 3 classes/).waitFor();
  const row = page.locator('table.datasets tbody tr', {hasText: 'iris'});
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  assert(cells.includes('150') && cells.includes('4'), `iris row shows rows and features: ${cells.join(' | ')}`);
  assert(await row.locator('.balance-seg').count() === 3, 'the class balance bar has one segment per class');
  const bar = page.locator('.upload-progress [role=progressbar]');
  assert(await bar.getAttribute('aria-valuenow') === '100', 'the upload progress bar reached 100');
  state.irisId = Number(await row.getAttribute('data-id'));
  assert(state.irisId > 0, 'the row carries the dataset id');
});

test('datasets: drag and drop wine.csv; the API\'s error is shown beside the file field', async () => {
  const text = fs.readFileSync(path.join(dataFiles, 'wine.csv'), 'utf8');
  await page.locator('.dropzone').evaluate((zone, csv) => {
    const dt = new DataTransfer();
    dt.items.add(new File([csv], 'wine.csv', {type: 'text/csv'}));
    zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
    zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
  }, text);
  await page.getByText('Chosen: wine.csv').waitFor();
  // wine.csv's label is its first column, "cultivar": without saying so the upload is refused,
  // and the message names the file field.
  expectErrorAnswers(422);
  await page.getByRole('button', {name: 'Upload'}).click();
  const file = page.getByLabel('CSV file');
  await until(async () => (await file.getAttribute('aria-invalid')) === 'true', 'the file field to be flagged');
  const errId = (await file.getAttribute('aria-describedby')).split(' ').find((x) => x.endsWith('-error'));
  const msg = await page.locator(`[id="${errId}"]`).textContent();
  assert(/row 2, column 1/.test(msg), `the message beside the file field names row and column: ${msg}`);
  await shot('01-datasets-upload-error');
  await page.getByLabel('Label column (optional)').fill('cultivar');
  await page.getByRole('button', {name: 'Upload'}).click();
  await page.locator('table.datasets tbody tr', {hasText: 'wine'}).waitFor();
  assert(await page.locator('table.datasets tbody tr').count() === 2, 'two datasets are listed');
  assert(await file.getAttribute('aria-invalid') === null, 'the error is cleared');
  await shot('01-datasets');
});

test('datasets: an unknown label column is named beside its field', async () => {
  await page.getByLabel('CSV file').setInputFiles(path.join(dataFiles, 'iris.csv'));
  await page.getByLabel('Label column (optional)').fill('no_such_column');
  expectErrorAnswers(422);
  await page.getByRole('button', {name: 'Upload'}).click();
  const input = page.getByLabel('Label column (optional)');
  await until(async () => (await input.getAttribute('aria-invalid')) === 'true', 'the label column to be flagged');
  const errId = (await input.getAttribute('aria-describedby')).split(' ').find((x) => x.endsWith('-error'));
  const msg = await page.locator(`[id="${errId}"]`).textContent();
  assert(/no column named/.test(msg), `the message beside label_column: ${msg}`);
  await page.getByLabel('Label column (optional)').fill('');
});

test('new sweep: live trial count and validation messages beside the fields', async () => {
  await clickNav('New sweep');
  await page.waitForURL(/\/sweeps\/new$/);
  await page.getByRole('heading', {name: 'New sweep', level: 1}).waitFor();
  await page.getByLabel('Dataset', {exact: true}).selectOption(String(state.irisId));
  await fillGrid({hidden: '1, 2, 3', neurons: '8, 16', lr: '0.1, 0.5', iterations: '10', batch: '8'});
  const count = page.locator('output.trial-count');
  await until(async () => (await count.getAttribute('data-count')) === '12', 'the count to show 12 trials');
  await page.locator('#ax-activation-tanh').check();
  await until(async () => (await count.getAttribute('data-count')) === '24', 'the count to follow the activation boxes');
  await page.locator('#ax-activation-tanh').uncheck();
  // An invalid value gets no count (the count does not count what the server refuses).
  await page.getByLabel('Learning rate', {exact: true}).fill('0.1, -1');
  await until(async () => (await count.getAttribute('data-invalid')) === 'true', 'the count to refuse -1');
  {
    await page.getByRole('button', {name: 'Start sweep'}).click();
    const lr = page.getByLabel('Learning rate', {exact: true});
    await until(async () => (await lr.getAttribute('aria-invalid')) === 'true', 'the learning rate to be flagged');
    const errId = (await lr.getAttribute('aria-describedby')).split(' ').find((x) => x.endsWith('-error'));
    const msg = await page.locator(`[id="${errId}"]`).textContent();
    assert(/value 2/.test(msg) && /must be > 0/.test(msg), `the message beside the learning rate: ${msg}`);
    assert(await page.locator('.alert[role=alert]').isVisible(), 'a summary of the errors is shown');
  }
  await shot('02-new-sweep-errors');
  assert(/\/sweeps\/new$/.test(page.url()), 'the form stays put after a refused request');
});

test('new sweep: a 4-trial grid is created from the form', async () => {
  await page.getByLabel('Name (optional)').fill('iris depth x width');
  await fillGrid({hidden: '2, 3', neurons: '256, 512', lr: '0.01', iterations: String(ITERATIONS), batch: '2'});
  const count = page.locator('output.trial-count');
  await until(async () => (await count.getAttribute('data-count')) === '4', 'the count to show 4 trials');
  assert(/4 trials/.test(await count.textContent()), 'the count reads "4 trials"');
  await page.getByRole('button', {name: 'Start sweep'}).click();
  await page.waitForURL(/\/sweeps\/\d+$/);
  state.sweepId = Number(/\/sweeps\/(\d+)$/.exec(page.url())[1]);
});

test('sweep: the curves grow while it runs and the leaderboard fills', async () => {
  await page.locator('#curves canvas').first().waitFor();
  await until(async () => (await leaderboardRows()) === 4, 'four leaderboard rows');
  // Points must grow between two looks taken while the sweep is still running.
  const seen = [];
  let grew = false;
  let shotTaken = false;
  const end = Date.now() + 120000;
  while (!grew && Date.now() < end) {
    const status = await sweepStatus();
    const pts = await chartPoints();
    if (['completed', 'failed', 'canceled'].includes(status)) break;
    if (seen.length && pts > seen[seen.length - 1] && seen[seen.length - 1] > 0) grew = true;
    if (pts > 0) seen.push(pts);
    if (grew && !shotTaken) {
      await shot('03-sweep-running');
      shotTaken = true;
    }
    await page.waitForTimeout(250);
  }
  assert(grew, `the chart's points grew while the sweep ran (seen: ${seen.join(', ') || 'none'}); ` +
    'if the sweep finishes too fast here, raise MLPTUNE_BROWSER_ITERATIONS');
  const series = Number(await page.locator('#curves').getAttribute('data-series'));
  assert(series >= 1, 'at least one trial has a curve');
  const cells = await page.locator('table.leaderboard tbody tr').first().locator('td').allTextContents();
  assert(cells.some((c) => /%/.test(c)), `the leaderboard shows accuracies while it runs: ${cells.join(' | ')}`);
});

test('sweep: finished, with a chart, 4 leaderboard rows, the best highlighted, and a heatmap', async () => {
  await until(async () => ['completed', 'failed', 'canceled'].includes(await sweepStatus()), 'the sweep to finish', 300000, 500);
  assert(await sweepStatus() === 'completed', `the sweep completed (status ${await sweepStatus()})`);
  await until(async () => (await chartPoints()) === 4 * ITERATIONS, `all ${4 * ITERATIONS} points on the chart`, 20000);
  assert(await page.locator('#curves canvas').count() >= 1, 'a chart is drawn');
  assert(await leaderboardRows() === 4, 'four leaderboard rows');
  await until(async () => (await page.locator('table.leaderboard tr.best').count()) === 1, 'one highlighted best row', 10000);
  assert(await page.locator('table.leaderboard tbody tr').first().evaluate((tr) => tr.classList.contains('best')),
    'sorted by best validation accuracy, the best trial comes first');
  assert(await page.locator('table.heatmap td.hm-cell').count() === 4, 'the heatmap has a cell per (layers, neurons) pair');
  assert(await page.getByRole('button', {name: 'Cancel sweep'}).isHidden(), 'no cancel button on a finished sweep');
  const progress = await page.locator('.progress-card [role=progressbar]').getAttribute('aria-valuenow');
  assert(progress === '100', `progress is 100 (${progress})`);
  await shot('04-sweep-finished');
}, 330000);

test('sweep: switches between validation/training and accuracy/loss', async () => {
  await page.getByLabel('Loss', {exact: true}).check();
  await page.getByLabel('Training', {exact: true}).check();
  await until(async () => /metric=loss/.test(page.url()) && /split=train/.test(page.url()), 'the view in the URL');
  await until(async () => (await chartPoints()) === 4 * ITERATIONS, 'the training loss curves', 10000);
  assert(/Training loss/.test(await page.locator('figcaption').first().textContent()), 'the caption names the curves');
  await shot('05-sweep-training-loss');
  await page.getByLabel('Validation', {exact: true}).check();
  await page.getByLabel('Accuracy', {exact: true}).check();
});

test('sweep: the leaderboard sorts by a column header', async () => {
  const header = page.locator('table.leaderboard thead th[data-col="neurons"]');
  await header.getByRole('button').click();
  assert(await header.getAttribute('aria-sort') === 'ascending', 'aria-sort follows the sort');
  const neurons = await page.locator('table.leaderboard tbody tr td:nth-child(4)').allTextContents();
  assert(neurons.join(',') === '256,256,512,512', `sorted by neurons: ${neurons.join(',')}`);
  await header.getByRole('button').click();
  assert(await header.getAttribute('aria-sort') === 'descending', 'a second click reverses it');
});

test('sweep: the bookmarked URL shows the finished sweep after a reload', async () => {
  await page.goto(`${base}/sweeps/${state.sweepId}`);
  await until(async () => (await sweepStatus()) === 'completed', 'the sweep page');
  await until(async () => (await chartPoints()) === 4 * ITERATIONS, 'every point from the stored history', 20000);
  assert(await leaderboardRows() === 4, 'four leaderboard rows after a reload');
});

test('sweep: one machine shows no placement column; trials on two ranks show where each ran', async () => {
  const col = page.locator('table.leaderboard thead th[data-col="placement"]');
  assert(await col.count() === 0, 'no "Ran on" column when every trial ran on rank 0');
  // The same sweep as a cluster would report it (this machine has one rank): the odd trials on
  // rank 1 of another host. The dashboard reads the placement the API gives.
  const pattern = new RegExp(`/api/v1/sweeps/${state.sweepId}/trials(\\?|$)`);
  await page.route(pattern, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    for (const t of body.items || []) {
      if (t.ordinal % 2) t.placement = {rank: 1, host: 'node-b', workers: 1};
    }
    await route.fulfill({response: res, json: body});
  });
  try {
    await page.goto(`${base}/sweeps/${state.sweepId}`);
    await until(async () => (await leaderboardRows()) === 4, 'the leaderboard rows');
    await col.waitFor();
    assert(/Ran on/.test(await col.textContent()), 'the column is headed "Ran on"');
    const where = await page.locator('table.leaderboard tbody tr td:last-child').allTextContents();
    assert(where.filter((w) => w === 'rank 1 · node-b · 1 worker').length === 2,
      `two trials on rank 1: ${where.join(' | ')}`);
    assert(where.filter((w) => w === `rank 0 · ${os.hostname()} · 2 workers`).length === 2,
      `two trials on rank 0 of this host: ${where.join(' | ')}`);
    await shot('05b-sweep-two-ranks');
  } finally {
    await page.unroute(pattern);
  }
  await page.goto(`${base}/sweeps/${state.sweepId}`);
  await until(async () => (await leaderboardRows()) === 4, 'the leaderboard rows');
  assert(await col.count() === 0, 'without trials on two ranks the column is gone again');
});

test('trial: curves, parameters, timings and the model download', async () => {
  const best = page.locator('table.leaderboard tr.best th a');
  state.bestTrial = Number((await best.getAttribute('href')).split('/').pop());
  await best.click();
  await page.waitForURL(new RegExp(`/trials/${state.bestTrial}$`));
  await page.locator('#trial-accuracy canvas').waitFor();
  await page.locator('#trial-loss canvas').waitFor();
  await until(async () => (await chartPoints('#trial-accuracy')) === 2 * ITERATIONS, 'training and validation accuracy', 20000);
  const params = await page.locator('dl.params').textContent();
  assert(/Learning rate\s*0\.01/.test(params) && /Batch size\s*2/.test(params), `the parameters: ${params}`);
  const facts = await page.locator('dl.meta').textContent();
  const here = `rank 0 · ${os.hostname()} · 2 workers`;
  assert(facts.includes(`Ran on${here}`), `where it ran ("${here}"): ${facts}`);
  const link = page.getByRole('link', {name: 'Download model'});
  const href = await link.getAttribute('href');
  assert(href === `/api/v1/trials/${state.bestTrial}/model`, `model link ${href}`);
  const res = await page.request.get(base + href);
  assert(res.status() === 200 && (await res.body()).length > 100, `the model downloads (HTTP ${res.status()})`);
  await shot('06-trial');
});

test('trial: the confusion matrix of its validation split', async () => {
  await page.goto(`${base}/trials/${state.bestTrial}`);
  const table = page.locator('table.confusion-table');
  await table.waitFor();
  const heads = await table.locator('thead th').allTextContents();
  assert(heads.slice(1).join(',') === 'setosa,versicolor,virginica', `the predicted classes: ${heads.join(' | ')}`);
  const cells = (await table.locator('tbody td').allTextContents()).map(Number);
  assert(cells.length === 9, `3 x 3 cells: ${cells.join(',')}`);
  const caption = await page.locator('.confusion-body p').first().textContent();
  const rows = Number((/(\d+) validation rows/.exec(caption) || [])[1]);
  assert(cells.reduce((a, b) => a + b, 0) === rows && rows === 30, `the cells add up to the validation rows: ${caption}`);
  await shot('06b-trial-confusion');
});

test('recording: a WISDM upload, its page with one window per class, and windows derived from the form', async () => {
  const gen = path.join(repo, 'tools', 'sensorgen.py');
  const file = path.join(tmp, 'walks.txt');
  const out = spawnSync('python3', [gen, '--subjects', '3', '--seconds', '20', '--seed', '4', '-o', file]);
  assert(out.status === 0, `the generator ran: ${out.stderr}`);
  await page.goto(`${base}/datasets`);
  await page.getByLabel('CSV file').setInputFiles(file);
  await page.getByLabel('Format').selectOption('wisdm');
  await page.getByLabel('Name (optional)').fill('walks');
  await page.getByRole('button', {name: 'Upload'}).click();
  await page.getByText(/Added “walks”/).waitFor();
  await page.getByRole('link', {name: 'walks', exact: true}).click();
  await page.getByRole('heading', {name: /walks/, level: 1}).waitFor();
  const facts = await page.locator('dl.meta').textContent();
  assert(/recording/.test(facts) && /Sampling rate\s*20/.test(facts) && /trailing comma/.test(facts), `the recording's facts: ${facts}`);
  await until(async () => (await page.locator('figure.window-preview').count()) === 6, 'one window per class');
  assert(await page.locator('figure.window-preview canvas.spectrogram').count() === 18, 'three spectrograms a window');
  assert(await page.locator('figure.window-preview canvas.axes').count() === 6, 'the raw axes of each window');
  await shot('12-recording');
  await page.getByLabel('Step (s)').fill('2.5');
  await page.getByRole('button', {name: 'Derive windows'}).click();
  await page.waitForURL(/\/datasets\/\d+$/);
  await until(async () => /windows/.test(await page.locator('dl.meta').textContent() || ''), 'the windows dataset page');
  const w = await page.locator('dl.meta').textContent();
  assert(/Source\s*walks/.test(w) && /spectrogram/.test(w), `the windows' facts: ${w}`);
  // a refused derivation names its field
  await page.getByRole('link', {name: /walks #/}).click();
  await page.getByLabel('Window (s)', {exact: true}).fill('0.01');
  expectErrorAnswers(422);
  await page.getByRole('button', {name: 'Derive windows'}).click();
  const msg = await page.locator('.field-error:not([hidden])').first().textContent();
  assert(/fewer than 2 samples/.test(msg), `the message beside the window: ${msg}`);
  await shot('13-windows');
});

test('sweeps: the list shows status, progress, best accuracy and elapsed time', async () => {
  await clickNav('Sweeps');
  await page.waitForURL(/\/sweeps$/);
  const row = page.locator(`table.sweeps tbody tr[data-id="${state.sweepId}"]`);
  await row.waitFor();
  const text = await row.textContent();
  assert(/completed/.test(text) && /100 %/.test(text) && /4 \/ 4/.test(text), `the sweep's row: ${text}`);
  assert(/\d+\.\d\d %/.test(text), 'the best validation accuracy is shown');
  await shot('07-sweeps');
});

test('sweep: the cancel button cancels a running sweep', async () => {
  await page.goto(`${base}/sweeps/new?dataset=${state.irisId}`);
  await page.getByLabel('Name (optional)').fill('to be canceled');
  await fillGrid({hidden: '3', neurons: '512, 1024', lr: '0.01, 0.02', iterations: '5000', batch: '1'});
  await page.getByRole('button', {name: 'Start sweep'}).click();
  await page.waitForURL(/\/sweeps\/\d+$/);
  state.cancelId = Number(/\/sweeps\/(\d+)$/.exec(page.url())[1]);
  await until(async () => (await sweepStatus()) === 'running' && (await chartPoints()) > 0, 'the sweep to be running', 60000);
  await page.getByRole('button', {name: 'Cancel sweep'}).click();
  await until(async () => (await sweepStatus()) === 'canceled', 'the sweep to be canceled', 30000);
  await until(async () => {
    const s = await page.locator('table.leaderboard tbody td .status').allTextContents();
    return s.length === 4 && s.every((t) => /canceled|completed/.test(t));
  }, 'every trial to have stopped', 30000);
  await shot('08-sweep-canceled');
  const api = await page.request.get(`${base}/api/v1/sweeps/${state.cancelId}`);
  assert((await api.json()).status === 'canceled', 'the API agrees that it is canceled');
});

test('accessibility: inputs are labelled and the views are keyboard reachable', async () => {
  for (const p of ['/datasets', '/sweeps/new', `/sweeps/${state.sweepId}`, `/trials/${state.bestTrial}`, '/sweeps']) {
    await page.goto(base + p);
    await page.locator('main h1').first().waitFor();
    await page.waitForTimeout(300);
    const unlabelled = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea, button'))
      .filter((el) => el.offsetParent !== null || el.type === 'file')
      .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
        (el.tagName === 'BUTTON' && el.textContent.trim())))
      .map((el) => el.outerHTML.slice(0, 80)));
    assert(!unlabelled.length, `${p}: unlabelled controls: ${unlabelled.join(', ')}`);
  }
  // From the top of the Sweeps page, Tab reaches the skip link, then the navigation.
  await page.goto(`${base}/sweeps`);
  await page.locator('main h1').waitFor();
  await page.locator('body').evaluate(() => document.activeElement && document.activeElement.blur());
  const visited = [];
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    visited.push(await page.evaluate(() => (document.activeElement.textContent || document.activeElement.getAttribute('aria-label') || '').trim()));
  }
  for (const want of ['Skip to content', 'Datasets', 'New sweep']) {
    assert(visited.some((v) => v.includes(want)), `Tab reaches "${want}" (visited: ${visited.join(' | ')})`);
  }
  // Keyboard navigation works through the router: Enter on a nav link.
  await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Datasets', exact: true}).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/datasets$/);
});

test('unknown dashboard paths answer the app, which says so', async () => {
  await page.goto(`${base}/no/such/page`);
  await page.getByRole('heading', {name: 'Page not found'}).waitFor();
  expectErrorAnswers(404, 2); // the view asks the API, which answers 404: shown, not an error
  await page.goto(`${base}/sweeps/999999`);
  await page.getByRole('heading', {name: 'No such sweep'}).waitFor();
});

// ---- a server with an API token: sign in, use every page, sign out ------------------------------------
const signInDialog = () => page.getByRole('dialog', {name: 'Sign in'});
const tokenLog = path.join(artifacts, 'server-token.log');

test('sign-in: a server with a token asks for it, refuses a wrong one, and signs in', async () => {
  tokenServer = await startServer({data: path.join(tmp, 'data-token'), logFile: tokenLog,
    env: {...process.env, MLPTUNE_TOKEN: TOKEN}});
  state.base2 = tokenServer.url;
  console.log(`# token server ${state.base2} (log ${tokenLog})`);
  expectErrorAnswers(401, 1000); // every call before signing in is a 401, shown as the form
  await page.goto(`${state.base2}/datasets`);
  await signInDialog().waitFor();
  await shot('09-sign-in');
  await page.getByLabel('API token').fill('not-the-token');
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByText('That is not this server\'s API token.').waitFor();
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await signInDialog().waitFor({state: 'detached'});
  await page.getByRole('heading', {name: 'Datasets', level: 1}).waitFor();
  await page.getByRole('button', {name: 'Sign out'}).waitFor();
  const port2 = new URL(state.base2).port;
  const cookies = (await context.cookies(state.base2)).filter((c) => c.name === 'mlptune_session');
  assert(cookies.length === 1, `one session cookie (${cookies.length})`);
  const c = cookies[0];
  assert(c.httpOnly && c.sameSite === 'Strict' && !c.secure && c.path === '/' && c.expires > Date.now() / 1000 + 3600,
    `the cookie's flags: ${JSON.stringify({...c, value: '…'})} (port ${port2})`);
  state.session = c.value;
  assert(!(await page.evaluate(() => document.cookie)).includes('mlptune_session'), 'scripts cannot read the cookie');
});

test('signed in: upload, new sweep, live curves, trial, sweeps list; other origins cannot act', async () => {
  const b2 = state.base2;
  await page.getByLabel('CSV file').setInputFiles(path.join(dataFiles, 'iris.csv'));
  await page.getByLabel('Name (optional)').fill('iris');
  await page.getByRole('button', {name: 'Upload'}).click();
  const row = page.locator('table.datasets tbody tr', {hasText: 'iris'});
  await row.waitFor();
  const irisId = Number(await row.getAttribute('data-id'));
  await clickNav('New sweep');
  await page.getByLabel('Dataset', {exact: true}).selectOption(String(irisId));
  await fillGrid({hidden: '2', neurons: '256, 512', lr: '0.01', iterations: '150', batch: '2'});
  await page.getByRole('button', {name: 'Start sweep'}).click();
  await page.waitForURL(/\/sweeps\/\d+$/);
  const sweepId = Number(/\/sweeps\/(\d+)$/.exec(page.url())[1]);
  state.sweep2 = sweepId;
  // A page of another origin (the first server: same site, another port, so even the SameSite=Strict
  // cookie goes along) tries to cancel the sweep and upload a dataset through this browser.
  const evil = await context.newPage();
  evil.on('console', () => {}); // its refused requests are expected
  await evil.goto(`${base}/sweeps`);
  const tried = await evil.evaluate(async ({b2, sweepId}) => {
    const out = [];
    for (const init of [{method: 'POST'}, {method: 'POST', body: 'x', headers: {'Content-Type': 'text/plain'}}]) {
      try {
        await fetch(`${b2}/api/v1/sweeps/${sweepId}/cancel`, {...init, mode: 'no-cors', credentials: 'include'});
        out.push('sent');
      } catch (e) {
        out.push(String(e));
      }
    }
    const fd = new FormData();
    fd.append('file', new File(['x1,label\n1,a\n2,b\n'], 'evil.csv', {type: 'text/csv'}));
    await fetch(`${b2}/api/v1/datasets`, {method: 'POST', body: fd, mode: 'no-cors', credentials: 'include'}).catch(() => {});
    return out;
  }, {b2, sweepId});
  await evil.close();
  const log = () => fs.readFileSync(tokenLog, 'utf8');
  await until(async () => (log().match(new RegExp(`POST /api/v1/sweeps/${sweepId}/cancel 403`, 'g')) || []).length === 2 &&
    /POST \/api\/v1\/datasets 403/.test(log()), `the cross-origin requests to be refused (sent: ${tried})`, 10000);
  // Live curves over the event stream, which carries the cookie.
  await page.locator('#curves canvas').first().waitFor();
  const seen = [];
  let grew = false;
  const end = Date.now() + 60000;
  while (!grew && Date.now() < end) {
    const status = await sweepStatus();
    const pts = await chartPoints();
    if (['completed', 'failed', 'canceled'].includes(status)) break;
    if (seen.length && pts > seen[seen.length - 1] && seen[seen.length - 1] > 0) grew = true;
    if (pts > 0) seen.push(pts);
    await page.waitForTimeout(100);
  }
  assert(grew, `the curves grew while the sweep ran (seen: ${seen.join(', ') || 'none'})`);
  await shot('10-token-sweep-live');
  await until(async () => (await sweepStatus()) === 'completed', 'the sweep to complete (not canceled)', 120000, 250);
  await until(async () => (await chartPoints()) === 2 * 150, 'every point on the chart', 20000);
  const datasets = await page.request.get(`${b2}/api/v1/datasets`);
  assert((await datasets.json()).items.length === 1, 'the cross-origin upload added nothing');
  // The trial page, and the model download with the cookie.
  const best = page.locator('table.leaderboard tr.best th a');
  await until(async () => (await best.count()) === 1, 'the best trial');
  state.trial2 = Number((await best.getAttribute('href')).split('/').pop());
  await best.click();
  await page.locator('#trial-accuracy canvas').waitFor();
  await until(async () => (await chartPoints('#trial-accuracy')) === 2 * 150, 'the trial curves', 20000);
  const model = await page.request.get(`${b2}/api/v1/trials/${state.trial2}/model`);
  assert(model.status() === 200, `the model downloads with the cookie (HTTP ${model.status()})`);
  await clickNav('Sweeps');
  await page.locator(`table.sweeps tbody tr[data-id="${sweepId}"]`).waitFor();
  await clickNav('Datasets');
  await page.locator('table.datasets tbody tr', {hasText: 'iris'}).waitFor();
}, 180000);

test('sign out: the session ends on the server and every page asks for the token again', async () => {
  const b2 = state.base2;
  await page.getByRole('button', {name: 'Sign out'}).click();
  await signInDialog().waitFor();
  assert(await page.getByRole('button', {name: 'Sign out'}).isHidden(), 'no Sign out button once signed out');
  const cookies = (await context.cookies(b2)).filter((c) => c.name === 'mlptune_session');
  assert(!cookies.length, 'the cookie is cleared');
  const old = await page.request.get(`${b2}/api/v1/datasets`, {headers: {Cookie: `mlptune_session=${state.session}`}});
  assert(old.status() === 401, `the old session is over on the server (HTTP ${old.status()})`);
  for (const p of ['/datasets', '/sweeps', '/sweeps/new', `/sweeps/${state.sweep2}`, `/trials/${state.trial2}`]) {
    await page.goto(b2 + p);
    await signInDialog().waitFor();
    assert(await page.locator('main table').count() === 0, `${p}: no data shown before signing in`);
  }
  await shot('11-signed-out');
  // Signing in again picks up where the page was.
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await signInDialog().waitFor({state: 'detached'});
  await until(async () => (await chartPoints('#trial-accuracy')) === 2 * 150, 'the trial page after signing in again', 20000);
  await stopServer(tokenServer);
});

// ---- two Open MPI ranks: where each trial ran, from a real `serve --mpi` ----------------------------------
// Why `serve --mpi` cannot run here, or null.
function mpiMissing() {
  const onPath = (name) => (process.env.PATH || '').split(':').some((d) => d && fs.existsSync(path.join(d, name)));
  if (!onPath('mpirun')) return 'no mpirun';
  const help = spawnSync(bin, ['serve', '--help'], {encoding: 'utf8'});
  if (!`${help.stdout}${help.stderr}`.includes('--mpi')) return 'this mlptune has no serve --mpi';
  return null;
}

test('two ranks: the leaderboard and the trial page show the rank, host and workers of each trial', async () => {
  const why = mpiMissing();
  if (why) {
    console.log(`# skipped: ${why}`);
    return;
  }
  const mpiLog = path.join(artifacts, 'server-mpi.log');
  const launcher = ['mpirun', '-np', '2', '--oversubscribe', ...(process.getuid() === 0 ? ['--allow-run-as-root'] : []),
    '--mca', 'btl', 'self,tcp'];
  try {
    mpiServer = await startServer({data: path.join(tmp, 'data-mpi'), logFile: mpiLog, launcher, workers: 1, extra: ['--mpi']});
  } catch (e) {
    if (/without MPI/.test(fs.readFileSync(mpiLog, 'utf8'))) {
      console.log('# skipped: this mlptune was built without MPI');
      return;
    }
    throw e;
  }
  const b3 = mpiServer.url;
  console.log(`# mpi server ${b3} (log ${mpiLog})`);
  const up = await page.request.post(`${b3}/api/v1/datasets`, {multipart: {name: 'iris',
    file: {name: 'iris.csv', mimeType: 'text/csv', buffer: fs.readFileSync(path.join(dataFiles, 'iris.csv'))}}});
  assert(up.status() === 201, `upload to the MPI server: HTTP ${up.status()} ${await up.text()}`);
  const ds = await up.json();
  const created = await page.request.post(`${b3}/api/v1/sweeps`, {data: {dataset_id: ds.id, name: 'two ranks',
    grid: {hidden_layers: [1, 2], neurons: [16, 32], learning_rate: [0.05], iterations: [40]}, training: {batch_size: 4}}});
  assert(created.status() === 201, `sweep on the MPI server: HTTP ${created.status()} ${await created.text()}`);
  const sw = await created.json();
  await until(async () => (await (await page.request.get(`${b3}/api/v1/sweeps/${sw.id}`)).json()).status === 'completed',
    'the two-rank sweep to complete', 120000, 250);
  const trials = (await (await page.request.get(`${b3}/api/v1/sweeps/${sw.id}/trials`)).json()).items;
  const ranks = new Set(trials.map((t) => t.placement && t.placement.rank));
  assert(ranks.has(0) && ranks.has(1), `trials on both ranks: ${JSON.stringify(trials.map((t) => t.placement))}`);
  await page.goto(`${b3}/sweeps/${sw.id}`);
  await until(async () => (await leaderboardRows()) === 4, 'the leaderboard rows');
  await page.locator('table.leaderboard thead th[data-col="placement"]').waitFor();
  const where = await page.locator('table.leaderboard tbody tr td:last-child').allTextContents();
  for (const r of [0, 1]) {
    assert(where.includes(`rank ${r} · ${os.hostname()} · 1 worker`), `a trial on rank ${r}: ${where.join(' | ')}`);
  }
  await shot('12-sweep-two-ranks-mpi');
  const remote = trials.find((t) => t.placement.rank === 1);
  await page.goto(`${b3}/trials/${remote.id}`);
  await page.locator('#trial-accuracy canvas').waitFor();
  await until(async () => (await page.locator('dl.meta').textContent()).includes(`Ran onrank 1 · ${os.hostname()} · 1 worker`),
    'the trial page of a trial on rank 1');
  await stopServer(mpiServer);
}, 180000);

test('no console errors on any view, and no request beyond the server', async () => {
  assert(!consoleErrors.length, `console errors:\n  ${consoleErrors.join('\n  ')}`);
  assert(!foreignRequests.length, `requests to other origins: ${foreignRequests.join(', ')}`);
});

// ---- run ---------------------------------------------------------------------------------------------
let passed = 0;
let failed = 0;
for (const t of tests) {
  const t0 = Date.now();
  let timer;
  try {
    await Promise.race([
      t.fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs / 1000} s`)), t.timeoutMs);
      }),
    ]);
    passed += 1;
    console.log(`ok - ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL - ${t.name}: ${e && e.message ? e.message : e}`);
    await shot(`fail-${String(passed + failed).padStart(2, '0')}`).catch(() => {});
  } finally {
    clearTimeout(timer);
  }
}
clearTimeout(watchdog);
await cleanup();
console.log(`# artifacts in ${artifacts}: ${shots.map((s) => path.basename(s)).join(', ')}`);
finish(passed, failed);
