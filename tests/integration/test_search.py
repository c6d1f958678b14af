"""Integration tests for sampling sweeps (issue 14): `search` and `space` over HTTP.
Usage: test_search.py MLPTUNE_BINARY TEST_DATA_DIR"""
import time

from harness import Server, problem, read, run

SPACE = {"hidden_layers": [1, 2], "neurons": [4, 8],
         "learning_rate": {"low": 0.01, "high": 1.0, "log": True},
         "batch_size": [16, 32], "activation": ["relu", "sigmoid"], "iterations": [3]}


def upload_iris(srv):
    _, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
    return ds


def params_of(srv, sweep_id):
    _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=ordinal&limit=100" % sweep_id,
                          expect=200)
    return [t["params"] for t in page["items"]]


def test_random_sweep_completes_with_max_trials():
    srv = Server(workers=2)
    try:
        srv.start()
        ds = upload_iris(srv)
        body = {"dataset_id": ds["id"],
                "search": {"type": "random", "max_trials": 5, "seed": 3}, "space": SPACE}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed", done
        assert done["trials_total"] == 5, done
        # the stored spec keeps search and space as submitted
        assert done["spec"]["search"] == body["search"], done["spec"]
        assert done["spec"]["space"] == body["space"], done["spec"]
        p1 = params_of(srv, sw["id"])
        assert len(p1) == 5, p1
        for p in p1:
            assert 0.01 <= p["learning_rate"] <= 1.0, p
            assert p["hidden_layers"] in (1, 2) and p["neurons"] in (4, 8), p
            assert p["batch_size"] in (16, 32) and p["iterations"] == 3, p
        assert len({p["learning_rate"] for p in p1}) == 5, p1
        # the same seed proposes the same trials; another seed others
        _, _, again = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(again["id"])
        assert params_of(srv, again["id"]) == p1
        body["search"]["seed"] = 4
        _, _, other = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(other["id"])
        assert params_of(srv, other["id"]) != p1
    finally:
        srv.stop()


def test_search_field_errors():
    srv = Server(workers=1)
    try:
        srv.start()
        ds = upload_iris(srv)
        b = problem(srv.request("POST", "/api/v1/sweeps",
                                {"dataset_id": ds["id"], "search": {"type": "random"},
                                 "space": SPACE}), 422)
        assert b["errors"][0]["field"] == "search.max_trials", b
        space = dict(SPACE, learning_rate={"low": 0, "high": 1, "log": True})
        b = problem(srv.request("POST", "/api/v1/sweeps",
                                {"dataset_id": ds["id"],
                                 "search": {"type": "random", "max_trials": 2},
                                 "space": space}), 422)
        assert b["errors"][0]["field"] == "space.learning_rate.low", b
        b = problem(srv.request("POST", "/api/v1/sweeps",
                                {"dataset_id": ds["id"], "search": {"type": "tpe"},
                                 "space": SPACE}), 422)
        assert b["errors"][0]["field"] == "search.max_trials", b
        b = problem(srv.request("POST", "/api/v1/sweeps",
                                {"dataset_id": ds["id"],
                                 "search": {"type": "tpe", "max_trials": 3,
                                            "n_startup_trials": "2"},
                                 "space": SPACE}), 422)
        assert b["errors"][0]["field"] == "search.n_startup_trials", b
    finally:
        srv.stop()


def test_restart_continues_with_the_same_proposals():
    """kill -9 mid-sweep: after the restart the sweep goes on to max_trials with the very trials
    an uninterrupted sweep of the same seed proposes (draws depend on the stored count only)."""
    space = dict(SPACE, iterations=[150], neurons=[16, 32])
    srv = Server(workers=1)
    try:
        srv.start()
        ds = upload_iris(srv)
        body = {"dataset_id": ds["id"],
                "search": {"type": "random", "max_trials": 8, "seed": 11}, "space": space}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        deadline = time.time() + 60
        while True:
            _, _, cur = srv.json("GET", "/api/v1/sweeps/%d" % sw["id"], expect=200)
            if cur["trials_total"] >= 3 or cur["status"] not in ("queued", "running"):
                break
            assert time.time() < deadline, cur
            time.sleep(0.02)
        srv.kill9()
        killed_at = cur["trials_total"]
        srv.restart()
        done = srv.wait_sweep(sw["id"], timeout=180)
        assert done["status"] == "completed", done
        assert done["trials_total"] == 8, done
        resumed = params_of(srv, sw["id"])
        _, _, again = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(again["id"], timeout=180)
        assert params_of(srv, again["id"]) == resumed, (killed_at, resumed)
        assert killed_at < 8, "the sweep ended before the kill: the test proved nothing"
    finally:
        srv.stop()


def test_model_size_names_the_space():
    srv = Server(workers=1, extra=["--max-model-mb", "1"])
    try:
        srv.start()
        ds = upload_iris(srv)
        space = dict(SPACE, hidden_layers={"low": 1, "high": 8}, neurons=[8, 4096])
        b = problem(srv.request("POST", "/api/v1/sweeps",
                                {"dataset_id": ds["id"],
                                 "search": {"type": "random", "max_trials": 2},
                                 "space": space}), 422)
        assert b["errors"][0]["field"] == "space.neurons", b
        assert "max_model_mb" in b["errors"][0]["message"], b
    finally:
        srv.stop()


def test_ranks_recorded_in_trial_params():
    """training.ranks and sync_every (issue 13): stored in every trial's params; "auto" is
    decided when the trial starts (one rank on a single process) and recorded; more ranks than
    the service runs are refused naming the field, for grids and random searches alike."""
    srv = Server(workers=2)
    try:
        srv.start()
        ds = upload_iris(srv)
        grid = {"dataset_id": ds["id"],
                "grid": {"hidden_layers": [1], "neurons": [4, 8], "learning_rate": [0.1],
                         "iterations": [2]},
                "training": {"ranks": "auto", "sync_every": 16}}
        rnd = {"dataset_id": ds["id"], "search": {"type": "random", "max_trials": 3, "seed": 1},
               "space": SPACE, "training": {"ranks": "auto"}}
        for body, n in ((grid, 2), (rnd, 3)):
            _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
            done = srv.wait_sweep(sw["id"])
            assert done["status"] == "completed", done
            ps = params_of(srv, sw["id"])
            assert len(ps) == n, ps
            want_every = body["training"].get("sync_every", "auto")
            for p in ps:
                assert p["ranks"] == 1 and p["sync_every"] == want_every, p
        # the default: one rank, stored as such
        plain = dict(grid, training={})
        _, _, sw = srv.json("POST", "/api/v1/sweeps", plain, expect=201)
        srv.wait_sweep(sw["id"])
        assert all(p["ranks"] == 1 and p["sync_every"] == "auto" for p in params_of(srv, sw["id"]))
        for body in (grid, rnd):
            bad = dict(body, training={"ranks": 2})
            b = problem(srv.request("POST", "/api/v1/sweeps", bad), 422)
            assert b["errors"][0]["field"] == "training.ranks", b
            assert "ranks this service runs (1)" in b["errors"][0]["message"], b
        b = problem(srv.request("POST", "/api/v1/sweeps",
                                dict(grid, training={"sync_every": 0})), 422)
        assert b["errors"][0]["field"] == "training.sync_every", b
    finally:
        srv.stop()


run([test_random_sweep_completes_with_max_trials, test_search_field_errors,
     test_model_size_names_the_space, test_ranks_recorded_in_trial_params,
     test_restart_continues_with_the_same_proposals])
