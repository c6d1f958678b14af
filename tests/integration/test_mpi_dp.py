"""One trial across two Open MPI ranks (issue 13, data parallelism), through the service:
`mpirun -np 3 mlptune serve --mpi --workers 1`, a sweep with "training": {"ranks": 2}.

usage: test_mpi_dp.py MLPTUNE DATA_DIR shm|tcp HAVE_MPI(0|1) MPIRUN
  shm: Open MPI's defaults; tcp: --mca btl self,tcp (the path between hosts). Exits 77 (ctest:
  skipped) when the build has no MPI or there is no mpirun.

Checked on tests/data/digits.csv: the trial runs on ranks 1 and 2 (rank 0 serves), its params
record 2 ranks; it reaches the single process's validation accuracy within 0.01; the same sweep
twice gives the same history bit for bit; "ranks": "auto" takes the two idle ranks and records
them with the interval it chose; a cancel reaches both members (and the ranks take the next
trial); more ranks than the service can give are refused, 422 naming the field.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Server, problem, read, run  # noqa: E402

MODE = sys.argv[3] if len(sys.argv) > 3 else "shm"
HAVE_MPI = (sys.argv[4] if len(sys.argv) > 4 else "1") in ("1", "ON", "on", "TRUE")
MPIRUN = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else shutil.which("mpirun")

GRID = {"hidden_layers": [1], "neurons": [64], "learning_rate": [0.05], "iterations": [30]}
TRAINING = {"batch_size": 32, "momentum": 0.9, "validation_split": 0.2, "seed": 5}


class MpiServer(Server):
    """mpirun -np 3 mlptune serve --mpi --workers 1 (one data dir); rank 0's stdout names the
    port."""

    def __init__(self, data_dir=None, extra=()):
        super().__init__(workers=1, data_dir=data_dir, extra=extra)

    def start(self):
        self.log = open(self.log_path, "ab")
        cmd = [MPIRUN, "--oversubscribe"]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        if MODE == "tcp":
            cmd += ["--mca", "btl", "self,tcp"]
        cmd += ["-np", "3", BIN, "serve", "--mpi", "--port", "0", "--workers", "1",
                "--data-dir", self.data_dir] + self.extra
        # Sanitizer builds: LeakSanitizer ignores what Open MPI keeps until exit (test_mpi's
        # suppressions); mlptune's own leaks still count.
        env = dict(os.environ)
        env["OMPI_MCA_mca_base_component_disable_dlclose"] = "1"
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan_mpi.supp")
        env["LSAN_OPTIONS"] = ":".join(
            x for x in (env.get("LSAN_OPTIONS"), "suppressions=" + supp,
                        "fast_unwind_on_malloc=0", "print_suppressions=0") if x)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=env)
        line = self.proc.stdout.readline().decode()
        if "listening on http://" not in line:
            self.proc.kill()
            raise RuntimeError("mpirun did not start: %r\n%s" % (line, self.logs()))
        self.port = int(line.rsplit(":", 1)[1].strip().strip("/"))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def terminate(self):
        """SIGTERM to rank 0 (its pid is logged): a graceful stop of every rank."""
        with open(self.log_path, "rb") as f:
            pids = re.findall(r"mpi: rank 0 is pid (\d+)", f.read().decode(errors="replace"))
        os.kill(int(pids[-1]), signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        assert rc == 0, "mpirun exited %d\n%s" % (rc, self.logs())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def one_trial(srv, ds_id, training, grid=GRID, wait=True):
    _, _, sw = srv.json("POST", "/api/v1/sweeps", {"dataset_id": ds_id, "grid": grid,
                                                    "training": training}, expect=201)
    if not wait:
        return sw
    done = srv.wait_sweep(sw["id"], timeout=120)
    assert done["status"] == "completed", done
    _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=10" % sw["id"], expect=200)
    assert len(trials["items"]) == 1, trials
    t = trials["items"][0]
    assert t["status"] == "completed", t
    return t


def history(srv, trial_id):
    _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % trial_id, expect=200)
    return [(r["iteration"], r["train_loss"], r["train_accuracy"], r["val_loss"],
             r["val_accuracy"]) for r in h["history"]]


def test_trial_across_two_ranks():
    one = Server(workers=1)
    try:
        _, _, ds1 = one.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        alone = one_trial(one, ds1["id"], TRAINING)
        single = history(one, alone["id"])
    finally:
        one.stop()
    srv = MpiServer()
    try:
        _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        dp = dict(TRAINING, ranks=2, sync_every=4)
        a = one_trial(srv, ds["id"], dp)
        assert a["params"]["ranks"] == 2 and a["params"]["sync_every"] == 4, a["params"]
        assert a["placement"]["rank"] in (1, 2), a["placement"]  # the group's lead
        ha = history(srv, a["id"])
        assert len(ha) == 30, ha
        # within 0.01 of the single process's validation accuracy, at the last iteration
        assert ha[-1][4] >= single[-1][4] - 0.01, (ha[-1], single[-1])
        print("  digits, 30 iterations: single process %.4f, 2 ranks %.4f (validation accuracy)"
              % (single[-1][4], ha[-1][4]))
        assert ha != single, "two ranks gave the single process's history: no averaging?"
        # deterministic: the same spec again, the same history bit for bit
        b = one_trial(srv, ds["id"], dp)
        assert history(srv, b["id"]) == ha
        # "auto": the only trial waiting takes both idle ranks, and the interval is recorded
        c = one_trial(srv, ds["id"], dict(TRAINING, ranks="auto"))
        assert c["params"]["ranks"] == 2, c["params"]
        every = c["params"]["sync_every"]
        assert isinstance(every, int) and every >= 1, c["params"]
        if every == 4:
            assert history(srv, c["id"]) == ha
        # a cancel reaches both members; the ranks then take the next trial
        long = dict(GRID, iterations=[5000])
        sw = one_trial(srv, ds["id"], dp, grid=long, wait=False)
        deadline = time.time() + 60
        while time.time() < deadline:
            _, _, t = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
            if t["items"] and t["items"][0]["iterations_done"] >= 2:
                break
            time.sleep(0.1)
        st, _, _ = srv.json("POST", "/api/v1/sweeps/%d/cancel" % sw["id"])
        assert st in (200, 202), st
        done = srv.wait_sweep(sw["id"], timeout=60)
        assert done["status"] == "canceled", done
        d = one_trial(srv, ds["id"], dp)
        assert history(srv, d["id"]) == ha
        # two trials of two ranks each (and rank 0 free): the second waits for the ranks, both
        # complete, the first as alone
        _, _, sw = srv.json("POST", "/api/v1/sweeps",
                            {"dataset_id": ds["id"], "training": dp,
                             "grid": dict(GRID, learning_rate=[0.05, 0.1])}, expect=201)
        done = srv.wait_sweep(sw["id"], timeout=120)
        assert done["status"] == "completed", done
        _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=ordinal" % sw["id"],
                              expect=200)
        assert [t["status"] for t in page["items"]] == ["completed", "completed"], page
        same = [t for t in page["items"] if t["params"]["learning_rate"] == 0.05]
        assert history(srv, same[0]["id"]) == ha
        # more ranks than the service gives a trial (the ranks other than 0): refused
        body = problem(srv.request("POST", "/api/v1/sweeps",
                                   {"dataset_id": ds["id"], "grid": GRID,
                                    "training": dict(TRAINING, ranks=3)}), 422)
        assert body["errors"][0]["field"] == "training.ranks", body
        assert "(2)" in body["errors"][0]["message"], body
    finally:
        srv.stop()


def wait_rows(srv, sweep_id, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, _, t = srv.json("GET", "/api/v1/sweeps/%d/trials" % sweep_id, expect=200)
        if t["items"] and t["items"][0]["iterations_done"] >= n:
            return t["items"][0]
        time.sleep(0.05)
    raise AssertionError("sweep %d: fewer than %d rows after %ds" % (sweep_id, n, timeout))


def test_resume_across_two_ranks():
    """Stopped mid-run (rank 0's SIGTERM) and started again, a trial across two ranks resumes
    on both from the lead's checkpoint: the rows after it are recomputed and checked bit for bit
    by both members, and its history is an uninterrupted run's."""
    srv = MpiServer(extra=["--checkpoint-every", "2", "--checkpoint-seconds", "0"])
    data_dir = srv.data_dir
    try:
        _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
        dp = dict(TRAINING, ranks=2, sync_every=4)
        long = dict(GRID, iterations=[5000])
        sw = one_trial(srv, ds["id"], dp, grid=long, wait=False)
        t = wait_rows(srv, sw["id"], 7)
        srv.terminate()
        srv.start()
        _, _, t = srv.json("GET", "/api/v1/trials/%d" % t["id"], expect=200)
        cut = t["iterations_done"]

        assert t["status"] in ("queued", "running"), t
        t = wait_rows(srv, sw["id"], cut + 6)
        assert t["status"] == "running", t  # its recomputed rows matched on both members
        st, _, _ = srv.json("POST", "/api/v1/sweeps/%d/cancel" % sw["id"])
        assert st in (200, 202), st
        srv.wait_sweep(sw["id"], timeout=60)
        got = history(srv, t["id"])
        n = len(got)
        ref = one_trial(srv, ds["id"], dp, grid=dict(GRID, iterations=[n]))
        assert history(srv, ref["id"]) == got, (cut, n)
        print("  stopped after %d rows, resumed, %d rows as an uninterrupted run's" % (cut, n))
        # from a checkpoint (every 2 iterations), not from iteration 1
        with open(srv.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        assert "trial %d: resumes after iteration 0;" % t["id"] not in log, log[-3000:]
        assert log.count("trial %d: across ranks" % t["id"]) == 2, log[-3000:]
    finally:
        srv.data_dir = data_dir
        srv.stop()


def main():
    if not HAVE_MPI:
        print("skipped: this mlptune was built without MPI")
        sys.exit(77)
    if not MPIRUN:
        print("skipped: no mpirun")
        sys.exit(77)
    run([test_trial_across_two_ranks, test_resume_across_two_ranks])


main()
