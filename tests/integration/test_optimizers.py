"""Integration tests for issue 16's optimizer, regularisation and schedule parameters over HTTP:
a grid of optimizer [sgd, adam] x schedule [constant, cosine] x iterations [2, 4] runs and its
trials read back with their params; a cosine trial cannot be extended (422 naming the trial), a
constant one can; hostile values of every new field get a 422 naming it; the meta route lists
the rows.
Usage: test_optimizers.py MLPTUNE_BINARY TEST_DATA_DIR"""
from harness import Server, problem, read, run

NEW = ["optimizer", "beta1", "beta2", "epsilon", "rho", "l2", "weight_decay", "schedule",
       "lr_gamma", "lr_step", "lr_min", "power_t", "warmup"]


def upload_iris(srv):
    _, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
    return ds["id"]


def body(ds, grid=None, training=None):
    g = {"hidden_layers": [1], "neurons": [8], "learning_rate": [0.01], "iterations": [2]}
    g.update(grid or {})
    return {"dataset_id": ds, "grid": g,
            "training": dict({"batch_size": 16, "seed": 3}, **(training or {}))}


def trials_of(srv, sweep_id):
    _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=ordinal&limit=1000" % sweep_id,
                          expect=200)
    return page["items"]


def test_grid_of_optimizers_and_schedules():
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)
        b = body(ds, {"optimizer": ["sgd", "adam"], "schedule": ["constant", "cosine"],
                      "iterations": [2, 4]}, {"l2": 0.001, "lr_min": 0.001})
        _, _, sw = srv.json("POST", "/api/v1/sweeps", b, expect=201)
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials_total"] == 8, done
        items = trials_of(srv, sw["id"])
        seen = set()
        for t in items:
            p = t["params"]
            assert t["status"] == "completed", t
            assert t["iterations_done"] == p["iterations"], t
            assert p["l2"] == 0.001 and p["lr_min"] == 0.001, p
            assert p["beta1"] == 0.9 and p["epsilon"] == 1e-8 and p["warmup"] == 0, p
            seen.add((p["optimizer"], p["schedule"], p["iterations"]))
        assert len(seen) == 8, seen
        by = {(t["params"]["optimizer"], t["params"]["schedule"], t["params"]["iterations"]): t
              for t in items}
        # a constant schedule's 2 iterations are the first 2 of its 4 (one run shared or not);
        # cosine's 2-iteration trial decays faster, so its second iteration differs
        def hist(t):
            _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
            return [(r["train_loss"], r["val_accuracy"]) for r in h["history"]]
        for o in ("sgd", "adam"):
            assert hist(by[(o, "constant", 2)]) == hist(by[(o, "constant", 4)])[:2], o
            assert hist(by[(o, "cosine", 2)])[1] != hist(by[(o, "cosine", 4)])[1], o
        assert hist(by[("sgd", "constant", 4)]) != hist(by[("adam", "constant", 4)])
        # extend: cosine refused naming the trial; constant goes on
        url = "/api/v1/sweeps/%d/extend" % sw["id"]
        cos = by[("adam", "cosine", 4)]
        p = problem(srv.request("POST", url, {"trials": [{"id": cos["id"], "iterations": 6}]}),
                    422)
        assert p["errors"][0]["field"] == "trials[0].id", p
        assert "cosine" in p["errors"][0]["message"] and str(cos["id"]) in p["errors"][0]["message"]
        const = by[("adam", "constant", 4)]
        srv.json("POST", url, {"trials": [{"id": const["id"], "iterations": 6}]}, expect=202)
        srv.wait_sweep(sw["id"])
        _, _, t = srv.json("GET", "/api/v1/trials/%d" % const["id"], expect=200)
        assert t["status"] == "completed" and t["iterations_done"] == 6, t
    finally:
        srv.stop()


def test_hostile_values_name_the_field():
    srv = Server(workers=1)
    try:
        ds = upload_iris(srv)
        cases = [
            (body(ds, {"beta1": [1]}), "grid.beta1[0]"),
            (body(ds, training={"beta1": 1}), "training.beta1"),
            (body(ds, training={"epsilon": 0}), "training.epsilon"),
            (body(ds, {"epsilon": [-1e-8]}), "grid.epsilon[0]"),
            (body(ds, training={"schedule": "foo"}), "training.schedule"),
            (body(ds, {"schedule": ["cosine", "foo"]}), "grid.schedule[1]"),
            (body(ds, training={"l2": -1}), "training.l2"),
            (body(ds, {"l2": ["0.1"]}), "grid.l2[0]"),
            (body(ds, training={"optimizer": 3}), "training.optimizer"),
            (body(ds, {"optimizer": ["ADAM"]}), "grid.optimizer[0]"),
            (body(ds, training={"beta2": "NaN"}), "training.beta2"),
            (body(ds, training={"rho": "nan"}), "training.rho"),
            (body(ds, training={"rho": 1}), "training.rho"),
            (body(ds, training={"weight_decay": "Infinity"}), "training.weight_decay"),
            (body(ds, training={"weight_decay": -0.5}), "training.weight_decay"),
            (body(ds, training={"lr_gamma": 0}), "training.lr_gamma"),
            (body(ds, training={"lr_gamma": 1.5}), "training.lr_gamma"),
            (body(ds, training={"lr_step": 0}), "training.lr_step"),
            (body(ds, training={"lr_step": 1.5}), "training.lr_step"),
            (body(ds, training={"lr_min": -0.1}), "training.lr_min"),
            (body(ds, training={"power_t": None}), "training.power_t"),
            (body(ds, training={"warmup": -1}), "training.warmup"),
            (body(ds, {"warmup": [10 ** 12]}), "grid.warmup[0]"),
        ]
        for b, field in cases:
            p = problem(srv.request("POST", "/api/v1/sweeps", b), 422)
            assert field in [e["field"] for e in p["errors"]], (field, p)
        # the search space takes them too, and checks them
        space = {"hidden_layers": [1], "neurons": [4], "learning_rate": [0.01],
                 "iterations": [1], "optimizer": ["adam", "rmsprop"],
                 "l2": {"low": 0, "high": 0.01}, "beta2": {"low": 0.9, "high": 1.5}}
        p = problem(srv.request("POST", "/api/v1/sweeps",
                                {"dataset_id": ds, "space": space,
                                 "search": {"type": "random", "max_trials": 2}}), 422)
        assert "space.beta2.high" in [e["field"] for e in p["errors"]], p
        space["beta2"] = {"low": 0.9, "high": 0.999}
        _, _, sw = srv.json("POST", "/api/v1/sweeps",
                            {"dataset_id": ds, "space": space,
                             "search": {"type": "random", "max_trials": 2, "seed": 1}},
                            expect=201)
        assert srv.wait_sweep(sw["id"])["status"] == "completed"
        for t in trials_of(srv, sw["id"]):
            assert t["params"]["optimizer"] in ("adam", "rmsprop"), t
            assert 0 <= t["params"]["l2"] <= 0.01 and 0.9 <= t["params"]["beta2"] <= 0.999, t
    finally:
        srv.stop()


def test_meta_lists_the_rows():
    srv = Server(workers=1)
    try:
        _, _, rows = srv.json("GET", "/api/v1/meta/parameters", expect=200)
        rows = rows["parameters"] if isinstance(rows, dict) else rows
        by = {r["name"]: r for r in rows}
        for n in NEW:
            assert by[n]["grid"] and by[n]["training"], by[n]
        assert by["optimizer"]["choices"] == ["sgd", "momentum", "nesterov", "adam", "adamw",
                                              "rmsprop"]
        assert by["optimizer"]["default"] == "sgd" and by["schedule"]["default"] == "constant"
        assert by["lr_gamma"]["min_exclusive"] and not by["lr_gamma"]["max_exclusive"]
        assert by["epsilon"]["min_exclusive"] and by["l2"]["min"] == 0
    finally:
        srv.stop()


TESTS = [test_grid_of_optimizers_and_schedules, test_hostile_values_name_the_field,
         test_meta_lists_the_rows]

if __name__ == "__main__":
    run(TESTS)
