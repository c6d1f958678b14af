"""The examples against the real service. The Fashion-MNIST recipe (examples/fashion.sh, issue 16):
its default search is accepted (a dry run), and a shortened run uploads both datasets, trains
with the test images as the sweep's test dataset and prints the best trial's test accuracy. The
research grid (examples/quickstart.sh) and the sensor workflow (examples/sensor.sh), shortened,
run to a completed sweep and print its leaderboard. They share examples/lib.sh.
Needs curl, jq and the IDX files of Debian's dataset-fashion-mnist (scripts/install-deps.sh).
Usage: test_examples.py MLPTUNE_BINARY TEST_DATA_DIR"""
import json
import os
import re
import subprocess

from harness import Server, run

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "examples", "fashion.sh")
QUICKSTART = os.path.join(ROOT, "examples", "quickstart.sh")
SENSOR = os.path.join(ROOT, "examples", "sensor.sh")
FMNIST = "/usr/share/datasets/fashion-mnist"


def recipe(srv, script=SCRIPT, **env):
    assert os.path.isfile(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")), \
        "install dataset-fashion-mnist (scripts/install-deps.sh)"
    e = dict(os.environ, MLPTUNE_URL="http://127.0.0.1:%d" % srv.port, FMNIST_DIR=FMNIST,
             ROWS="300", **env)
    return subprocess.run(["bash", script], env=e, capture_output=True, text=True, timeout=120)


def leaderboard(out, columns):
    """The rows of the leaderboard a script printed last (tab-separated, a header first)."""
    lines = out.strip().splitlines()
    head = max(i for i, line in enumerate(lines) if line.startswith("trial\t"))
    assert lines[head].split("\t")[:len(columns)] == columns, lines[head]
    return [line.split("\t") for line in lines[head + 1:]]


def test_default_search_is_accepted():
    srv = Server(workers=2)
    try:
        cp = recipe(srv, PREVIEW="1")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        preview = json.loads(cp.stdout.strip().splitlines()[-1])
        assert preview["dry_run"] is True and preview["search"] == "tpe", preview
        _, _, page = srv.json("GET", "/api/v1/datasets", expect=200)
        rows = sorted(d["rows"] for d in page["items"])
        assert rows == [300, 10000], rows  # the training images (ROWS) and the test set
        _, _, sweeps = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert sweeps["items"] == [], sweeps  # a dry run creates nothing
    finally:
        srv.stop()


def test_short_run_reports_test_accuracy():
    srv = Server(workers=2)
    try:
        space = {"hidden_layers": [1], "neurons": [16], "optimizer": ["adam", "rmsprop"],
                 "learning_rate": {"low": 0.001, "high": 0.003, "log": True},
                 "batch_size": [64], "dropout_input": [0.0, 0.1], "dropout_hidden": [0.2],
                 "schedule": ["cosine", "step"], "iterations": [2]}
        cp = recipe(srv, SPACE=json.dumps(space), MAX_TRIALS="3", ITERATIONS="2")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        m = re.search(r"best trial (\d+) \(chosen on validation\): test accuracy ([0-9.]+); "
                      r"sweep completed; wall time \d+ s", cp.stdout)
        assert m, cp.stdout
        _, _, trial = srv.json("GET", "/api/v1/trials/%s" % m.group(1), expect=200)
        assert abs(trial["test_accuracy"] - float(m.group(2))) < 1e-9, trial
        assert trial["params"]["optimizer"] in ("adam", "rmsprop"), trial["params"]
        _, _, sw = srv.json("GET", "/api/v1/sweeps/%d" % trial["sweep_id"], expect=200)
        _, _, test_ds = srv.json("GET", "/api/v1/datasets/%d" % sw["test_dataset_id"], expect=200)
        assert test_ds["rows"] == 10000, test_ds
        assert sw["trials_total"] == 3, sw
    finally:
        srv.stop()


def test_quickstart_runs_the_seed_grid():
    srv = Server(workers=2)
    try:
        cp = recipe(srv, script=QUICKSTART, ITERATIONS="1")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        _, _, page = srv.json("GET", "/api/v1/datasets", expect=200)
        assert [d["rows"] for d in page["items"]] == [300], page  # the first ROWS images only
        rows = leaderboard(cp.stdout, ["trial", "layers", "neurons", "lr", "iterations"])
        assert len(rows) == 8 and {r[4] for r in rows} == {"1"}, rows
        _, _, trial = srv.json("GET", "/api/v1/trials/%s" % rows[0][0], expect=200)
        _, _, sweep = srv.json("GET", "/api/v1/sweeps/%d" % trial["sweep_id"], expect=200)
        assert sweep["status"] == "completed" and sweep["trials_total"] == 8, sweep
    finally:
        srv.stop()


def test_sensor_runs_split_by_subject():
    srv = Server(workers=2)
    try:
        cp = recipe(srv, script=SENSOR, SUBJECTS="4", DURATION="20", ITERATIONS="2",
                    PRUNER="none")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        rows = leaderboard(cp.stdout, ["trial", "layers", "neurons", "lr", "status"])
        assert len(rows) == 8 and {r[4] for r in rows} == {"completed"}, rows
        _, _, page = srv.json("GET", "/api/v1/datasets", expect=200)
        assert len(page["items"]) == 2, page  # the recording and its windows
    finally:
        srv.stop()


if __name__ == "__main__":
    run([test_default_search_is_accepted, test_short_run_reports_test_accuracy,
         test_quickstart_runs_the_seed_grid, test_sensor_runs_split_by_subject])
