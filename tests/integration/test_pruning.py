"""Integration tests of pruning across a sweep over HTTP: the request's "pruner" member (422s
naming the field), an ASHA grid on iris whose weak trials end `pruned` with the reason in their
`error`, history and model kept, the best running to the end, and shared prefixes pruned with
their lead.
Usage: test_pruning.py MLPTUNE_BINARY TEST_DATA_DIR"""
import contextlib
import json

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
    with server() as srv:
        ds = upload_iris(srv)
        pruner = {"type": "asha", "min_iterations": 1, "reduction_factor": 3}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", sweep_body(ds, [50, 2000], pruner),
                            expect=201)
        srv.wait_sweep(sw["id"], timeout=120)
        trials = trials_of(srv, sw["id"])
        by_lr = {}
        for t in trials:
            by_lr.setdefault(t["params"]["learning_rate"], {})[t["params"]["iterations"]] = t
        followers_pruned = 0
        for lr, pair in by_lr.items():
            lead, follower = pair[2000], pair[50]
            if follower["status"] == "pruned":
                # ended with its lead, the same way and for the same reason
                assert lead["status"] == "pruned", pair
                assert follower["error"] == lead["error"], pair
                followers_pruned += 1
            if lead["status"] == "completed":
                assert follower["status"] == "completed", pair
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


if __name__ == "__main__":
    run([test_pruner_validation, test_asha_grid, test_shared_prefixes_pruned_with_their_lead,
         test_median, test_early_stopping])
