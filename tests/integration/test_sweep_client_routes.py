"""`mlptune sweep --preview`, `extend` and `retry` against the real `mlptune serve` (issue 14).

These need the server's routes POST /api/v1/sweeps?dry_run=true, /sweeps/{id}/extend and
/sweeps/{id}/retry. A server without them (404 or 405 for the route, or 422 for the unknown
query parameter dry_run) makes the tests that need them skip, with the reason printed; when none
can run the script exits 77, which ctest reports as skipped (SKIP_RETURN_CODE). The client's
own behaviour against a scripted server is tested in test_sweep_client.py either way.
Usage: test_sweep_client_routes.py MLPTUNE_BINARY TEST_DATA_DIR"""
import json
import os
import subprocess
import sys
import time

from harness import BIN, DATA, Server, run
from test_sweep_client import (SMALL_GRID, one_json, sane, upload_iris, url_of, write_json)

IRIS = os.path.join(DATA, "iris.csv")
RANDOM = {"search": {"type": "random", "max_trials": 2, "seed": 3},
          "space": {"hidden_layers": [1], "neurons": [4, 8],
                    "learning_rate": {"low": 0.05, "high": 0.5, "log": True},
                    "iterations": [3]},
          "training": {"activation": "sigmoid", "batch_size": 16, "seed": 7}}
ONE_TRIAL = {"grid": {"hidden_layers": [1], "neurons": [8], "learning_rate": [0.2],
                      "iterations": [3]},
             "training": {"activation": "sigmoid", "batch_size": 16, "seed": 7}}
SKIP_CODE = 77


def sweep(srv, *args, timeout=180):
    """`mlptune sweep [extend|retry] ...` with --server put after the subcommand."""
    args = [str(a) for a in args]
    head = args[:1] if args and args[0] in ("extend", "retry") else []
    cmd = [BIN, "sweep"] + head + ["--server", url_of(srv)] + args[len(head):]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), sane(p.stderr), time.time() - t0


def create(srv, ds, spec):
    _, _, sw = srv.json("POST", "/api/v1/sweeps", dict(spec, dataset_id=ds), expect=201)
    return srv.wait_sweep(sw["id"])


def probe():
    """Which of the routes this server has: {"preview": bool, "extend": bool, "retry": bool}."""
    srv = Server(workers=1)
    try:
        ds = upload_iris(srv)
        body = dict(ONE_TRIAL, dataset_id=ds)
        status, _, data = srv.request("POST", "/api/v1/sweeps?dry_run=true", body,
                                      {"Content-Type": "application/json"})
        refused_query = status in (400, 422) and b'"dry_run"' in data
        have = {"preview": status == 200 and not refused_query}
        sw = create(srv, ds, ONE_TRIAL)
        # an empty extend is refused by a server that has the route (4xx other than 404/405)
        status, _, _ = srv.request("POST", "/api/v1/sweeps/%d/extend" % sw["id"], {})
        have["extend"] = status not in (404, 405)
        status, _, _ = srv.request("POST", "/api/v1/sweeps/%d/retry" % sw["id"], {})
        have["retry"] = status not in (404, 405)
        return have
    finally:
        srv.stop()


# ---- --preview ---------------------------------------------------------------------------------

def test_preview():
    srv = Server()
    try:
        ds = upload_iris(srv)
        grid = write_json(SMALL_GRID)
        code, out, err, _ = sweep(srv, "--spec", grid, "--dataset", ds, "--preview")
        assert code == 0 and err == "", (code, out, err)
        assert "preview (nothing was created): grid search" in out, out
        assert "trials       4\n" in out and "estimated" in out, out
        code, out, err, _ = sweep(srv, "--spec", grid, "--dataset", ds, "--preview", "--json")
        assert code == 0, (code, out, err)
        doc = one_json(out)
        assert doc["dry_run"] is True and doc["search"] == "grid" and doc["trials"] == 4, doc
        assert doc["iterations_total"] >= 20 and doc["gemm_flops"] > 0, doc
        assert doc["estimated_seconds"] > 0 and doc["workers"] == 2, doc
        # a sampling spec: its max_trials; the dataset id from the file
        spec = write_json(dict(RANDOM, dataset_id=ds))
        code, out, err, _ = sweep(srv, "--spec", spec, "--preview", "--json")
        os.unlink(spec)
        assert code == 0, (code, out, err)
        doc = one_json(out)
        assert doc["search"] == "random" and doc["trials"] == 2, doc
        # a bad spec: the server's field errors, exit 2
        bad = json.loads(json.dumps(SMALL_GRID))
        bad["grid"]["learning_rate"] = [0.1, -1]
        bad_path = write_json(bad)
        code, out, err, _ = sweep(srv, "--spec", bad_path, "--dataset", ds, "--preview")
        os.unlink(bad_path)
        assert code == 2 and out == "" and "grid.learning_rate[1]" in err, (code, err)
        code, out, err, _ = sweep(srv, "--spec", grid, "--dataset", "999999", "--preview")
        assert code == 2 and "dataset_id" in err, (code, err)
        # a file to upload first, then the preview
        code, out, err, _ = sweep(srv, "--spec", grid, "--dataset", IRIS, "--preview")
        assert code == 0 and "uploaded iris.csv" in err and "trials       4" in out, (code, err)
        os.unlink(grid)
        # nothing was created by any of it
        _, _, lst = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert lst["items"] == [], lst
    finally:
        srv.stop()


# ---- extend ------------------------------------------------------------------------------------

def test_extend_budget_and_trials():
    srv = Server()
    try:
        ds = upload_iris(srv)
        sw = create(srv, ds, RANDOM)
        assert sw["status"] == "completed" and sw["trials_total"] == 2, sw
        code, out, err, _ = sweep(srv, "extend", sw["id"], "--max-trials", 4, "--wait", "--json")
        assert code == 0, (code, out, err)
        doc = one_json(out)
        assert doc["status"] == "completed" and len(doc["leaderboard"]) == 4, doc
        # more iterations for one trial of a finished grid sweep, continuing where it stopped
        one = create(srv, ds, ONE_TRIAL)
        _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials" % one["id"], expect=200)
        tid = page["items"][0]["id"]
        code, out, err, _ = sweep(srv, "extend", one["id"], "--trial", "%d:6" % tid, "--wait")
        assert code == 0 and "extended" in out and "completed" in out, (code, out, err)
        _, _, trial = srv.json("GET", "/api/v1/trials/%d" % tid, expect=200)
        assert trial["iterations_done"] == 6, trial
        _, _, hist = srv.json("GET", "/api/v1/trials/%d/history" % tid, expect=200)
        assert [r["iteration"] for r in hist["history"]] == [1, 2, 3, 4, 5, 6], hist
        # the server's refusals: exit 2 with its words
        code, out, err, _ = sweep(srv, "extend", sw["id"], "--max-trials", 1)
        assert code == 2 and "max_trials" in err, (code, err)
        code, out, err, _ = sweep(srv, "extend", one["id"], "--trial", "999999:9")
        assert code == 2 and out == "", (code, err)
        code, out, err, _ = sweep(srv, "extend", 999999, "--max-trials", 9)
        assert code == 2 and "no such sweep" in err, (code, err)
    finally:
        srv.stop()


# ---- retry -------------------------------------------------------------------------------------

def test_retry():
    srv = Server(workers=1)
    try:
        ds = upload_iris(srv)
        sw = create(srv, ds, ONE_TRIAL)
        code, out, err, _ = sweep(srv, "retry", sw["id"])
        assert code == 0 and "no failed or lost trial to requeue" in out, (code, out, err)
        code, out, err, _ = sweep(srv, "retry", sw["id"], "--json")
        assert code == 0 and one_json(out)["requeued"] == [], (code, out, err)
        code, out, err, _ = sweep(srv, "retry", sw["id"], "--wait", "--json")
        doc = one_json(out)
        assert code == 0 and doc["status"] == "completed" and doc["requeued"] == [], doc
        code, out, err, _ = sweep(srv, "retry", 999999)
        assert code == 2 and "no such sweep" in err, (code, err)
    finally:
        srv.stop()


if __name__ == "__main__":
    have = probe()
    needs = [(test_preview, "preview", "POST /api/v1/sweeps?dry_run=true"),
             (test_extend_budget_and_trials, "extend", "POST /api/v1/sweeps/{id}/extend"),
             (test_retry, "retry", "POST /api/v1/sweeps/{id}/retry")]
    runnable = []
    for test, key, route in needs:
        if have[key]:
            runnable.append(test)
        else:
            print("skip - %s: this server has no %s yet (the i14-routes branch adds it)"
                  % (test.__name__, route), flush=True)
    if not runnable:
        print("0 passed, 0 failed, %d skipped" % len(needs))
        sys.exit(SKIP_CODE)
    run(runnable)
