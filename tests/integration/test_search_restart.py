"""Restart of sampling sweeps (issue 14, item 5): kill -9 mid-sweep and restart; the sweep then
proposes and prunes exactly as an uninterrupted sweep of the same spec.

- random + ASHA, 2 workers: every trial's parameters, status and error (the pruning note) are the
  uninterrupted sweep's, and the histories agree row for row (bit for bit on every stored figure
  but the seconds) wherever both have the row. ASHA on sampling sweeps decides a trial at a rung
  from the trials before it in ordinal order (scheduler/rungs.h), so neither the workers' timing
  nor the restart changes a decision (a trial whose decision waited for an earlier one and that
  ran to its end meanwhile is still marked pruned).
- tpe, 1 worker: the proposals after the restart come from the observations rebuilt from the
  stored rows: the sweep's trials are the uninterrupted sweep's, and past the startup trials they
  are not the random draws.
Usage: test_search_restart.py MLPTUNE_BINARY TEST_DATA_DIR"""
import re
import time

from harness import Server, read, run

SPACE = {"hidden_layers": [1], "neurons": [16],
         "learning_rate": {"low": 0.0005, "high": 2.0, "log": True},
         "batch_size": [32], "activation": ["relu", "sigmoid", "tanh"], "iterations": [30]}
FIGURES = ("iteration", "train_loss", "train_accuracy", "val_loss", "val_accuracy")


def upload(srv, name):
    _, _, ds = srv.upload({"name": name}, {"file": (name, read(name))})
    return ds["id"]


def trials_of(srv, sweep_id):
    _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=ordinal&limit=100" % sweep_id,
                          expect=200)
    out = []
    for t in page["items"]:
        _, _, full = srv.json("GET", "/api/v1/trials/%d" % t["id"], expect=200)
        _, _, hist = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
        full["rows"] = [tuple(repr(r.get(k)) for k in FIGURES) for r in hist["history"]]
        out.append(full)
    return out


def kill_when(srv, sweep_id, stored, timeout=120):
    """kill -9 once the sweep has `stored` trials (and not finished); returns how many it had."""
    deadline = time.time() + timeout
    while True:
        _, _, cur = srv.json("GET", "/api/v1/sweeps/%d" % sweep_id, expect=200)
        if cur["trials_total"] >= stored or cur["status"] not in ("queued", "running"):
            break
        assert time.time() < deadline, cur
        time.sleep(0.01)
    srv.kill9()
    return cur["trials_total"], cur["status"]


def same_trials(resumed, fresh):
    assert len(resumed) == len(fresh), (len(resumed), len(fresh))
    for a, b in zip(resumed, fresh):
        where = "trial ordinal %s" % a.get("ordinal")
        assert a["params"] == b["params"], (where, a["params"], b["params"])
        assert a["status"] == b["status"], (where, a["status"], b["status"], a["error"], b["error"])
        assert a.get("error") == b.get("error"), (where, a.get("error"), b.get("error"))
        n = min(len(a["rows"]), len(b["rows"]))
        assert a["rows"][:n] == b["rows"][:n], (where, "histories differ")
        if a["status"] != "pruned":  # a pruned trial trains on while its stop takes effect
            assert len(a["rows"]) == len(b["rows"]), (where, len(a["rows"]), len(b["rows"]))


def test_random_asha_restart_decides_the_same():
    srv = Server(workers=2)
    try:
        ds = upload(srv, "digits.csv")
        body = {"dataset_id": ds,
                "search": {"type": "random", "max_trials": 12, "seed": 5}, "space": SPACE,
                "pruner": {"type": "asha", "min_iterations": 1, "reduction_factor": 3},
                "training": {"validation_split": 0.2, "seed": 1}}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        killed_at, status = kill_when(srv, sw["id"], 6)
        assert status in ("queued", "running"), "the sweep ended before the kill: proves nothing"
        srv.restart()
        done = srv.wait_sweep(sw["id"], timeout=300)
        assert done["status"] == "completed", done
        resumed = trials_of(srv, sw["id"])
        assert len(resumed) == 12, len(resumed)
        _, _, again = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(again["id"], timeout=300)
        fresh = trials_of(srv, again["id"])
        same_trials(resumed, fresh)
        pruned = [t for t in fresh if t["status"] == "pruned"]
        assert pruned, "nothing was pruned: the test proves nothing"
        assert any(t["status"] == "completed" for t in fresh), fresh
        for t in pruned:  # the history reaches the rung; past it: while the stop took effect
            m = re.match(r"pruned at rung \d+ \(iteration (\d+)\): ", t["error"])
            assert m, t["error"]
            assert len(t["rows"]) == t["iterations_done"] >= int(m.group(1)), t
            assert t["has_model"], t
        # Uninterrupted, a trial pauses at each rung until it is decided (its worker takes
        # another trial): a pruned one trains not one iteration past its rung, and one that
        # went on continued from its pause with the history of one uninterrupted run.
        for t in fresh:
            if t["status"] == "pruned":
                it = int(re.match(r"pruned at rung \d+ \(iteration (\d+)\)", t["error"]).group(1))
                assert len(t["rows"]) == it, (t["ordinal"], len(t["rows"]), t["error"])
            assert [int(r[0]) for r in t["rows"]] == list(range(1, len(t["rows"]) + 1)), t
        with open(srv.log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
        assert "paused at iteration" in log, "no trial paused: the test proves nothing"
        assert "goes on past its rung" in log, "no trial went on after a pause"
    except Exception:
        print(srv.logs())
        raise
    finally:
        srv.stop()


def test_tpe_restart_proposes_from_stored_observations():
    srv = Server(workers=1)
    try:
        ds = upload(srv, "digits.csv")
        space = dict(SPACE, iterations=[20], neurons=[4, 8, 16])
        body = {"dataset_id": ds,
                "search": {"type": "tpe", "max_trials": 10, "seed": 9, "n_startup_trials": 3},
                "space": space, "training": {"validation_split": 0.3, "seed": 2}}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        killed_at, status = kill_when(srv, sw["id"], 6)
        assert status in ("queued", "running"), "the sweep ended before the kill: proves nothing"
        srv.restart()
        done = srv.wait_sweep(sw["id"], timeout=300)
        assert done["status"] == "completed", done
        assert done["spec"]["search"]["type"] == "tpe", done
        resumed = trials_of(srv, sw["id"])
        _, _, again = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(again["id"], timeout=300)
        fresh = trials_of(srv, again["id"])
        same_trials(resumed, fresh)
        # the startup trials are the random draws of the same seed; the rest are TPE's
        rnd = dict(body, search={"type": "random", "max_trials": 10, "seed": 9})
        _, _, r = srv.json("POST", "/api/v1/sweeps", rnd, expect=201)
        srv.wait_sweep(r["id"], timeout=300)
        drawn = [t["params"] for t in trials_of(srv, r["id"])]
        proposed = [t["params"] for t in fresh]
        assert proposed[:3] == drawn[:3], (proposed[:3], drawn[:3])
        assert all(p != d for p, d in zip(proposed[3:], drawn[3:])), (proposed, drawn)
    except Exception:
        print(srv.logs())
        raise
    finally:
        srv.stop()


if __name__ == "__main__":
    run([test_random_asha_restart_decides_the_same,
         test_tpe_restart_proposes_from_stored_observations])
