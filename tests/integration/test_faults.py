"""Resource faults: the real `mlptune serve` with tests/faults' LD_PRELOAD shim, which makes
writes to chosen files fail with ENOSPC while a control file exists (no root, no tmpfs).

- A full disk during an upload (its temporary copy, the dataset matrix, or the database row)
  answers 507 problem+json naming the part, and leaves nothing half-written: no dataset listed,
  no temporary copy, no matrix or .tmp file.
- A database that cannot be written while a sweep trains: /healthz answers 503 saying so and
  /metrics shows it; the scheduler keeps the rows in memory and retries once a second; when the
  disk frees up the rows land, /healthz is 200 again and every history is complete (0 lost rows).

Usage: test_faults.py MLPTUNE_BINARY TEST_DATA_DIR FAULT_SHIM_SO
MLPT_FAULTS_TRAIN_SECONDS (default 8) sizes the sweep that trains through the database fault.
"""
import gzip
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

from harness import Server, problem, read, run

SHIM = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
DB_FILES = "*/mlptune.db:*/mlptune.db-wal:*/mlptune.db-journal"
TRAIN_SECONDS = float(os.environ.get("MLPT_FAULTS_TRAIN_SECONDS", "8"))
# A net that takes some milliseconds per iteration on digits, so a sweep trains for seconds.
SLOW_NET = {"hidden_layers": [2], "neurons": [256]}
SLOW_TRAINING = {"batch_size": 8, "seed": 5}


class FaultServer(Server):
    """A server whose writes to files matching `paths` fail with ENOSPC while full(True)."""

    def __init__(self, paths, after=0, workers=2):
        assert SHIM and os.path.exists(SHIM), "usage: test_faults.py BINARY DATA_DIR SHIM_SO"
        self.fault_dir = tempfile.mkdtemp(prefix="mlpt-fault-")
        self.control = os.path.join(self.fault_dir, "disk-full")
        self.fault_log = os.path.join(self.fault_dir, "faults.log")
        asan = os.environ.get("ASAN_OPTIONS", "")
        self.fault_env = {
            "LD_PRELOAD": SHIM,
            "MLPT_FAULT_PATHS": paths,
            "MLPT_FAULT_AFTER": str(after),
            "MLPT_FAULT_CONTROL": self.control,
            "MLPT_FAULT_LOG": self.fault_log,
            # the ASan runtime wants to come first in the library list; the shim does
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0",
        }
        super().__init__(workers=workers, env=self.fault_env)

    def full(self, on):
        if on:
            open(self.control, "w").close()
        elif os.path.exists(self.control):
            os.unlink(self.control)

    def faults(self):
        """The shim's refusals so far: one line per failed call."""
        if not os.path.exists(self.fault_log):
            return []
        with open(self.fault_log) as f:
            return f.read().splitlines()

    def stop(self):
        # A graceful stop flushes what the scheduler kept: the disk must be free for that
        # (after a failed assertion it may still be "full").
        self.full(False)
        try:
            super().stop()
        except subprocess.TimeoutExpired:
            self.kill9()
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(self.fault_dir, ignore_errors=True)


def files_in(srv, sub):
    d = os.path.join(srv.data_dir, sub)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def datasets(srv):
    _, _, lst = srv.json("GET", "/api/v1/datasets?limit=100", expect=200)
    return lst["items"]


def assert_nothing_left(srv, n_datasets):
    """No temporary copy, no .tmp, one matrix per listed dataset and nothing else. A refused
    upload's files go when its request completes, just after the answer: allow a moment."""
    deadline = time.time() + 5
    while True:
        ups, mats, listed = files_in(srv, "uploads"), files_in(srv, "datasets"), datasets(srv)
        if (not ups and len(mats) == n_datasets) or time.time() > deadline:
            break
        time.sleep(0.01)
    assert ups == [], ups
    assert not [m for m in mats if ".tmp" in m], mats
    assert len(listed) == n_datasets, listed
    assert len(mats) == n_datasets, (mats, listed)


def disk_full(answer, field=None):
    """A 507 problem+json that says the disk is full (and names the part, when given)."""
    body = problem(answer, 507)
    text = (body.get("detail", "") + json.dumps(body.get("errors", []))).lower()
    assert "full" in text or "space" in text, body
    if field:
        assert field in [e.get("field") for e in body.get("errors", [])], body
    return body


def make_idx(n, side):
    """A small 3-class IDX pair (images, labels)."""
    images = bytes((i * 7 + j * 13) % 256 for i in range(n) for j in range(side * side))
    labels = bytes(i % 3 for i in range(n))
    return (bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + side.to_bytes(4, "big")
            + side.to_bytes(4, "big") + images,
            bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels)


# ---- a full disk during uploads ------------------------------------------------------------

def test_upload_copy_disk_full():
    """The upload's temporary copy cannot be written: 507 naming the part, nothing left."""
    srv = FaultServer("*/uploads/*")
    try:
        srv.full(True)
        disk_full(srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))}), "file")
        # a raw text/csv body, gzip'd
        disk_full(srv.request("POST", "/api/v1/datasets?name=wine&label_column=cultivar",
                              gzip.compress(read("wine.csv")), {"Content-Type": "text/csv"}))
        images, labels = make_idx(300, 8)
        disk_full(srv.upload({"name": "shapes"}, {"images": ("i.idx", images),
                                                  "labels": ("l.idx", labels)}), "images")
        assert len(srv.faults()) >= 3 and all(" write " in f for f in srv.faults()), srv.faults()
        assert_nothing_left(srv, 0)
        # the disk frees up: the same upload goes through
        srv.full(False)
        status, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        assert status == 201 and ds["rows"] == 150, (status, ds)
        assert_nothing_left(srv, 1)
    finally:
        srv.stop()


def test_upload_disk_fills_midway():
    """The disk fills part-way through the second file of an IDX pair (a short write, then
    ENOSPC), and part-way through a CSV: 507 naming the part, both copies removed."""
    images, labels = make_idx(3000, 2)
    budget = len(images) + len(labels) // 2
    srv = FaultServer("*/uploads/*", after=budget)
    try:
        srv.full(True)
        disk_full(srv.upload({"name": "shapes"}, {"images": ("i.idx", images),
                                                  "labels": ("l.idx", labels)}), "labels")
        assert_nothing_left(srv, 0)
        srv.full(False)
        srv.full(True)  # a new control file: a new budget
        csv = read("digits.csv")
        assert len(csv) > budget
        disk_full(srv.upload({"name": "digits"}, {"file": ("digits.csv", csv)}), "file")
        assert_nothing_left(srv, 0)
        assert len(srv.faults()) >= 2, srv.faults()
        srv.full(False)
        status, _, ds = srv.upload({"name": "shapes"}, {"images": ("i.idx", images),
                                                        "labels": ("l.idx", labels)})
        assert status == 201 and ds["rows"] == 3000, (status, ds)
        assert_nothing_left(srv, 1)
    finally:
        srv.stop()


def test_matrix_disk_full():
    """The upload parses but its matrix file cannot be written: 507, no .tmp, no dataset."""
    srv = FaultServer("*/datasets/*", after=1000)
    try:
        srv.full(True)
        body = disk_full(srv.upload({"name": "digits"},
                                    {"file": ("digits.csv", read("digits.csv"))}), "file")
        assert "cannot store the dataset" in body["detail"], body
        assert any(".mlds.tmp" in f for f in srv.faults()), srv.faults()
        assert_nothing_left(srv, 0)
        srv.full(False)
        status, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        assert status == 201 and ds["rows"] == 1797, (status, ds)
        assert_nothing_left(srv, 1)
    finally:
        srv.stop()


def test_database_full_refuses_changes():
    """The database cannot be written: a new dataset, a sweep and a delete each answer 507 and
    change nothing (the refused dataset's matrix is removed, the kept one's is not); reads go
    on; once the disk frees up all of it works."""
    srv = FaultServer(DB_FILES)
    try:
        _, _, iris = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        assert iris["rows"] == 150, iris
        sweep = {"dataset_id": iris["id"], "grid": {"hidden_layers": [1], "neurons": [8],
                                                    "learning_rate": [0.1], "iterations": [5]},
                 "training": {"batch_size": 16}}
        srv.full(True)
        wine = ({"name": "wine", "label_column": "cultivar"},
                {"file": ("wine.csv", read("wine.csv"))})
        disk_full(srv.upload(*wine))
        disk_full(srv.json("POST", "/api/v1/sweeps", sweep))
        disk_full(srv.request("DELETE", "/api/v1/datasets/%d" % iris["id"]))
        assert any("mlptune.db" in f for f in srv.faults()), srv.faults()
        # reads still work
        srv.json("GET", "/api/v1/datasets/%d" % iris["id"], expect=200)
        _, _, sweeps = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert sweeps["items"] == [], sweeps
        assert_nothing_left(srv, 1)
        srv.full(False)
        status, _, sw = srv.json("POST", "/api/v1/sweeps", sweep)
        assert status == 201, (status, sw)
        assert srv.wait_sweep(sw["id"])["status"] == "completed"
        status, _, body = srv.upload(*wine)
        assert status == 201, (status, body)
        assert_nothing_left(srv, 2)
    finally:
        srv.stop()


# ---- a database that cannot be written while a sweep trains --------------------------------

def health(srv):
    status, hdrs, data = srv.request("GET", "/healthz")
    assert hdrs.get("content-type", "").startswith("application/"), hdrs
    return status, hdrs, json.loads(data)


def gauges(srv):
    status, _, data = srv.request("GET", "/metrics")
    assert status == 200, status
    out = {}
    for line in data.decode().splitlines():
        m = re.match(r"^(mlptune_database_writable|mlptune_unsaved_reports) (\d+)$", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    assert set(out) == {"mlptune_database_writable", "mlptune_unsaved_reports"}, data[-600:]
    return out


def wait_for(what, fn, timeout=20):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def failed_saves(srv):
    """The scheduler's failed report transactions so far (one log line each)."""
    with open(srv.log_path, "rb") as f:
        return f.read().decode(errors="replace").count("store: cannot save")


def trials_of(srv, sweep_id):
    _, _, t = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=100" % sweep_id, expect=200)
    return t["items"]


def seconds_per_iteration(srv, dataset_id):
    """The median iteration time of the slow net here and now (two trials in parallel)."""
    _, _, sw = srv.json("POST", "/api/v1/sweeps", {
        "dataset_id": dataset_id, "grid": dict(SLOW_NET, learning_rate=[0.05, 0.1],
                                               iterations=[8]),
        "training": SLOW_TRAINING}, expect=201)
    srv.wait_sweep(sw["id"], timeout=120)
    secs = []
    for t in trials_of(srv, sw["id"]):
        _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
        secs += [r["seconds"] for r in h["history"]]
    return sorted(secs)[len(secs) // 2]


def test_database_unwritable_while_training():
    """The database and its WAL refuse writes while two trials train: /healthz 503 and the
    gauges say so, no row lands, the save is retried once a second (not at every report);
    then the disk frees up and every row lands: histories 1..iterations, integrity ok."""
    srv = FaultServer(DB_FILES)
    try:
        _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        iterations = int(min(10000, max(50, TRAIN_SECONDS / seconds_per_iteration(srv, ds["id"]))))
        status, _, body = health(srv)
        assert status == 200 and body["status"] == "ok", body
        assert gauges(srv) == {"mlptune_database_writable": 1, "mlptune_unsaved_reports": 0}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": dict(SLOW_NET, learning_rate=[0.05, 0.1],
                                                 iterations=[iterations]),
            "training": SLOW_TRAINING}, expect=201)
        wait_for("both trials to report", lambda: all(
            t["iterations_done"] > 0 for t in trials_of(srv, sw["id"])), timeout=60)

        # The disk fills up while both trials train.
        srv.full(True)
        t_full = time.time()
        status, hdrs, body = wait_for("/healthz to report the fault", lambda: (
            lambda h: h if h[0] == 503 else None)(health(srv)))
        assert body["status"] == "unavailable", body
        assert "cannot be written" in body["detail"], body
        assert "no space left" in body["detail"], body
        assert body["unsaved_reports"] > 0, body
        first_unsaved = body["unsaved_reports"]
        g = gauges(srv)
        assert g["mlptune_database_writable"] == 0 and g["mlptune_unsaved_reports"] > 0, g
        # reads go on meanwhile, and show only committed rows
        done_at_fault = {}
        for t in trials_of(srv, sw["id"]):
            _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
            its = [r["iteration"] for r in h["history"]]
            assert its == list(range(1, len(its) + 1)), its
            done_at_fault[t["id"]] = len(its)
        # the retry comes once a second: hold the fault for two or three of them
        time.sleep(2.0)
        wait_for("a second failed save", lambda: failed_saves(srv) >= 2)
        status, _, body = health(srv)
        assert status == 503 and body["unsaved_reports"] >= first_unsaved, body
        fault_seconds = time.time() - t_full
        for t in trials_of(srv, sw["id"]):
            _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
            assert len(h["history"]) == done_at_fault[t["id"]], "rows landed on a full disk"
        attempts = failed_saves(srv)
        assert 2 <= attempts <= fault_seconds + 2, (attempts, fault_seconds)
        assert len(srv.faults()) >= attempts, srv.faults()[-3:]

        # The disk frees up: the kept rows land and the service is healthy again.
        srv.full(False)
        wait_for("/healthz to recover", lambda: health(srv)[0] == 200, timeout=10)
        assert health(srv)[2]["status"] == "ok"
        done = srv.wait_sweep(sw["id"], timeout=180)
        assert done["status"] == "completed" and done["progress"] == 1, done
        assert gauges(srv) == {"mlptune_database_writable": 1, "mlptune_unsaved_reports": 0}
        trials = trials_of(srv, sw["id"])
        assert len(trials) == 2, trials
        for t in trials:
            assert t["status"] == "completed" and t["iterations_done"] == iterations, t
            _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
            its = [r["iteration"] for r in h["history"]]
            assert its == list(range(1, iterations + 1)), (t["id"], len(its), its[:3], its[-3:])
        ids = [t["id"] for t in trials]
        assert srv.terminate() == 0, srv.logs()[-2000:]
        db = sqlite3.connect(os.path.join(srv.data_dir, "mlptune.db"))
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for tid in ids:
                n, lo, hi = db.execute("SELECT COUNT(*), MIN(iteration), MAX(iteration) "
                                       "FROM trial_metrics WHERE trial_id = ?", (tid,)).fetchone()
                assert (n, lo, hi) == (iterations, 1, iterations), (tid, n, lo, hi)
        finally:
            db.close()
        print("  %d iterations per trial; fault held %.1f s: %d failed saves, %d+ reports kept"
              % (iterations, fault_seconds, attempts, first_unsaved), flush=True)
    finally:
        srv.stop()


def test_stop_while_database_unwritable():
    """SIGTERM while the database refuses writes: the stop retries for 10 s, then lets the
    unsaved reports go and exits 0 (it does not hang for as long as the disk stays full). After
    a restart on a free disk the trials resume from their last saved checkpoint and the sweep
    completes with every history 1..iterations."""
    srv = FaultServer(DB_FILES)
    try:
        _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        # Half the budget of the test above: the SIGTERM comes a moment after the trials' first
        # reports, and what they train after the restart is only waited for.
        iterations = int(min(10000, max(50, TRAIN_SECONDS / 2
                                        / seconds_per_iteration(srv, ds["id"]))))
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": dict(SLOW_NET, learning_rate=[0.05, 0.1],
                                                 iterations=[iterations]),
            "training": SLOW_TRAINING}, expect=201)
        wait_for("both trials to report", lambda: all(
            t["iterations_done"] > 0 for t in trials_of(srv, sw["id"])), timeout=60)
        srv.full(True)
        wait_for("/healthz to report the fault", lambda: health(srv)[0] == 503)
        t0 = time.time()
        assert srv.terminate(timeout=60) == 0, srv.logs()[-2000:]
        took = time.time() - t0
        assert 9 <= took <= 40, took
        assert "could not be saved" in srv.logs(), srv.logs()[-2000:]
        srv.full(False)
        srv.restart()
        done = srv.wait_sweep(sw["id"], timeout=240)
        assert done["status"] == "completed", done
        for t in trials_of(srv, sw["id"]):
            _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
            its = [r["iteration"] for r in h["history"]]
            assert its == list(range(1, iterations + 1)), (t["id"], len(its), its[:3])
        print("  stop with a full database disk took %.1f s" % took, flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    run([test_upload_copy_disk_full, test_upload_disk_fills_midway, test_matrix_disk_full,
         test_database_full_refuses_changes, test_database_unwritable_while_training,
         test_stop_while_database_unwritable])
