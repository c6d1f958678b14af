"""Integration tests for issue 14's sweep routes and states over HTTP: the `stopped` trial state,
POST /sweeps/{id}/extend, /retry, /trials (warm start), POST /sweeps?dry_run=true and the
leaderboard's default order.
Usage: test_sweep_routes.py MLPTUNE_BINARY TEST_DATA_DIR"""
import json
import socket
import time

from harness import Server, problem, read, run

SPACE = {"hidden_layers": [1, 2], "neurons": [4, 8],
         "learning_rate": {"low": 0.01, "high": 1.0, "log": True},
         "batch_size": [16, 32], "activation": ["relu", "sigmoid"], "iterations": [3]}


def upload_iris(srv):
    _, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
    return ds


def trials_of(srv, sweep_id, sort="ordinal"):
    _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=%s&limit=1000"
                          % (sweep_id, sort), expect=200)
    return page["items"]


def history_of(srv, trial_id):
    _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % trial_id, expect=200)
    return h["history"]


def sse_replay(srv, sweep_id, timeout=30):
    """The event stream of a finished sweep (replayed from the store): [(event, data)]."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    sock.sendall(("GET /api/v1/sweeps/%d/events HTTP/1.1\r\nHost: localhost\r\n"
                  "Accept: text/event-stream\r\n\r\n" % sweep_id).encode())
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline and b"sweep_finished" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    sock.close()
    # wait for the whole sweep_finished block
    out = []
    for block in buf.decode(errors="replace").replace("\r\n", "\n").split("\n\n"):
        ev, data = None, ""
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
        if ev:
            out.append((ev, data))
    return out


def test_budget_stops_running_trials_as_stopped():
    """max_iterations_total spent while two trials run: both end `stopped`, kept (history, best
    values, model, the budget named), counted in the sweep, listed by the meta route, replayed
    over SSE with that status."""
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)
        space = dict(SPACE, iterations=[10000])
        body = {"dataset_id": ds["id"], "space": space,
                "search": {"type": "random", "max_trials": 50, "max_iterations_total": 30,
                           "seed": 1}}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        done = srv.wait_sweep(sw["id"], timeout=120)
        assert done["status"] == "completed", done
        assert done["trials"]["stopped"] == 2, done["trials"]
        items = trials_of(srv, sw["id"])
        assert len(items) == 2, items
        for t in items:
            assert t["status"] == "stopped", t
            assert t["error"] == ("stopped: the sweep's max_iterations_total budget "
                                  "(30 iterations) was spent"), t
            assert t["has_model"] is True, t
            assert 1 <= t["iterations_done"] < 10000, t
            assert len(history_of(srv, t["id"])) == t["iterations_done"], t
            assert t["best_iteration"] is not None and t["best_val_accuracy"] is not None, t
        _, _, meta = srv.json("GET", "/api/v1/meta/parameters", expect=200)
        assert "stopped" in meta["trial_states"]["final"], meta["trial_states"]
        assert "stopped" in meta["trial_states"]["all"], meta["trial_states"]
        events = sse_replay(srv, sw["id"])
        ends = [json.loads(d)["status"] for e, d in events if e == "trial_finished"]
        assert ends == ["stopped", "stopped"], events
        _, _, page = srv.json("GET", "/api/v1/sweeps?status=completed", expect=200)
        assert any(s["id"] == sw["id"] and s["trials"]["stopped"] == 2 for s in page["items"])
    finally:
        srv.stop()


def test_leaderboard_ranks_by_best_over_any_iteration():
    """Without sort= the trials come best validation accuracy first (over any iteration, not the
    last), each saying at which iteration (best_iteration), nulls last; the sweep's best trial
    says it too; sort=ordinal and the other keys still work, a bad key is 422."""
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)
        body = {"dataset_id": ds["id"],
                "grid": {"hidden_layers": [1], "neurons": [4, 8],
                         "learning_rate": [0.01, 0.3, 2.0], "iterations": [12]},
                "training": {"batch_size": 8, "seed": 5}}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        done = srv.wait_sweep(sw["id"])
        _, _, page = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=100" % sw["id"], expect=200)
        items = page["items"]
        assert len(items) == 6, items
        key = [(t["best_val_accuracy"] is None, -(t["best_val_accuracy"] or 0), t["id"])
               for t in items]
        assert key == sorted(key), [(t["id"], t["best_val_accuracy"]) for t in items]
        for t in items:
            if t["best_val_accuracy"] is None:
                continue
            h = history_of(srv, t["id"])
            accs = [r["val_accuracy"] for r in h]
            best = max(a for a in accs if a is not None)
            assert t["best_val_accuracy"] == best, t
            assert h[t["best_iteration"] - 1]["val_accuracy"] == best, t
            assert accs.index(best) + 1 == t["best_iteration"], t
        assert done["best_trial"]["id"] == items[0]["id"], done["best_trial"]
        assert done["best_trial"]["best_iteration"] == items[0]["best_iteration"], done
        by_ordinal = trials_of(srv, sw["id"], sort="ordinal")
        assert [t["ordinal"] for t in by_ordinal] == sorted(t["ordinal"] for t in items)
        fin = trials_of(srv, sw["id"], sort="-final_val_accuracy")
        assert len(fin) == 6
        problem(srv.request("GET", "/api/v1/sweeps/%d/trials?sort=best_iteration" % sw["id"]),
                422)
        # the default order pages with its cursor
        _, _, p1 = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=4" % sw["id"], expect=200)
        _, _, p2 = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=4&cursor=%s"
                            % (sw["id"], p1["next_cursor"]), expect=200)
        assert [t["id"] for t in p1["items"] + p2["items"]] == [t["id"] for t in items]
    finally:
        srv.stop()


def iris_flops(hidden, iterations, split=0.2, rows=150, features=4, classes=3):
    """GEMM FLOPs of a run on iris counted by hand: per iteration forward 2W, weight gradients
    2W, input gradients 2(W - W_first) per training row, forward 2W per validation row."""
    widths = [features] + hidden + [classes]
    w = sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1))
    w_first = widths[0] * widths[1]
    n_val = int(rows * split + 0.5)
    return ((6 * w - 2 * w_first) * (rows - n_val) + 2 * w * n_val) * iterations


def test_dry_run_creates_nothing_and_counts():
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)
        grid = {"dataset_id": ds["id"],
                "grid": {"hidden_layers": [1, 2], "neurons": [4, 8], "learning_rate": [0.1],
                         "iterations": [5, 10]}}
        _, _, before = srv.json("GET", "/api/v1/sweeps", expect=200)
        _, _, dry = srv.json("POST", "/api/v1/sweeps?dry_run=true", grid, expect=200)
        assert dry["dry_run"] is True and dry["search"] == "grid", dry
        assert dry["trials"] == 8 and dry["budget"] is None, dry
        # iterations 5 and 10 of the same trial share one run: only the 10 count
        assert dry["iterations_total"] == 4 * 10, dry
        want = sum(iris_flops([n] * h, 10) for h in (1, 2) for n in (4, 8))
        assert abs(dry["gemm_flops"] - want) <= 1e-9 * want, (dry["gemm_flops"], want)
        assert dry["workers"] == 2 and dry["throughput_gflops"] > 0, dry
        assert dry["throughput_source"] in ("calibration", "learned"), dry
        assert abs(dry["throughput_gflops"] - 2 * dry["throughput_gflops_per_worker"]) < 1e-6 * \
            dry["throughput_gflops"], dry
        assert abs(dry["estimated_seconds"] - want / (dry["throughput_gflops"] * 1e9)) <= \
            1e-6 * dry["estimated_seconds"], dry
        _, _, after = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert after["items"] == before["items"], after
        srv.json("POST", "/api/v1/sweeps?dry_run=false", grid, expect=201)  # false creates
        # sampling: max_trials draws, capped by the iterations budget
        body = {"dataset_id": ds["id"], "space": SPACE,
                "search": {"type": "random", "max_trials": 6, "max_seconds": 900, "seed": 2}}
        _, _, dry = srv.json("POST", "/api/v1/sweeps?dry_run=true", body, expect=200)
        assert dry["search"] == "random" and dry["trials"] == 6, dry
        assert dry["budget"] == {"max_trials": 6, "max_seconds": 900.0,
                                 "max_iterations_total": None}, dry
        assert dry["iterations_total"] == 6 * 3, dry
        body["search"]["max_iterations_total"] = 10
        _, _, dry = srv.json("POST", "/api/v1/sweeps?dry_run=true", body, expect=200)
        assert dry["iterations_total"] == 10, dry
        # time only: max_trials is then the server's --max-trials (1000), the estimate at most
        # the time budget
        body["search"] = {"type": "random", "max_seconds": 0.001}
        _, _, dry = srv.json("POST", "/api/v1/sweeps?dry_run=true", body, expect=200)
        assert dry["trials"] == 1000 and dry["iterations_total"] == 3000, dry
        assert dry["budget"]["max_trials"] == 1000, dry
        assert dry["estimated_seconds"] == 0.001, dry
        # hostile: validation as for creating; the query argument itself
        b = problem(srv.request("POST", "/api/v1/sweeps?dry_run=true",
                                dict(grid, grid=dict(grid["grid"], learning_rate=[-1]))), 422)
        assert b["errors"][0]["field"] == "grid.learning_rate[0]", b
        b = problem(srv.request("POST", "/api/v1/sweeps?dry_run=true",
                                dict(grid, dataset_id=999)), 422)
        assert b["errors"][0]["field"] == "dataset_id", b
        for v in ["yes", "", "1", "TRUE"]:
            b = problem(srv.request("POST", "/api/v1/sweeps?dry_run=" + v, grid), 422)
            assert b["errors"][0]["field"] == "query.dry_run", b
        b = problem(srv.request("POST", "/api/v1/sweeps?dry_run=true&x=1", grid), 422)
        assert b["errors"][0]["field"] == "query.x", b
        problem(srv.request("POST", "/api/v1/sweeps?dry_run=true", "{",
                            {"Content-Type": "application/json"}), 400)
        _, _, after = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert len(after["items"]) == len(before["items"]) + 1, after
    finally:
        srv.stop()


TESTS = [test_dry_run_creates_nothing_and_counts,
         test_budget_stops_running_trials_as_stopped,
         test_leaderboard_ranks_by_best_over_any_iteration]

if __name__ == "__main__":
    run(TESTS)
