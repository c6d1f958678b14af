"""Integration tests for issue 16's dropout over HTTP and on the command line: a sweep whose grid
varies dropout_hidden trains both trials, stores the value in each trial's params, reproduces a
trial's history exactly in a second sweep, and differs from the trial without dropout; hostile
values of grid.dropout_*, training.dropout_* and space.dropout_* get a 422 naming the field; a
random search samples dropout from a range; `mlptune train --dropout-hidden` accepts [0, 1) only.
Usage: test_dropout.py MLPTUNE_BINARY TEST_DATA_DIR"""
import json
import os
import subprocess

from harness import BIN, DATA, Server, problem, read, run

SRV = None
DS = None


def base(**grid):
    g = {"hidden_layers": [1], "neurons": [16], "learning_rate": [0.1], "iterations": [6]}
    g.update(grid)
    return {"dataset_id": DS, "name": "dropout", "grid": g,
            "training": {"activation": "relu", "batch_size": 16, "seed": 5}}


def trials_of(sweep_id):
    _, _, page = SRV.json("GET", "/api/v1/sweeps/%d/trials?sort=ordinal&limit=100" % sweep_id,
                          expect=200)
    return page["items"]


def history_of(trial_id):
    _, _, h = SRV.json("GET", "/api/v1/trials/%d/history" % trial_id, expect=200)
    return [(r["train_loss"], r["val_loss"], r["val_accuracy"]) for r in h["history"]]


def run_sweep(body):
    _, _, sw = SRV.json("POST", "/api/v1/sweeps", body, expect=201)
    done = SRV.wait_sweep(sw["id"], timeout=180)
    assert done["status"] == "completed", done
    return trials_of(sw["id"])


def test_sweep_over_dropout_hidden():
    trials = run_sweep(base(dropout_hidden=[0, 0.2]))
    assert len(trials) == 2, trials
    got = sorted(t["params"]["dropout_hidden"] for t in trials)
    assert got == [0, 0.2], got
    for t in trials:
        assert t["status"] == "completed", t
        assert t["params"]["dropout_input"] == 0, t["params"]
        assert t["best_val_accuracy"] > 0.8, t  # iris: dropout 0.2 still learns
    plain = next(t for t in trials if t["params"]["dropout_hidden"] == 0)
    drop = next(t for t in trials if t["params"]["dropout_hidden"] == 0.2)
    h_plain, h_drop = history_of(plain["id"]), history_of(drop["id"])
    assert h_plain != h_drop, "dropout changed nothing"
    # the same trial in another sweep (one value, sweep-wide): the same masks, the same history
    body = base()
    body["training"]["dropout_hidden"] = 0.2
    again = run_sweep(body)
    assert len(again) == 1 and again[0]["params"]["dropout_hidden"] == 0.2, again
    assert history_of(again[0]["id"]) == h_drop
    # input dropout alone is a different trial again
    body = base(dropout_input=[0.3])
    only_in = run_sweep(body)
    assert only_in[0]["params"]["dropout_input"] == 0.3
    assert history_of(only_in[0]["id"]) != h_plain


def test_hostile_values_name_the_field():
    cases = []
    for name in ("dropout_input", "dropout_hidden"):
        for bad in (1, 1.5, -0.1, "x", None, True, [0.1], {}, "0.1"):
            cases.append((base(**{name: [0, bad]}), "grid.%s[1]" % name))
            b = base()
            b["training"][name] = bad
            cases.append((b, "training.%s" % name))
        for bad in ("x", None, 0.2, {}):
            cases.append((base(**{name: bad}), "grid.%s" % name))
        cases.append((base(**{name: []}), "grid.%s" % name))
    for body, field in cases:
        p = problem(SRV.json("POST", "/api/v1/sweeps", body), 422)
        fields = [e.get("field") for e in p.get("errors", [])]
        assert field in fields, (field, body, p)
    # not JSON numbers at all
    for raw in ('NaN', 'Infinity', '1e400'):
        text = json.dumps(base()).replace('"learning_rate": [0.1]',
                                          '"learning_rate": [0.1], "dropout_hidden": [%s]' % raw)
        st, _, _ = SRV.request("POST", "/api/v1/sweeps", text,
                               {"Content-Type": "application/json"})
        assert st in (400, 422), (raw, st)


def test_search_space_range():
    body = {"dataset_id": DS, "name": "dropout search",
            "search": {"type": "random", "max_trials": 3, "seed": 1},
            "space": {"hidden_layers": [1], "neurons": [8], "learning_rate": [0.1],
                      "iterations": [2], "dropout_hidden": {"low": 0.0, "high": 0.5}},
            "training": {"batch_size": 16}}
    _, _, sw = SRV.json("POST", "/api/v1/sweeps", body, expect=201)
    done = SRV.wait_sweep(sw["id"], timeout=180)
    assert done["status"] == "completed", done
    vals = [t["params"]["dropout_hidden"] for t in trials_of(sw["id"])]
    assert len(vals) == 3 and all(0.0 <= v <= 0.5 for v in vals), vals
    assert len(set(vals)) > 1, vals
    body["space"]["dropout_hidden"] = {"low": 0.0, "high": 1.0}
    p = problem(SRV.json("POST", "/api/v1/sweeps", body), 422)
    fields = [e.get("field") for e in p.get("errors", [])]
    assert any(f and f.startswith("space.dropout_hidden") for f in fields), p


def test_train_flags():
    data = os.path.join(DATA, "iris.csv")
    ok = subprocess.run([BIN, "train", "--data", data, "--layers", "1", "--neurons", "8",
                         "--iterations", "3", "--dropout-hidden", "0.2", "--dropout-input",
                         "0.1", "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert '"done": true' in ok.stdout or '"done":true' in ok.stdout, ok.stdout
    for flag, bad in (("--dropout-hidden", "1"), ("--dropout-hidden", "-0.1"),
                      ("--dropout-input", "x"), ("--dropout-input", "nan")):
        r = subprocess.run([BIN, "train", "--data", data, "--layers", "1", "--neurons", "8",
                            flag, bad], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (flag, bad, r.returncode, r.stderr)
        assert flag in r.stderr, r.stderr


def main():
    global SRV, DS
    SRV = Server(workers=2)
    try:
        _, _, ds = SRV.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        DS = ds["id"]
        run([test_sweep_over_dropout_hidden, test_hostile_values_name_the_field,
             test_search_space_range, test_train_flags])
    finally:
        SRV.stop()


if __name__ == "__main__":
    main()
