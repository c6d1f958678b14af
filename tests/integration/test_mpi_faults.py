"""Faults across Open MPI ranks (issue 13, items 6 and 9): the real binary under
`mpirun -np 3 --oversubscribe mlptune serve --mpi --workers 1` (`--allow-run-as-root` as root).

- Cancel reaches a remote trial: a sweep whose trials run on every rank is canceled; the trials
  that ran on ranks 1 and 2 end `canceled` at their next mini-batch: at most the iteration that
  was in flight when the cancel came gets a row after it (iterations here take hundreds of
  mini-batches), and their rows are kept.
- A rank killed with SIGKILL mid-sweep (over TCP: `--mca pml ob1 --mca btl self,tcp`, the path
  between hosts): Open MPI ends the whole job; `mpirun ... serve --mpi` started again on the
  same data dir resumes every unfinished trial from its last checkpoint, no committed row is
  lost or changed (the rows read before the kill, seconds included), and the sweep completes
  with every history equal to the same sweep run before the kill without a fault.

Without MPI (no mpirun, or a binary without `serve --mpi`) it prints why and exits 77, which
ctest counts as skipped. Usage: test_mpi_faults.py MLPTUNE_BINARY TEST_DATA_DIR
"""
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from harness import BIN, Server, read, run

SKIP = 77
RANKS = 3
TCP = ["--mca", "pml", "ob1", "--mca", "btl", "self,tcp"]


def mpi_missing():
    """Why these tests cannot run here, or None."""
    if not shutil.which("mpirun"):
        return "no mpirun (apt-get install openmpi-bin)"
    cp = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True)
    if "--mpi" not in cp.stdout + cp.stderr:
        return "%s has no serve --mpi" % BIN
    try:  # a build without MPI lists the flag but refuses it
        MpiServer().stop()
    except RuntimeError as e:
        if "without MPI" in str(e):
            return "this mlptune was built without MPI (cmake -DMLPTUNE_MPI=ON)"
        raise
    return None


class MpiServer(Server):
    """`mpirun -np RANKS ... mlptune serve --mpi --workers 1`; rank 0 prints the URL."""

    def __init__(self, mca=(), extra=(), data_dir=None):
        self.mca = list(mca)
        super().__init__(workers=1, data_dir=data_dir, extra=["--mpi"] + list(extra))

    def start(self):
        self.log = open(self.log_path, "ab")
        launcher = ["mpirun", "-np", str(RANKS), "--oversubscribe"]
        if os.getuid() == 0:
            launcher.append("--allow-run-as-root")
        # Sanitizer builds: what Open MPI keeps until exit is not a leak of ours (test_mpi.py's
        # suppressions, plugins kept loaded so their frames have names)
        env = dict(os.environ, OMPI_MCA_mca_base_component_disable_dlclose="1")
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan_mpi.supp")
        env["LSAN_OPTIONS"] = ":".join(
            x for x in (env.get("LSAN_OPTIONS"), "suppressions=" + supp,
                        "fast_unwind_on_malloc=0", "print_suppressions=0") if x)
        self.proc = subprocess.Popen(
            launcher + self.mca + [BIN, "serve", "--port", "0", "--data-dir", self.data_dir,
                                   "--workers", str(self.workers)] + self.extra,
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
        line = self.proc.stdout.readline().decode()
        if "listening on http://" not in line:
            self.kill_all()
            raise RuntimeError("mpirun serve --mpi did not start: %r\n%s" % (line, self.logs()))
        self.port = int(line.rsplit(":", 1)[1].strip().strip("/"))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def ranks(self):
        """{rank: pid} of the mlptune processes under this mpirun (OMPI_COMM_WORLD_RANK)."""
        children = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
        out, todo = {}, [self.proc.pid]
        while todo:
            pid = todo.pop()
            todo += children.get(pid, [])
            try:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
                exe = os.readlink("/proc/%d/exe" % pid)
            except OSError:
                continue
            if b"OMPI_COMM_WORLD_RANK" in env and os.path.basename(exe).startswith("mlptune"):
                out[int(env[b"OMPI_COMM_WORLD_RANK"])] = pid
        return out

    def kill_all(self):
        """SIGKILL mpirun's whole session (it was started in one of its own)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # SIGTERM to rank 0 (it logs its pid) stops the service gracefully; mpirun itself,
            # signalled, would kill the ranks one after another
            with open(self.log_path, errors="replace") as f:
                m = re.findall(r"mpi: rank 0 is pid (\d+)", f.read())
            try:
                os.kill(int(m[-1]), signal.SIGTERM) if m else self.proc.send_signal(
                    signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=60)
                self.log.close()
            except subprocess.TimeoutExpired:
                self.kill_all()
        try:
            with open(self.log_path, errors="replace") as f:
                self.final_log = f.read()
        except OSError:
            self.final_log = ""
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def assert_clean(self):
        """Stops it; no sanitizer report in any rank's log (a sanitizer build)."""
        self.stop()
        bad = re.findall(r"ERROR: (?:Address|Leak|Thread|UndefinedBehavior)Sanitizer.*|"
                         r"runtime error:.*", self.final_log)
        assert not bad, "\n".join(bad[:5])


def upload_digits(srv):
    _, _, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
    assert ds["rows"] == 1797, ds
    return ds


def trials_of(srv, sweep_id):
    _, _, t = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=100" % sweep_id, expect=200)
    return t["items"]


def history(srv, trial_id):
    _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % trial_id, expect=200)
    return h["history"]


def wait_for(what, cond, timeout=180, every=0.05):
    deadline = time.time() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(every)


def test_cancel_reaches_remote_trials():
    srv = MpiServer()
    try:
        ds = upload_digits(srv)
        # one trial per rank; an iteration is 1438 / 2 = 719 mini-batches of a 64-1024-1024-10 net
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": {"hidden_layers": [2], "neurons": [1024],
                                             "learning_rate": [0.01, 0.02, 0.05],
                                             "iterations": [1000]},
            "training": {"batch_size": 2, "seed": 3}}, expect=201)

        def all_running():
            items = trials_of(srv, sw["id"])
            ok = all(t["status"] == "running" and t["placement"] and t["iterations_done"] >= 1
                     for t in items)
            return items if ok else None
        items = wait_for("a row of every trial on every rank", all_running)
        remote = [t for t in items if t["placement"]["rank"] != 0]
        assert {t["placement"]["rank"] for t in items} == set(range(RANKS)), items
        before = {t["id"]: t["iterations_done"] for t in trials_of(srv, sw["id"])}
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % sw["id"], expect=200)
        assert srv.wait_sweep(sw["id"])["status"] == "canceled"
        items = wait_for("every trial to end", lambda: (lambda it: it if all(
            t["status"] != "running" for t in it) else None)(trials_of(srv, sw["id"])), 60)
        for t in items:
            assert t["status"] == "canceled", t
            # stopped at a mini-batch: no iteration after the one in flight at the cancel
            assert before[t["id"]] <= t["iterations_done"] <= before[t["id"]] + 1, (before, t)
            rows = history(srv, t["id"])
            assert [r["iteration"] for r in rows] == list(range(1, t["iterations_done"] + 1)), t
        assert len(remote) == RANKS - 1, remote
        # the ranks stay up after a cancel: a new sweep runs on every rank
        _, _, again = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": {"hidden_layers": [1], "neurons": [16, 32, 64],
                                             "learning_rate": [0.1], "iterations": [3]}},
            expect=201)
        assert srv.wait_sweep(again["id"])["status"] == "completed"
        srv.assert_clean()
    finally:
        srv.stop()


# iterations: long enough that the kill lands while trials run, with the CPU's own GEMM kernels
SWEEP = {"grid": {"hidden_layers": [1, 2], "neurons": [128, 256], "learning_rate": [0.05, 0.1],
                  "iterations": [200]},
         "training": {"batch_size": 8, "momentum": 0.5, "seed": 11}}
CKPT = ["--checkpoint-every", "3", "--checkpoint-seconds", "0"]


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_killed_rank_then_restart():
    srv = MpiServer(mca=TCP, extra=CKPT)
    try:
        ds = upload_digits(srv)
        body = dict(SWEEP, dataset_id=ds["id"])
        # the same sweep without a fault first: what every history must end as
        _, _, ref = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        assert srv.wait_sweep(ref["id"], timeout=600)["status"] == "completed"
        reference = {t["ordinal"]: _strip(history(srv, t["id"])) for t in trials_of(srv, ref["id"])}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)

        def remote_checkpointed():
            items = trials_of(srv, sw["id"])
            return items if any(t["status"] == "running" and t["placement"] and
                                t["placement"]["rank"] != 0 and t["iterations_done"] >= 7
                                for t in items) else None
        wait_for("a remote trial past its second checkpoint", remote_checkpointed, 600, 0.01)
        ranks = srv.ranks()
        assert sorted(ranks) == list(range(RANKS)), ranks
        assert ranks[0] != ranks[1]
        # what clients could read just before the kill
        before = {t["id"]: (t["status"], history(srv, t["id"])) for t in trials_of(srv, sw["id"])}
        os.kill(ranks[1], signal.SIGKILL)
        # Open MPI ends the whole job
        try:
            code = srv.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            srv.kill_all()
            raise AssertionError("mpirun did not end after rank 1 was killed:\n" + srv.logs())
        srv.log.close()
        assert code != 0, "mpirun exited 0 after a rank was killed"

        def gone():
            left = []
            for pid in ranks.values():
                try:
                    with open("/proc/%d/stat" % pid) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                            left.append(pid)
                except OSError:
                    pass
            return not left
        wait_for("every rank to end with the job", gone, 60)
        db = sqlite3.connect(os.path.join(srv.data_dir, "mlptune.db"))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = dict(db.execute(
            "SELECT t.id, t.checkpoint_iteration FROM trials t JOIN trial_checkpoints c "
            "ON c.trial_id = t.id AND c.iteration = t.checkpoint_iteration "
            "WHERE t.sweep_id = ? AND t.status = 'running'", (sw["id"],)).fetchall())
        db.close()
        assert any(k >= 3 for k in kept.values()), "no running trial had a checkpoint: %r" % kept

        srv.restart()  # the same mpirun command on the same data dir
        assert sorted(srv.ranks()) == list(range(RANKS))
        assert srv.wait_sweep(sw["id"], timeout=600)["status"] == "completed"
        after = trials_of(srv, sw["id"])
        assert len(after) == len(reference) == 8
        for t in after:
            assert t["status"] == "completed", t
            rows = history(srv, t["id"])
            status, had = before[t["id"]]
            # no committed row lost or changed, seconds included
            assert rows[:len(had)] == had, "trial %d: a committed row changed" % t["id"]
            # and the history ends as the one of the run without a fault
            assert _strip(rows) == reference[t["ordinal"]], "trial %d differs" % t["id"]
            if status == "running" and t["id"] in kept:
                assert t["attempt"] == 2, t
        assert any(t["placement"]["rank"] != 0 for t in after), after
        srv.assert_clean()
    finally:
        srv.stop()


if __name__ == "__main__":
    why = mpi_missing()
    if why:
        print("skip - %s" % why)
        print("0 passed, 0 failed")
        sys.exit(SKIP)
    run([test_cancel_reaches_remote_trials, test_killed_rank_then_restart])
