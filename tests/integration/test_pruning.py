"""Integration tests of pruning across a sweep over HTTP: the request's "pruner" member (422s
naming the field), an ASHA grid on iris whose weak trials end `pruned` with the reason in their
`error`, history and model kept, the best running to the end, and shared prefixes pruned with
their lead.
Usage: test_pruning.py MLPTUNE_BINARY TEST_DATA_DIR"""
import contextlib
import json
import re

from harness import Server, problem, read, run

LRS = [0.0001, 0.3, 0.0003, 0.1, 0.001, 0.03, 0.003, 1.0, 0.01]


@contextlib.contextmanager
def server():
    srv = Server(workers=1)
    try:
        yield srv
    except Exception:
        print(srv.logs())
        raise
    finally:
        srv.stop()


def sweep_body(ds_id, iterations, pruner):
    return {"dataset_id": ds_id,
            "grid": {"hidden_layers": [1], "neurons": [8], "learning_rate": LRS,
                     "iterations": iterations},
            "training": {"batch_size": 16, "seed": 42, "validation_split": 0.2},
            "pruner": pruner}


def upload_iris(srv):
    _, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
    return ds["id"]


def trials_of(srv, sweep_id):
    _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=100" % sweep_id, expect=200)
    out = []
    for t in page["items"]:
        _, _, full = srv.json("GET", "/api/v1/trials/%d" % t["id"], expect=200)
        out.append(full)
    return out


def test_pruner_validation():
    with server() as srv:
        ds = upload_iris(srv)
        cases = [
            ({"type": "asha", "reduction_factor": 1}, "pruner.reduction_factor"),
            ({"type": "asha", "min_iterations": 0}, "pruner.min_iterations"),
            ({"type": "asha", "grace": 1}, "pruner.grace"),
            ({"type": "median", "min_trials": "3"}, "pruner.min_trials"),
            ({"type": "bohb"}, "pruner.type"),
            ({"type": "hyperband", "min_iterations": 9, "max_iterations": 3},
             "pruner.max_iterations"),
            ({"type": "hyperband", "max_iterations": "27"}, "pruner.max_iterations"),
            ({}, "pruner.type"),
            ("asha", "pruner"),
        ]
        for pruner, field in cases:
            body = problem(srv.request("POST", "/api/v1/sweeps",
                                       sweep_body(ds, [5], pruner)), 422)
            assert body["errors"][0]["field"] == field, (pruner, body)
        for es, field in [({"metric": "loss"}, "training.early_stopping.metric"),
                          ({"patience": 0}, "training.early_stopping.patience"),
                          ({"stopping_rounds": 3}, "training.early_stopping.stopping_rounds")]:
            req = sweep_body(ds, [5], None)
            req["training"]["early_stopping"] = es
            body = problem(srv.request("POST", "/api/v1/sweeps", req), 422)
            assert body["errors"][0]["field"] == field, (es, body)
        _, _, sweeps = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert sweeps["items"] == [], sweeps  # nothing was created


def test_asha_grid():
    with server() as srv:
        ds = upload_iris(srv)
        pruner = {"type": "asha", "min_iterations": 1, "reduction_factor": 3}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", sweep_body(ds, [2000], pruner), expect=201)
        done = srv.wait_sweep(sw["id"], timeout=120)
        assert done["status"] == "completed", done
        assert done["spec"]["pruner"] == pruner, done["spec"]  # stored with the spec
        assert done["trials"]["pruned"] >= 1 and done["trials"]["completed"] >= 1, done
        trials = trials_of(srv, sw["id"])
        assert len(trials) == 9
        best = max(t["best_val_accuracy"] for t in trials)
        for t in trials:
            _, _, hist = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
            assert len(hist["history"]) == t["iterations_done"], (t, hist)
            assert t["has_model"], t
            if t["status"] == "pruned":
                assert t["error"].startswith("pruned at rung "), t
                assert 1 <= t["iterations_done"] < 2000, t
            else:
                assert t["status"] == "completed" and t["error"] is None, t
                assert t["iterations_done"] == 2000, t
        assert any(t["status"] == "completed" and t["best_val_accuracy"] == best
                   for t in trials), trials


def test_shared_prefixes_pruned_with_their_lead():
    # A grid's pruner decides as rows arrive, so a lead runs on for a few iterations after the
    # row its decision is about (an iris iteration takes tens of microseconds). Followers at
    # 1000 of the lead's 2000 iterations leave that lag room; what must hold is the rule: a lead
    # that stopped before a follower's last iteration ends that follower the same way, and one
    # that got past it leaves the follower completed.
    with server() as srv:
        ds = upload_iris(srv)
        pruner = {"type": "asha", "min_iterations": 1, "reduction_factor": 3}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", sweep_body(ds, [1000, 2000], pruner),
                            expect=201)
        srv.wait_sweep(sw["id"], timeout=120)
        trials = trials_of(srv, sw["id"])
        by_lr = {}
        for t in trials:
            by_lr.setdefault(t["params"]["learning_rate"], {})[t["params"]["iterations"]] = t
        followers_pruned = 0
        for lr, pair in by_lr.items():
            lead, follower = pair[2000], pair[1000]
            if lead["status"] == "pruned" and lead["iterations_done"] < 1000:
                # ended with its lead, the same way and for the same reason
                assert follower["status"] == "pruned", pair
                assert follower["error"] == lead["error"], pair
                assert follower["iterations_done"] == lead["iterations_done"], pair
                followers_pruned += 1
            else:
                assert follower["status"] == "completed", pair
                assert follower["iterations_done"] == 1000, pair
        assert followers_pruned >= 1, json.dumps(trials)[:2000]


def test_median():
    with server() as srv:
        ds = upload_iris(srv)
        pruner = {"type": "median", "warmup_iterations": 2, "min_trials": 2}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", sweep_body(ds, [500], pruner), expect=201)
        done = srv.wait_sweep(sw["id"], timeout=120)
        assert done["status"] == "completed" and done["trials"]["pruned"] >= 1, done
        for t in trials_of(srv, sw["id"]):
            if t["status"] == "pruned":
                assert t["error"].startswith("pruned at iteration "), t
                assert "< median" in t["error"], t
                assert 2 < t["iterations_done"] < 500 and t["has_model"], t
            else:
                assert t["status"] == "completed" and t["iterations_done"] == 500, t


def test_early_stopping():
    with server() as srv:
        ds = upload_iris(srv)
        req = sweep_body(ds, [2000], None)
        req["grid"]["learning_rate"] = [0.1, 0.5]
        req["training"]["early_stopping"] = {"metric": "val_accuracy", "patience": 5}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", req, expect=201)
        done = srv.wait_sweep(sw["id"], timeout=120)
        assert done["trials"]["completed"] == 2, done
        for t in trials_of(srv, sw["id"]):
            assert t["status"] == "completed" and 5 < t["iterations_done"] < 2000, t
            assert t["error"].startswith("early stopped at iteration "), t
            assert t["has_model"], t


def test_hyperband_grid():
    with server() as srv:
        ds = upload_iris(srv)
        pruner = {"type": "hyperband", "min_iterations": 1, "reduction_factor": 3}
        req = sweep_body(ds, [300], pruner)
        req["grid"]["learning_rate"] = LRS + [0.05, 0.5, 0.002, 0.02, 0.2, 0.7, 0.007, 0.07]
        _, _, sw = srv.json("POST", "/api/v1/sweeps", req, expect=201)
        done = srv.wait_sweep(sw["id"], timeout=120)
        assert done["status"] == "completed" and done["trials"]["pruned"] >= 1, done
        for t in trials_of(srv, sw["id"]):
            if t["status"] == "pruned":  # brackets of 300 // 27 ... : 6 brackets, named
                assert re.match(r"pruned at rung \d+ of bracket \d+ \(iteration \d+\): ",
                                t["error"]), t
                assert t["has_model"] and t["iterations_done"] < 300, t


def sampling_body(ds, search, pruner, **training):
    return {"dataset_id": ds, "search": search, "pruner": pruner,
            "space": {"hidden_layers": [1], "neurons": [8],
                      "learning_rate": {"low": 0.0001, "high": 1.0, "log": True},
                      "iterations": [200]},
            "training": dict({"batch_size": 16, "seed": 42, "validation_split": 0.2}, **training)}


def test_pruners_on_sampling_sweeps():
    """random + hyperband, tpe + median, random + early stopping: each stops trials as on a
    grid, keeping history, figures and model, with the reason in error."""
    with server() as srv:
        ds = upload_iris(srv)
        cases = [({"type": "random", "max_trials": 14, "seed": 1},
                  {"type": "hyperband", "min_iterations": 1, "max_iterations": 200}, {},
                  r"pruned at rung \d+ of bracket \d+ \(iteration \d+\): "),
                 ({"type": "tpe", "max_trials": 14, "seed": 1, "n_startup_trials": 4},
                  {"type": "median", "warmup_iterations": 2, "min_trials": 2}, {},
                  r"pruned at iteration \d+: best .* < median "),
                 ({"type": "random", "max_trials": 4, "seed": 2}, None,
                  {"early_stopping": {"metric": "val_accuracy", "patience": 5}},
                  r"early stopped at iteration \d+")]
        for search, pruner, training, note in cases:
            _, _, sw = srv.json("POST", "/api/v1/sweeps",
                                sampling_body(ds, search, pruner, **training), expect=201)
            done = srv.wait_sweep(sw["id"], timeout=120)
            assert done["status"] == "completed", done
            assert done["trials_total"] == search["max_trials"], done
            stopped = 0
            for t in trials_of(srv, sw["id"]):
                _, _, hist = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
                assert len(hist["history"]) == t["iterations_done"] >= 1, t
                assert t["has_model"] and t["best_val_accuracy"] is not None, t
                if t["error"]:
                    assert re.match(note, t["error"]), (search, t["error"])
                    stopped += 1
            assert stopped >= 1, (search, pruner, training)


if __name__ == "__main__":
    run([test_pruner_validation, test_asha_grid, test_shared_prefixes_pruned_with_their_lead,
         test_median, test_early_stopping, test_hyperband_grid, test_pruners_on_sampling_sweeps])
