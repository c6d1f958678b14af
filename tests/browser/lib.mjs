// Shared pieces of the dashboard's browser tests: the real server on a temporary data dir,
// headless Chromium (playwright-core), polling, and a small runner that prints "ok - name" /
// "FAIL - name: why" and "N passed, M failed" last.
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';

export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** Polls fn until it returns something truthy (returned), or throws after timeoutMs. */
export async function until(fn, what, timeoutMs = 30000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts `mlptune serve --port 0`; resolves to {proc, url}. launcher: a command the server runs
 * under (mpirun for `serve --mpi`); extra: more serve flags.
 */
export function startServer({bin, webDir, data, logFile, workers = 2, env = process.env, launcher = [], extra = []}) {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, 'w');
    const argv = [...launcher, bin, 'serve', '--port', '0', '--data-dir', data, '--web-dir', webDir, '--workers', String(workers), ...extra];
    const proc = spawn(argv[0], argv.slice(1), {stdio: ['ignore', 'pipe', log], env});
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('the server printed no URL within 30 s'));
    }, 30000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening; see ${logFile}`));
    });
    const lines = readline.createInterface({input: proc.stdout});
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /(http:\/\/\S+?)\/?$/.exec(line.trim());
      if (!m) {
        proc.kill('SIGKILL');
        reject(new Error(`unexpected first line from the server: ${line}`));
        return;
      }
      proc.removeAllListeners('exit');
      resolve({proc, url: m[1]});
    });
    lines.on('line', () => {});
  });
}

export async function stopServer(s) {
  if (s && s.proc.exitCode === null) {
    const exited = new Promise((r) => s.proc.once('exit', r));
    s.proc.kill('SIGTERM');
    const t = setTimeout(() => s.proc.kill('SIGKILL'), 20000);
    await exited;
    clearTimeout(t);
  }
}

/** Headless Chromium with a fresh profile in profileDir. */
export async function launch(chromium, {executablePath, profileDir}) {
  return chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    viewport: {width: 1280, height: 900},
    acceptDownloads: true,
  });
}

/** Runs [{name, fn, timeoutMs}] in order; onFail(name) may take a screenshot. Returns {passed, failed}. */
export async function runTests(tests, onFail) {
  let passed = 0;
  let failed = 0;
  for (const t of tests) {
    const t0 = Date.now();
    let timer;
    try {
      await Promise.race([t.fn(), new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${t.timeoutMs / 1000} s`)), t.timeoutMs);
      })]);
      passed += 1;
      console.log(`ok - ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL - ${t.name}: ${e && e.message ? e.message : e}`);
      if (onFail) await onFail(t.name, passed + failed).catch(() => {});
    } finally {
      clearTimeout(timer);
    }
  }
  return {passed, failed};
}
