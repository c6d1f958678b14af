"""`mlptune serve --mpi` under mpirun: 3 ranks on this machine, 1 worker each.

usage: test_mpi.py MLPTUNE DATA_DIR shm|tcp HAVE_MPI(0|1) MPIRUN
  shm: Open MPI's defaults (shared memory between ranks of one node); tcp: --mca btl self,tcp,
  the path between hosts. Exits 77 (ctest: skipped) when the build has no MPI, after checking
  that --mpi is refused there as contracts say.

Rank 0 and rank 1 share a data dir; rank 2 has an empty one of its own (mpirun's MPMD syntax),
so rank 1 reads the dataset file itself and rank 2 gets it from rank 0 over MPI.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import BIN, Server, read, run  # noqa: E402
from test_service import sse_collect  # noqa: E402

MODE = sys.argv[3] if len(sys.argv) > 3 else "shm"
HAVE_MPI = (sys.argv[4] if len(sys.argv) > 4 else "1") in ("1", "ON", "on", "TRUE")
MPIRUN = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else shutil.which("mpirun")

GRID = {"hidden_layers": [1, 2], "neurons": [8, 16], "learning_rate": [0.1, 0.5],
        "iterations": [6]}
# 2 workers per rank: 3 ranks share this machine's cores, so each rank's BLAS threads are 1, as in
# one process with 2 workers, the comparison (OpenBLAS's results for larger products depend on
# its thread count, so a history is the same for the same partitions and BLAS threads).
WORKERS = 2
TRAINING = {"activation": "sigmoid", "batch_size": 16, "validation_split": 0.2, "seed": 42}


def mpi_env():
    """The environment of a process that runs MPI. Sanitizer builds: LeakSanitizer ignores what
    Open MPI keeps until exit (full stacks, plugins kept loaded so their frames have names);
    mlptune's own leaks still count."""
    env = dict(os.environ)
    env["OMPI_MCA_mca_base_component_disable_dlclose"] = "1"
    supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan_mpi.supp")
    env["LSAN_OPTIONS"] = ":".join(
        x for x in (env.get("LSAN_OPTIONS"), "suppressions=" + supp, "fast_unwind_on_malloc=0",
                    "print_suppressions=0") if x)
    return env


class MpiServer(Server):
    """mpirun -np 3 mlptune serve --mpi; rank 0's stdout names the port."""

    def __init__(self, extra=()):
        self.own_dir = tempfile.mkdtemp(prefix="mlpt-mpi-r2-")
        super().__init__(workers=WORKERS, extra=extra)

    def start(self):
        self.log = open(self.log_path, "ab")
        cmd = [MPIRUN, "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        if MODE == "tcp":
            cmd += ["--mca", "btl", "self,tcp"]
        serve = [BIN, "serve", "--mpi", "--port", "0", "--workers", str(WORKERS)] + self.extra
        cmd += (["-np", "2"] + serve + ["--data-dir", self.data_dir] + [":"] +
                ["-np", "1"] + serve + ["--data-dir", self.own_dir])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=mpi_env())
        line = self.proc.stdout.readline().decode()
        if "listening on http://" not in line:
            self.proc.kill()
            raise RuntimeError("mpirun did not start: %r\n%s" % (line, self.logs()))
        self.port = int(line.rsplit(":", 1)[1].strip().strip("/"))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def full_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def rank0_pid(self):
        return int(re.search(r"mpi: rank 0 is pid (\d+)", self.full_log()).group(1))

    def graceful_stop(self):
        """SIGTERM to rank 0: it stops, releases the ranks, all finalize, mpirun exits 0."""
        os.kill(self.rank0_pid(), signal.SIGTERM)
        assert self.proc.wait(timeout=50) == 0, self.full_log()[-3000:]
        self.log.close()
        assert re.search(r"info\s+stopped", self.full_log()), self.full_log()[-3000:]

    def stop(self, keep_data=False):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.own_dir, ignore_errors=True)


def sweep(srv, ds_id, name, events=None):
    """Runs the grid to completion; its trials by id. events: a list that receives the sweep's
    event stream (SSE) from its creation to sweep_finished."""
    _, _, sw = srv.json("POST", "/api/v1/sweeps", {"dataset_id": ds_id, "name": name,
                                                    "grid": GRID, "training": TRAINING},
                        expect=201)
    if events is not None:
        events.extend(sse_collect(srv, sw["id"], timeout=60))
    done = srv.wait_sweep(sw["id"], timeout=60)
    assert done["status"] == "completed", done
    _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=id&limit=100" % sw["id"],
                            expect=200)
    return trials["items"]


def history(srv, trial_id):
    _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % trial_id, expect=200)
    return [(r["iteration"], r["train_loss"], r["train_accuracy"], r["val_loss"],
             r["val_accuracy"]) for r in h["history"]]


def metric(text, name):
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    assert m, (name, text[-2000:])
    return int(m.group(1))


def test_sweep_across_ranks():
    srv = MpiServer()
    try:
        log = srv.full_log()
        for r in (1, 2):
            assert re.search(r"mpi: 3 ranks, link to rank %d: [0-9.]+ MB/s, [0-9.]+ us" % r,
                             log), log
        _, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        events = []
        first = sweep(srv, ds["id"], "first", events)
        second = sweep(srv, ds["id"], "second")
        host = socket.gethostname()
        ranks = {}
        for t in first + second:
            assert t["status"] == "completed", t
            assert t["params"]["partitions"] == WORKERS, t["params"]
            p = t["placement"]
            assert p["host"] == host and p["workers"] == WORKERS and 0 <= p["rank"] <= 2, p
            ranks.setdefault(p["rank"], []).append(t["id"])
        # every rank trained some (a rank that holds the dataset first, then the most free
        # slots: rank 0 fills, then rank 1, then rank 2)
        assert sorted(ranks) == [0, 1, 2], ranks
        # the event stream shows remote trials like local ones: every start, iteration and end
        kinds = [e["event"] for e in events]
        assert kinds.count("trial_started") == 8 and kinds.count("trial_finished") == 8, kinds
        assert kinds.count("iteration") == 8 * 6 and kinds[-1] == "sweep_finished", kinds
        # reports and models came back to rank 0, which stored them (models downloadable)
        remote = [t for t in first if t["placement"]["rank"] != 0]
        for t in remote:
            st, hdrs, body = srv.request("GET", "/api/v1/trials/%d/model" % t["id"])
            assert st == 200 and len(body) > 0, (st, body[:200])
        # the dataset reached each rank once although several trials used it: rank 1 read the
        # shared file, rank 2 (its own data dir) got it from rank 0
        log = srv.full_log()
        read_shared = re.findall(r"mpi rank 1: dataset %d \(sha256 [0-9a-f]{16}\) read from the "
                                 r"shared data dir" % ds["id"], log)
        received = re.findall(r"mpi rank 2: dataset %d \(sha256 [0-9a-f]{16}\) received from "
                              r"rank 0" % ds["id"], log)
        sent = re.findall(r"mpi: dataset %d \(sha256 [0-9a-f]{16}\) sent to rank 2" % ds["id"],
                          log)
        assert len(read_shared) == 1 and len(received) == 1 and len(sent) == 1, \
            (read_shared, received, sent, len(ranks[1]), len(ranks[2]))
        assert "sent to rank 1" not in log, log
        assert len(ranks[1]) + len(ranks[2]) > 2, ranks
        # rank 0's traffic in /metrics
        _, _, body = srv.request("GET", "/metrics")
        text = body.decode()
        assert metric(text, "mlptune_mpi_ranks") == 3, text
        for d in ("sent", "received"):
            assert metric(text, 'mlptune_mpi_messages_total{direction="%s"}' % d) > 0, text
            assert metric(text, 'mlptune_mpi_bytes_total{direction="%s"}' % d) > 0, text
        assert metric(text, "mlptune_workers") == 3 * WORKERS, text

        # the same sweep in one process with as many workers (the same partitions): every
        # history, remote ones included, bit for bit (JSON carries doubles exactly)
        one = Server(workers=WORKERS)
        try:
            _, _, ds1 = one.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
            alone = sweep(one, ds1["id"], "first")
            assert [t["params"] for t in alone] == [t["params"] for t in first]
            for a, b in zip(first, alone):
                assert history(srv, a["id"]) == history(one, b["id"]), (a["placement"], a["id"])
                assert a["best_val_accuracy"] == b["best_val_accuracy"], (a, b)
        finally:
            one.stop()

        # SIGTERM to rank 0 (its pid is logged): it stops gracefully, releases the other ranks
        # (which ignore signals), every rank finalizes and mpirun ends with 0
        srv.graceful_stop()
    finally:
        srv.stop()


def test_stop_and_resume_remote_trials():
    """Trials running on every rank when rank 0 stops: their checkpoints came to rank 0 (files
    in its data dir, rows in its database); one process started on that data dir resumes them
    (recomputing and checking the rows past each checkpoint) and their histories equal a fresh
    single-process run's, bit for bit."""
    import sqlite3
    # 5 trials of one cost: rank 0 takes 2, rank 1 2, rank 2 1
    grid = {"hidden_layers": [2], "neurons": [128], "learning_rate": [0.05, 0.1, 0.2, 0.3, 0.4],
            "iterations": [600]}  # long enough that a stop lands inside every run
    training = dict(TRAINING)
    srv = MpiServer(extra=["--checkpoint-every", "2", "--checkpoint-seconds", "0"])
    data_dir = srv.data_dir
    try:
        _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {"dataset_id": ds["id"], "grid": grid,
                                                        "training": training}, expect=201)
        # stop once every rank trains a trial well inside its run (2..20 of 600 iterations), so
        # none of those ends before the stop lands
        deadline = time.time() + 40
        while True:
            _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=id" % sw["id"],
                                  expect=200)
            items = page["items"]
            inside = {}
            for t in items:
                if t["status"] == "running" and 2 <= t["iterations_done"] <= 20:
                    inside.setdefault(t["placement"]["rank"], t["id"])
            if sorted(inside) == [0, 1, 2]:
                break
            assert time.time() < deadline, items
            time.sleep(0.02)
        srv.graceful_stop()
    finally:
        srv.stop(keep_data=True)
    db = sqlite3.connect(os.path.join(data_dir, "mlptune.db"))
    rows = dict((t, (it, path)) for t, it, path in
                db.execute("SELECT trial_id, iteration, path FROM trial_checkpoints"))
    status = dict(db.execute("SELECT id, status FROM trials"))
    db.close()
    # stopped mid-run on every rank, re-queued at the next start, with a checkpoint file from
    # its rank. The stop reaches the ranks while their rows stream in: rank 0's link thread
    # receives a bounded number of messages a turn, so a flood of rows cannot hold a stop back
    # until the remote trials have ended (it did, for seconds, on 2 busy cores)
    for rank, trial in inside.items():
        assert status[trial] == "running", ("rank %d's trial %d was not stopped" % (rank, trial),
                                            status)
    for rank, trial in inside.items():
        it, path = rows[trial]
        assert it >= 2 and path and os.path.getsize(os.path.join(data_dir, path)) > 0, rows
    again = Server(workers=WORKERS, data_dir=data_dir)
    fresh = Server(workers=WORKERS)
    try:
        done = again.wait_sweep(sw["id"], timeout=60)
        assert done["status"] == "completed", done
        _, _, ds1 = fresh.upload({"name": "digits"},
                                 {"file": ("digits.csv", read("digits.csv"))})
        _, _, sw1 = fresh.json("POST", "/api/v1/sweeps", {"dataset_id": ds1["id"], "grid": grid,
                                                          "training": training}, expect=201)
        fresh.wait_sweep(sw1["id"], timeout=60)
        _, _, a = again.json("GET", "/api/v1/sweeps/%d/trials?sort=id" % sw["id"], expect=200)
        _, _, b = fresh.json("GET", "/api/v1/sweeps/%d/trials?sort=id" % sw1["id"], expect=200)
        for x, y in zip(a["items"], b["items"]):
            assert x["status"] == "completed", x
            if x["id"] in inside.values():  # resumed once, from its remote checkpoint
                assert x["attempt"] == 2, x
            assert x["params"] == y["params"]
            assert history(again, x["id"]) == history(fresh, y["id"]), x["id"]
    finally:
        again.stop()
        fresh.stop()


def test_flags_and_singleton():
    """--mpi's neighbours are checked before MPI starts; --mpi takes no value; without mpirun
    the service runs as a world of one rank and stops as usual."""
    d = tempfile.mkdtemp(prefix="mlpt-mpi-flags-")
    try:
        for bad, word in ((["--workers", "0"], "workers"), (["--mpi=yes"], "unknown argument"),
                          (["--checkpoint-every", "x"], "checkpoint-every")):
            args = [BIN, "serve", "--port", "0", "--data-dir", d] + (
                bad if bad[0] == "--mpi=yes" else ["--mpi"] + bad)
            p = subprocess.run(args, capture_output=True, timeout=30)
            assert p.returncode == 2 and word in p.stderr.decode(), (bad, p.returncode, p.stderr)
        saved = dict(os.environ)
        os.environ.update(mpi_env())
        try:
            srv = Server(workers=1, data_dir=d, extra=["--mpi"])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        try:
            _, _, body = srv.request("GET", "/metrics")
            assert metric(body.decode(), "mlptune_mpi_ranks") == 1, body[-500:]
            _, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
            t = sweep(srv, ds["id"], "alone")
            assert {x["placement"]["rank"] for x in t} == {0}, t
            assert srv.terminate() == 0
        finally:
            srv.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    if not HAVE_MPI:
        # --mpi in a build without MPI: refused with the contract's words, exit 2
        p = subprocess.run([BIN, "serve", "--mpi", "--port", "0", "--data-dir",
                            tempfile.mkdtemp(prefix="mlpt-nompi-")],
                           capture_output=True, timeout=30)
        err = p.stderr.decode()
        assert p.returncode == 2, (p.returncode, err)
        assert "serve: --mpi: this mlptune was built without MPI (cmake -DMLPTUNE_MPI=ON)" in err
        print("skipped: this mlptune was built without MPI")
        sys.exit(77)
    if not MPIRUN:
        print("skipped: no mpirun")
        sys.exit(77)
    run([test_flags_and_singleton, test_sweep_across_ranks, test_stop_and_resume_remote_trials])


main()
