"""Crash test: kill -9 the real `mlptune serve` at many points, restart it on the same data dir,
and check that nothing committed was lost and nothing half-done is left.

Kill points, each hit several times with seeded delays (the seed and every kill point are
printed, so a failure can be replayed with MLPT_CRASH_SEED):
  upload_mid_csv  / upload_mid_gz   part-way through streaming a large CSV (plain, multipart /
                                    gzip'd, raw text/csv body)
  upload_end_csv  / upload_end_gz   after the last byte: 0 to 1.5 times what an uninterrupted
                                    upload takes to answer (parse end, matrix write, insert)
  sweep_burst                       during a burst of concurrent sweep creations
  training                          while sweeps train (metric rows commit every iteration)
  checkpoint                        SIGTERM mid-training (trials checkpoint as they stop),
                                    restart, then kill -9 while they resume; with
                                    --checkpoint-every 1 when serve has the flag

After every restart:
  - PRAGMA integrity_check is "ok" and foreign_key_check is empty (read-only connection);
  - no dataset row is not 'ready'; every dataset the API lists has the rows and features that
    were uploaded; every upload answered 201 is listed;
  - no orphan files: the data dir holds only the database (+ WAL, SHM), the server log, an empty
    uploads/, in datasets/ exactly the files named by dataset rows (each of which exists), and
    in quarantine/<time>/<folder>/ only whole matrices, models and checkpoints no row names
    (moved there at a start, never deleted);
  - every sweep (also those whose 201 was lost to the kill) ends 'completed' within a bounded
    wait; every sweep answered 201 exists;
  - every trial is completed with exactly `iterations` history rows, numbered 1..iterations, and
    its history equals (seconds aside) that of every other trial with the same dataset and
    parameters, including an uninterrupted reference run.
At the end a graceful stop exits 0 and the server log holds no sanitizer report.

test_seen_rows_stay (issue 11, "what a client saw stays"): small sweeps train while a reader
polls their histories and an SSE stream per sweep follows their iteration events; the server is
killed at random moments MLPT_SEEN_KILLS times (default 22; 8 sanitized), restarted with
checkpoints every 3 iterations or with the defaults (which leave short trials without one).
After each kill, in the database: no checkpoint covers more than the trial's rows and
iterations_done is the last row. After each restart and at the end: every row a client had read
is still there with the same figures and seconds; a stream never sends one iteration twice nor
contradicts history; every trial ends completed with the reference run's history.

Usage: test_crash.py MLPTUNE_BINARY TEST_DATA_DIR [--sanitized]
Environment:
  MLPT_CRASH_ROUNDS     rounds of each kind (default 5; 2 with --sanitized or
                        MLPT_CRASH_SANITIZED=1, which the sanitizer build sets)
  MLPT_CRASH_SEED       the random seed (default: from the clock; always printed)
  MLPT_CRASH_UPLOAD_MB  size of the large CSV (default 24; 12 sanitized)
  MLPT_SEEN_KILLS       kills of test_seen_rows_stay (default 22; 8 sanitized)
  MLPT_CRASH_TESTS      comma-separated test names to run (default: all)
"""
import gzip
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time

from crash_clients import FIGURES, Seen, check_checkpoints, history_poll, sse_follow
from harness import BIN, Server, read, run

SANITIZED = "--sanitized" in sys.argv[3:] or os.environ.get("MLPT_CRASH_SANITIZED") == "1"
ROUNDS = int(os.environ.get("MLPT_CRASH_ROUNDS", "2" if SANITIZED else "5"))
SEED = int(os.environ.get("MLPT_CRASH_SEED", str(int(time.time() * 1000) % 1000000)))
UPLOAD_MB = float(os.environ.get("MLPT_CRASH_UPLOAD_MB", "12" if SANITIZED else "24"))
SWEEP_WAIT = 240 if SANITIZED else 90  # seconds for every sweep to end after a restart
SEEN_KILLS = int(os.environ.get("MLPT_SEEN_KILLS", "8" if SANITIZED else "22"))

# Trains for a second or two on 2 workers: kills land in the middle of it. Two jobs of two
# trials each (the shorter trial follows the longer one's shared prefix).
TRAIN_GRID = {"layers": [[512, 512], [384, 384]], "learning_rate": [0.02],
              "iterations": [12, 30]}
# Small and quick: a burst of these keeps the loop busy with creations, not training.
BURST_GRID = {"layers": [[32], [48]], "learning_rate": [0.05, 0.1], "iterations": [3, 5]}
TRAINING = {"activation": "tanh", "batch_size": 16, "validation_split": 0.2, "seed": 11}
DB_FILES = {"mlptune.db", "mlptune.db-wal", "mlptune.db-shm"}
FEATURES = 16


def log(msg):
    print(msg, flush=True)


def big_csv(mb, seed):
    """A CSV of about mb megabytes: FEATURES numeric columns and a 5-class label; returns
    (bytes, rows). Rows are drawn from 4096 random lines, so gzip keeps it at about half."""
    rng = random.Random(seed)
    lines = [(",".join("%.4f" % (rng.random() * 10 - 5) for _ in range(FEATURES))
              + ",c%d\n" % (i % 5)).encode() for i in range(4096)]
    avg = sum(map(len, lines)) / len(lines)
    n = max(int(mb * 1e6 / avg), 5)
    head = (",".join("f%d" % i for i in range(FEATURES)) + ",label\n").encode()
    idx = [i % 5 for i in range(5)] + [rng.randrange(4096) for _ in range(n - 5)]
    return head + b"".join(lines[i] for i in idx), n


class Crash:
    """The state the checks compare against: what was acknowledged, what was uploaded."""

    def __init__(self, srv, rng):
        self.srv = srv
        self.rng = rng
        self.datasets = {}      # name -> (rows, features) of every upload attempted
        self.acked_datasets = {}  # id -> name, answered 201 and not deleted since
        self.acked_sweeps = set()
        self.api_checked = 0  # sweeps up to this id had their history read through the API
        self.train_ds = None
        self.burst_ds = None
        self.big = None  # (csv bytes, gzip bytes, rows)
        self.has_checkpoints = False
        self.n_kills = 0
        self.train_seconds = 1.0  # an uninterrupted training sweep, measured at set-up
        self.finish_seconds = {}  # gz -> last byte to 201 of an uninterrupted large upload

    # ---- the server ------------------------------------------------------------------------
    def kill_restart(self, what):
        self.srv.kill9()
        self.n_kills += 1
        self.srv.restart()
        self.check(what)

    def use_flags(self, extra):
        """Restarts the server (gracefully) when it runs with other flags."""
        if self.srv.extra != extra:
            self.srv.terminate()
            self.srv.extra = list(extra)
            self.srv.restart()

    # ---- the checks ------------------------------------------------------------------------
    def db(self):
        path = os.path.join(self.srv.data_dir, "mlptune.db")
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)

    def check_db(self, what):
        con = self.db()
        try:
            res = con.execute("PRAGMA integrity_check").fetchall()
            assert res == [("ok",)], "%s: integrity_check: %r" % (what, res)
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
            assert fk == [], "%s: foreign_key_check: %r" % (what, fk)
            bad = con.execute("SELECT id, name, status FROM datasets "
                              "WHERE status <> 'ready'").fetchall()
            assert not bad, "%s: datasets not ready: %r" % (what, bad)
            return {r[0] for r in con.execute("SELECT storage_path FROM datasets")}
        finally:
            con.close()

    def check_files(self, what, paths):
        root = self.srv.data_dir
        orphans = []
        for dirpath, dirs, files in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            # quarantine/<time>/<folder>/ holds whole files no row named at a start (a kill
            # between a file's rename and its row's commit): moved there, never deleted.
            parts = rel_dir.split(os.sep)
            in_quarantine = len(parts) == 3 and parts[0] == "quarantine"
            for d in dirs:
                ok = ((rel_dir == "." and
                       d in ("datasets", "uploads", "models", "checkpoints", "quarantine")) or
                      (len(parts) == 1 and parts[0] == "quarantine") or
                      (len(parts) == 2 and parts[0] == "quarantine" and
                       d in ("datasets", "models", "checkpoints")))
                if not ok:
                    orphans.append(os.path.join(rel_dir, d) + "/")
            for f in files:
                rel = os.path.normpath(os.path.join(rel_dir, f))
                if rel in DB_FILES or rel == "server.log" or rel in paths:
                    continue
                if rel_dir in ("models", "checkpoints"):
                    continue  # they change while trials train: check_model_files, at the end
                if in_quarantine and parts[2] == "datasets" and f.endswith(".mlds") and \
                        "datasets/" + f not in paths:
                    continue
                if in_quarantine and parts[2] in ("models", "checkpoints") and \
                        f.startswith("trial-"):
                    continue
                orphans.append(rel)
        assert not orphans, "%s: orphan files in the data dir: %s" % (what, sorted(orphans))
        missing = [p for p in paths if not os.path.isfile(os.path.join(root, p))]
        assert not missing, "%s: datasets whose matrix file is missing: %s" % (what, missing)

    def check_model_files(self, what):
        """Once every sweep has ended: one model file per row naming one, nothing else (no
        checkpoint outlives its trial, no file a crash left unnamed survives the restart)."""
        con = self.db()
        try:
            named = {r[0] for r in con.execute(
                "SELECT path FROM trial_models WHERE path IS NOT NULL UNION ALL "
                "SELECT path FROM trial_checkpoints WHERE path IS NOT NULL")}
        finally:
            con.close()
        root = self.srv.data_dir
        found = {sub + "/" + f for sub in ("models", "checkpoints")
                 for f in (os.listdir(os.path.join(root, sub))
                           if os.path.isdir(os.path.join(root, sub)) else [])}
        assert found == named, "%s: model files %s, rows name %s" % (
            what, sorted(found - named), sorted(named - found))

    def list_all(self, path):
        items, cursor = [], None
        while True:
            q = "?limit=100" + ("&cursor=" + cursor if cursor else "")
            _, _, page = self.srv.json("GET", path + q, expect=200)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def check_datasets(self, what):
        listed = {d["id"]: d for d in self.list_all("/api/v1/datasets")}
        for d in listed.values():
            assert d["name"] in self.datasets, "%s: unknown dataset listed: %r" % (what, d)
            rows, features = self.datasets[d["name"]]
            assert (d["rows"], d["features"]) == (rows, features), \
                "%s: partial dataset listed: %s has %d x %d, uploaded %d x %d" % (
                    what, d["name"], d["rows"], d["features"], rows, features)
        for i, name in self.acked_datasets.items():
            assert i in listed, "%s: dataset %d (%s) was answered 201 but is gone" % (
                what, i, name)
        return listed

    def wait_sweeps(self, what):
        deadline = time.time() + SWEEP_WAIT
        while True:
            sweeps = self.list_all("/api/v1/sweeps")
            ids = {s["id"] for s in sweeps}
            lost = self.acked_sweeps - ids
            assert not lost, "%s: sweeps answered 201 but gone: %s" % (what, sorted(lost))
            open_ = [s for s in sweeps if s["status"] in ("queued", "running")]
            if not open_:
                break
            assert time.time() < deadline, "%s: sweeps still open after %d s: %s" % (
                what, SWEEP_WAIT, [(s["id"], s["status"], s["trials"]) for s in open_])
            time.sleep(0.1)
        bad = [(s["id"], s["status"], s.get("error")) for s in sweeps if s["status"] != "completed"]
        assert not bad, "%s: sweeps that did not complete: %s" % (what, bad)
        for s in sweeps:
            assert s["trials"]["completed"] == s["trials_total"] and s["progress"] == 1.0, \
                "%s: completed sweep with other counts: %r" % (what, s)
            if s["id"] <= self.api_checked:
                continue
            # What clients read: the sweep's history through the API, new sweeps only.
            _, _, h = self.srv.json("GET", "/api/v1/sweeps/%d/history" % s["id"], expect=200)
            for t in h["trials"]:
                its = [p["iteration"] for p in t["history"]]
                n = t["params"]["iterations"]
                assert t["status"] == "completed" and its == list(range(1, n + 1)), \
                    "%s: sweep %d trial %d through the API: %s, iterations %s, expected 1..%d" \
                    % (what, s["id"], t["trial_id"], t["status"], its[:50], n)
            self.api_checked = max(self.api_checked, s["id"])

    def check_histories(self, what):
        con = self.db()
        try:
            trials = con.execute(
                "SELECT t.id, t.sweep_id, t.status, t.params, t.iterations_done, d.sha256 "
                "FROM trials t JOIN sweeps s ON s.id = t.sweep_id "
                "JOIN datasets d ON d.id = s.dataset_id ORDER BY t.id").fetchall()
            rows = {}
            for r in con.execute("SELECT trial_id, iteration, train_loss, train_accuracy, "
                                 "val_loss, val_accuracy FROM trial_metrics "
                                 "ORDER BY trial_id, iteration"):
                rows.setdefault(r[0], []).append(r[1:])
        finally:
            con.close()
        by_key = {}
        for tid, sweep, status, params, done, sha in trials:
            n = json.loads(params)["iterations"]
            hist = rows.get(tid, [])
            its = [h[0] for h in hist]
            assert status == "completed", "%s: trial %d (sweep %d) is %s" % (
                what, tid, sweep, status)
            assert its == list(range(1, n + 1)), \
                "%s: trial %d (sweep %d): history iterations %s, expected 1..%d" % (
                    what, tid, sweep, its[:50], n)
            assert done == n, "%s: trial %d: iterations_done %d, expected %d" % (
                what, tid, done, n)
            key = (sha, params)
            if key in by_key:
                other, ohist = by_key[key]
                for a, b in zip(hist, ohist):
                    assert a == b, ("%s: trial %d and trial %d (same data and parameters) "
                                    "differ at iteration %d: %r vs %r" % (
                                        what, tid, other, a[0], a[1:], b[1:]))
            else:
                by_key[key] = (tid, hist)
        return len(trials)

    def check(self, what):
        paths = self.check_db(what)
        self.check_files(what, paths)
        self.check_datasets(what)
        self.wait_sweeps(what)
        n = self.check_histories(what)
        self.check_db(what + " (after the sweeps ended)")
        self.check_model_files(what + " (after the sweeps ended)")
        log("    checked: integrity ok, %d datasets, %d trials complete and contiguous, "
            "no orphans" % (len(paths), n))

    # ---- set-up ----------------------------------------------------------------------------
    def setup(self):
        srv = self.srv
        _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        self.datasets["digits"] = (ds["rows"], ds["features"])
        self.acked_datasets[ds["id"]] = "digits"
        self.train_ds = self.burst_ds = ds["id"]
        # Reference runs, uninterrupted: every later trial with the same parameters must
        # produce the same history.
        for grid in (TRAIN_GRID, BURST_GRID):
            t0 = time.time()
            sw = self.create_sweep(grid, self.train_ds)
            srv.wait_sweep(sw, timeout=SWEEP_WAIT)
            if grid is TRAIN_GRID:
                self.train_seconds = time.time() - t0
        log("reference training sweep: %.2f s" % self.train_seconds)
        t0 = time.time()
        csv, rows = big_csv(UPLOAD_MB, SEED)
        self.big = (csv, gzip.compress(csv, 1), rows)
        log("large CSV: %.1f MB, gzip'd %.1f MB, %d rows x %d features (%.1f s to make)"
            % (len(csv) / 1e6, len(self.big[1]) / 1e6, rows, FEATURES, time.time() - t0))
        for gz in (False, True):
            self.finish_seconds[gz] = self.upload_round("set-up", gz, None)
        log("large upload, last byte to 201: csv %.0f ms, gzip %.0f ms"
            % (self.finish_seconds[False] * 1000, self.finish_seconds[True] * 1000))
        help_text = subprocess.run([BIN, "serve", "--help"], capture_output=True,
                                   text=True).stdout
        self.has_checkpoints = "--checkpoint-every" in help_text
        if not self.has_checkpoints:
            log("NOTE: `mlptune serve --help` has no --checkpoint-every: the checkpoint rounds "
                "only have the checkpoints a graceful stop writes")
        self.check("set-up")

    def create_sweep(self, grid, dataset_id):
        _, _, sw = self.srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": dataset_id, "grid": grid, "training": TRAINING}, expect=201)
        self.acked_sweeps.add(sw["id"])
        return sw["id"]

    # ---- rounds ----------------------------------------------------------------------------
    def upload_round(self, label, gz, at_end):
        """Streams the large CSV (multipart for plain, raw text/csv for gzip) and kills the
        server part-way through the body (at_end False), or 0 to 1.5 times the time an
        uninterrupted upload takes to answer after its last byte (at_end True): while the last
        part is parsed, the matrix written, the dataset recorded, or just after. With at_end
        None nothing is killed: returns the seconds from the last byte to the 201."""
        csv, gzbytes, rows = self.big
        name = "big-" + "".join(c if c.isalnum() else "-" for c in label)
        self.datasets[name] = (rows, FEATURES)
        payload = gzbytes if gz else csv
        if gz:
            parts = [payload]
            path = "/api/v1/datasets?name=" + name
            ctype = "text/csv"
        else:
            boundary = "crash-test-boundary-5b1e"
            parts = [("--%s\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n%s\r\n"
                      "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                      "filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n"
                      % (boundary, name, boundary)).encode(),
                     payload, ("\r\n--%s--\r\n" % boundary).encode()]
            path = "/api/v1/datasets"
            ctype = "multipart/form-data; boundary=" + boundary
        total = sum(map(len, parts))
        kind = "gzip" if gz else "csv"
        if at_end is None:
            stop_at, delay = total, None
        elif at_end:
            stop_at = total
            delay = self.rng.uniform(0, 1.5) * self.finish_seconds[gz]
            log("    kill %.0f ms after the last byte of %.1f MB (%s)"
                % (delay * 1000, total / 1e6, kind))
        else:
            stop_at = int(total * self.rng.uniform(0.02, 0.98))
            delay = self.rng.uniform(0, 0.03)
            log("    kill %.0f ms after byte %d of %d (%.0f%%, %s)"
                % (delay * 1000, stop_at, total, 100.0 * stop_at / total, kind))
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=60)
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", ctype)
        conn.putheader("Content-Length", str(total))
        conn.endheaders()
        sent, chunk = 0, 256 << 10
        try:
            for p in parts:
                view = memoryview(p)
                off = 0
                while off < len(view) and sent < stop_at:
                    n = min(chunk, len(view) - off, stop_at - sent)
                    conn.send(view[off:off + n])
                    off += n
                    sent += n
                    if delay is not None:
                        time.sleep(0.002)  # a client that takes its time: kills land mid-body
        except OSError as e:
            raise AssertionError("%s: the server dropped the upload at byte %d: %s"
                                 % (label, sent, e))
        last_byte = time.time()
        if delay is None:
            resp = conn.getresponse()
            data = resp.read()
            took = time.time() - last_byte
            conn.close()
            assert resp.status == 201, "%s: upload answered %d: %s" % (label, resp.status,
                                                                       data[:300])
            self.srv.json("DELETE", "/api/v1/datasets/%d" % json.loads(data)["id"], expect=204)
            return took
        time.sleep(delay)
        self.srv.kill9()
        self.n_kills += 1
        answer = None
        try:
            resp = conn.getresponse()
            answer = (resp.status, resp.read())
        except (OSError, http.client.HTTPException):
            pass
        conn.close()
        if answer:
            log("    the server answered %d before it died" % answer[0])
            assert answer[0] == 201, "%s: upload answered %d: %s" % (label, answer[0],
                                                                     answer[1][:300])
            self.acked_datasets[json.loads(answer[1])["id"]] = name
        self.srv.restart()
        self.check(label)
        # Keep the data dir small: drop the large dataset again if it made it.
        for d in self.list_all("/api/v1/datasets"):
            if d["name"] == name:
                self.srv.json("DELETE", "/api/v1/datasets/%d" % d["id"], expect=204)
                self.acked_datasets.pop(d["id"], None)
        return None

    def burst_round(self, label):
        n = 12
        delay = self.rng.uniform(0, 0.04)
        log("    kill %.0f ms into %d concurrent sweep creations" % (delay * 1000, n))
        go = threading.Barrier(n + 1)
        acked = []
        body = json.dumps({"dataset_id": self.burst_ds, "grid": BURST_GRID,
                           "training": TRAINING}).encode()

        def create():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
                conn.connect()
                go.wait()
                conn.request("POST", "/api/v1/sweeps", body,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status == 201:
                    acked.append(json.loads(data)["id"])
                elif resp.status != 503:
                    acked.append(AssertionError("HTTP %d: %s" % (resp.status, data[:300])))
                conn.close()
            except (OSError, http.client.HTTPException, threading.BrokenBarrierError):
                pass

        threads = [threading.Thread(target=create) for _ in range(n)]
        for t in threads:
            t.start()
        go.wait()
        time.sleep(delay)
        self.srv.kill9()
        self.n_kills += 1
        for t in threads:
            t.join()
        errors = [a for a in acked if isinstance(a, Exception)]
        assert not errors, "%s: %s" % (label, errors[0])
        self.acked_sweeps.update(acked)
        log("    %d of %d creations answered 201 before the kill" % (len(acked), n))
        self.srv.restart()
        self.check(label)

    def rows_committed(self, first_sweep):
        con = self.db()
        try:
            return con.execute("SELECT count(*) FROM trial_metrics m JOIN trials t ON "
                               "t.id = m.trial_id WHERE t.sweep_id >= ?",
                               (first_sweep,)).fetchone()[0]
        finally:
            con.close()

    def checkpoints_stored(self):
        """How many checkpoints the database holds, for the log ("no" before they exist)."""
        con = self.db()
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'trial_checkpoints'"
                               ).fetchone():
                return "no"
            return con.execute("SELECT count(*) FROM trial_checkpoints").fetchone()[0]
        finally:
            con.close()

    def training_round(self, label, checkpoints):
        """Kills while sweeps train. A checkpoint round first stops the server gracefully
        mid-training (running trials checkpoint as they stop), restarts it, and kills it while
        the trials resume from those checkpoints; with --checkpoint-every 1 (when serve has
        it) every iteration also writes one, so the kill lands in or next to a checkpoint."""
        every = checkpoints and self.has_checkpoints
        self.use_flags(["--checkpoint-every", "1", "--checkpoint-seconds", "0"] if every else [])
        sweeps = [self.create_sweep(TRAIN_GRID, self.train_ds)
                  for _ in range(1 + self.rng.randrange(2))]
        span = self.train_seconds * len(sweeps)  # on 2 workers they run one after the other
        if checkpoints:
            stop = self.rng.uniform(0.05, 0.5) * span
            log("    SIGTERM %.0f ms after creating %d training sweep(s)" % (
                stop * 1000, len(sweeps)))
            time.sleep(stop)
            code = self.srv.terminate()
            assert code == 0, "%s: graceful stop: exit status %d" % (label, code)
            log("    (%d history rows and %s checkpoints at the stop)"
                % (self.rows_committed(min(sweeps)), self.checkpoints_stored()))
            self.srv.restart()
            span *= 0.5
        delay = self.rng.uniform(0.02, 0.8) * span
        log("    kill %.0f ms after %s%s" % (
            delay * 1000, "the restart" if checkpoints else
            "creating %d training sweep(s)" % len(sweeps),
            " with --checkpoint-every 1" if every else ""))
        time.sleep(delay)
        log("    (about %d history rows committed when killed)" % self.rows_committed(min(sweeps)))
        self.kill_restart(label)
        self.use_flags([])


def test_crash_rounds():
    log("crash test: seed %d (MLPT_CRASH_SEED=%d replays it), %d rounds per kind%s"
        % (SEED, SEED, ROUNDS, ", sanitizer build" if SANITIZED else ""))
    rng = random.Random(SEED)
    srv = Server(workers=2)
    crash = Crash(srv, rng)
    t0 = time.time()
    try:
        crash.setup()
        kinds = ["upload_mid_csv", "upload_mid_gz", "upload_end_csv", "upload_end_gz",
                 "sweep_burst", "training", "checkpoint"]
        plan = [k for k in kinds for _ in range(ROUNDS)]
        rng.shuffle(plan)
        for i, kind in enumerate(plan):
            label = "round %d/%d %s" % (i + 1, len(plan), kind)
            log("%s (seed %d, %.1f s)" % (label, SEED, time.time() - t0))
            if kind.startswith("upload_"):
                crash.upload_round(label, kind.endswith("_gz"), "_end_" in kind)
            elif kind == "sweep_burst":
                crash.burst_round(label)
            else:
                crash.training_round(label, kind == "checkpoint")
        log("%d kills, %d rounds in %.1f s" % (crash.n_kills, len(plan), time.time() - t0))
        # After all that, a graceful stop still works and nothing was reported by a sanitizer.
        code = srv.terminate()
        assert code == 0, "graceful stop after the crashes: exit status %d" % code
        with open(srv.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            assert marker not in text, "server log: %s" % text[text.index(marker) - 200:][:3000]
    except BaseException:
        log("seed %d; server log tail:\n%s" % (SEED, srv.logs()))
        raise
    finally:
        srv.stop()


# ---- what a client saw stays ------------------------------------------------------------------

# About 0.7 s per sweep on 2 workers: two jobs, each with a follower on its shared prefix.
SEEN_GRID = {"layers": [[128], [96]], "learning_rate": [0.02], "iterations": [12, 36]}


def test_seen_rows_stay():
    rng = random.Random(SEED + 1)
    log("seen rows: seed %d, %d kills" % (SEED, SEEN_KILLS))
    ckpt = ["--checkpoint-every", "3", "--checkpoint-seconds", "0"]
    srv = Server(workers=2, extra=ckpt)
    seen = Seen()
    t0 = time.time()
    try:
        _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        body = {"dataset_id": ds["id"], "grid": SEEN_GRID, "training": TRAINING}
        _, _, ref = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        t1 = time.time()
        srv.wait_sweep(ref["id"], timeout=SWEEP_WAIT)
        span = time.time() - t1
        _, _, h = srv.json("GET", "/api/v1/sweeps/%d/history" % ref["id"], expect=200)
        reference = {json.dumps(t["params"], sort_keys=True):
                     [tuple(r[k] for k in FIGURES[:4]) for r in t["history"]]
                     for t in h["trials"]}
        log("    reference sweep: %.2f s" % span)
        sweeps, lagging = [], 0
        for k in range(SEEN_KILLS):
            open_ = [s for s in sweeps if srv.json("GET", "/api/v1/sweeps/%d" % s,
                                                   expect=200)[2]["status"] in ("queued", "running")]
            if not open_ or rng.random() < 0.3:
                sweeps.append(srv.json("POST", "/api/v1/sweeps", body, expect=201)[2]["id"])
            stop = threading.Event()
            threads = [threading.Thread(target=history_poll, args=(srv, sweeps, seen, stop))]
            threads += [threading.Thread(target=sse_follow, args=(srv.port, sw, seen, stop))
                        for sw in sweeps[-2:]]
            for t in threads:
                t.start()
            delay = rng.uniform(0.05, 1.0) * max(span, 0.4)
            time.sleep(delay)
            srv.kill9()
            stop.set()
            for t in threads:
                t.join()
            what = "kill %d/%d (%.0f ms in)" % (k + 1, SEEN_KILLS, delay * 1000)
            lagging += check_checkpoints(srv, what)
            srv.extra = ckpt if rng.random() < 0.6 else []
            srv.restart()
            n = seen.check(srv, what + ", after the restart")
            log("    %s: %d rows read so far (%d over SSE), all still served"
                % (what, n, seen.from_sse))
        for sw in sweeps:
            done = srv.wait_sweep(sw, timeout=SWEEP_WAIT)
            assert done["status"] == "completed", "sweep %d ended %s" % (sw, done["status"])
        n = seen.check(srv, "at the end")
        assert seen.from_sse > 0, "no row was read over SSE"
        for sw in sweeps:
            _, _, h = srv.json("GET", "/api/v1/sweeps/%d/history" % sw, expect=200)
            for t in h["trials"]:
                key = json.dumps(t["params"], sort_keys=True)
                got = [tuple(r[k] for k in FIGURES[:4]) for r in t["history"]]
                assert t["status"] == "completed" and got == reference[key], \
                    "sweep %d trial %d (%s): history differs from the reference run" % (
                        sw, t["trial_id"], t["status"])
                _, _, tr = srv.json("GET", "/api/v1/trials/%d" % t["trial_id"], expect=200)
                assert tr["iterations_done"] == len(got) == t["params"]["iterations"], tr
        log("    %d kills, %d sweeps, %d rows read (%d over SSE) kept; the kills left %d running "
            "trials with rows past their checkpoint; %.1f s" % (
                SEEN_KILLS, len(sweeps), n, seen.from_sse, lagging, time.time() - t0))
        code = srv.terminate()
        assert code == 0, "graceful stop: exit status %d" % code
        with open(srv.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
                       "does not reproduce"):
            assert marker not in text, "server log: %s" % text[text.index(marker) - 200:][:3000]
        assert "recomputed and checked" in text, "no trial recomputed stored rows"
    except BaseException:
        log("seed %d; server log tail:\n%s" % (SEED, srv.logs()))
        raise
    finally:
        srv.stop()


if __name__ == "__main__":
    ONLY = [n for n in os.environ.get("MLPT_CRASH_TESTS", "").split(",") if n]
    run([t for t in (test_crash_rounds, test_seen_rows_stay) if not ONLY or t.__name__ in ONLY])
