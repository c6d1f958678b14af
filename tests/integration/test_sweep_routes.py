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


def sse_read(srv, sweep_id, last_event_id=None, timeout=60):
    """Reads /events until sweep_finished: (status, [(event, id, data)])."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    extra = "Last-Event-ID: %s\r\n" % last_event_id if last_event_id else ""
    sock.sendall(("GET /api/v1/sweeps/%d/events HTTP/1.1\r\nHost: localhost\r\n"
                  "Accept: text/event-stream\r\n%s\r\n" % (sweep_id, extra)).encode())
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
        end = buf.find(b"event: sweep_finished")
        if end >= 0 and buf.find(b"\n\n", end) >= 0:  # the whole event (chunks may follow)
            break
        if b" 204 " in buf.split(b"\r\n")[0]:
            break
    sock.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head else 0
    out = []
    for block in body.decode(errors="replace").replace("\r\n", "\n").split("\n\n"):
        ev, eid, data = None, None, ""
        for line in block.split("\n"):
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("id:"):
                eid = line[3:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
        if ev:
            out.append((ev, eid, data))
    return status, out


def test_extended_sweep_streams_again():
    """A client that saw a sweep finish (its last event id) and reconnects after an extend gets
    the new events (not 204: the sweep runs again), ids going on, then a second sweep_finished."""
    srv = Server(workers=1)
    try:
        ds = upload_iris(srv)["id"]
        _, _, sw = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [400]), expect=201)
        status, events = sse_read(srv, sw["id"])
        assert status == 200 and events[-1][0] == "sweep_finished", events[-3:]
        last = events[-1][1]
        assert last, events[-1]
        t = trials_of(srv, sw["id"])[0]
        # without an extend, the same id says: nothing more (204)
        status, _ = sse_read(srv, sw["id"], last_event_id=last, timeout=10)
        assert status == 204, status
        srv.json("POST", "/api/v1/sweeps/%d/extend" % sw["id"],
                 {"trials": [{"id": t["id"], "iterations": 410}]}, expect=202)
        status, more = sse_read(srv, sw["id"], last_event_id=last)
        assert status == 200, status
        kinds = [e[0] for e in more]
        assert "trial_finished" in kinds and kinds[-1] == "sweep_finished", kinds
        iters = [json.loads(d)["iteration"] for e, _, d in more if e == "iteration"]
        assert iters and iters[-1] == 410 and min(iters) > 400, iters
        ids = [int(i) for _, i, _ in more if i]
        assert ids and min(ids) > int(last), (last, ids[:3])
    finally:
        srv.stop()


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
        # (a budget far below any machine's estimate for 3000 iterations)
        body["search"] = {"type": "random", "max_seconds": 1e-6}
        _, _, dry = srv.json("POST", "/api/v1/sweeps?dry_run=true", body, expect=200)
        assert dry["trials"] == 1000 and dry["iterations_total"] == 3000, dry
        assert dry["budget"]["max_trials"] == 1000, dry
        assert dry["estimated_seconds"] == 1e-6, dry
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
        huge = dict(grid, grid=dict(grid["grid"], learning_rate=[0.01 * (i + 1) for i in range(32)],
                                    neurons=list(range(1, 33)), iterations=[1, 2]))
        b = problem(srv.request("POST", "/api/v1/sweeps?dry_run=true", huge), 422)
        assert b["errors"][0]["field"] == "grid", b
        b = problem(srv.request("POST", "/api/v1/sweeps?dry_run=true&x=1", grid), 422)
        assert b["errors"][0]["field"] == "query.x", b
        problem(srv.request("POST", "/api/v1/sweeps?dry_run=true", "{",
                            {"Content-Type": "application/json"}), 400)
        _, _, after = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert len(after["items"]) == len(before["items"]) + 1, after
    finally:
        srv.stop()


def strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def grid_body(ds, iterations, lr=(0.3,), **training):
    return {"dataset_id": ds, "grid": {"hidden_layers": [1], "neurons": [8],
                                       "learning_rate": list(lr), "iterations": iterations},
            "training": dict({"batch_size": 16, "seed": 3, "momentum": 0.9}, **training)}


def by_iterations(items):
    return {t["params"]["iterations"]: t for t in items}


def test_extend_trials_over_http():
    """A completed grid whose two trials shared a prefix (3 following 6): extended to 9 and 12
    they run again, the sweep back to running, and their histories and models equal a grid of
    9 and 12 run from the start."""
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)["id"]
        _, _, sw = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [3, 6]), expect=201)
        srv.wait_sweep(sw["id"])
        t = by_iterations(trials_of(srv, sw["id"]))
        before = history_of(srv, t[3]["id"])
        _, _, ans = srv.json("POST", "/api/v1/sweeps/%d/extend" % sw["id"],
                             {"trials": [{"id": t[3]["id"], "iterations": 9},
                                         {"id": t[6]["id"], "iterations": 12}]}, expect=202)
        assert ans["id"] == sw["id"] and ans["status"] in ("queued", "running"), ans
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials_total"] == 2, done
        _, _, ref = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [9, 12]), expect=201)
        srv.wait_sweep(ref["id"])
        got, want = by_iterations(trials_of(srv, sw["id"])), by_iterations(trials_of(srv, ref["id"]))
        for n in (9, 12):
            assert got[n]["status"] == "completed" and got[n]["iterations_done"] == n, got[n]
            assert strip(history_of(srv, got[n]["id"])) == strip(history_of(srv, want[n]["id"]))
            assert got[n]["best_val_accuracy"] == want[n]["best_val_accuracy"]
            assert got[n]["best_iteration"] == want[n]["best_iteration"]
            _, _, m1 = srv.request("GET", "/api/v1/trials/%d/model" % got[n]["id"])
            _, _, m2 = srv.request("GET", "/api/v1/trials/%d/model" % want[n]["id"])
            assert m1 == m2 and len(m1) > 0
        assert history_of(srv, got[9]["id"])[:3] == before  # seconds included: not rewritten
    finally:
        srv.stop()


def test_extend_budget_over_http():
    """A completed random sweep given a larger max_trials goes on with the draws it would have
    made: the same trials as a sweep given that max_trials from the start."""
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)["id"]
        body = {"dataset_id": ds, "space": SPACE,
                "search": {"type": "random", "max_trials": 3, "seed": 7}}
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(sw["id"])
        _, _, ans = srv.json("POST", "/api/v1/sweeps/%d/extend" % sw["id"], {"max_trials": 5},
                             expect=202)
        assert ans["spec"]["search"]["max_trials"] == 5, ans["spec"]
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials_total"] == 5, done
        body["search"]["max_trials"] = 5
        _, _, ref = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(ref["id"])
        assert [t["params"] for t in trials_of(srv, sw["id"])] == \
            [t["params"] for t in trials_of(srv, ref["id"])]
        # budgets must grow, exist, and not be spent already
        for b, field in [({"max_trials": 5}, "max_trials"), ({"max_trials": 2}, "max_trials"),
                         ({"max_trials": 100000}, "max_trials"),
                         ({"max_iterations_total": 50}, "max_iterations_total"),
                         ({"max_seconds": 60}, "max_seconds"),
                         ({"max_seconds": -1}, "max_seconds"),
                         ({"max_seconds": "x"}, "max_seconds")]:
            p = problem(srv.request("POST", "/api/v1/sweeps/%d/extend" % sw["id"], b), 422)
            assert p["errors"][0]["field"] == field, (b, p)
        body["search"] = {"type": "random", "max_trials": 50, "max_seconds": 1, "seed": 1}
        body["space"] = dict(SPACE, iterations=[10000])
        _, _, timed = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(timed["id"])
        time.sleep(1.5)
        p = problem(srv.request("POST", "/api/v1/sweeps/%d/extend" % timed["id"],
                                {"max_seconds": 2}), 422)
        assert p["errors"][0]["field"] == "max_seconds" and "at once" in p["detail"], p
        _, _, ans = srv.json("POST", "/api/v1/sweeps/%d/extend" % timed["id"],
                             {"max_seconds": 4}, expect=202)
        done = srv.wait_sweep(timed["id"])
        assert done["trials"]["stopped"] >= 1, done
    finally:
        srv.stop()


def test_tpe_sweep_goes_on():
    """A TPE sweep (with ASHA) is previewed as tpe, extended to more trials after it completed,
    takes a warm-start trial and an extended trial, and completes each time."""
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)["id"]
        body = {"dataset_id": ds, "space": dict(SPACE, iterations=[6]),
                "search": {"type": "tpe", "max_trials": 4, "n_startup_trials": 2, "seed": 5},
                "pruner": {"type": "asha", "min_iterations": 1, "reduction_factor": 3}}
        _, _, dry = srv.json("POST", "/api/v1/sweeps?dry_run=true", body, expect=200)
        assert dry["search"] == "tpe" and dry["trials"] == 4, dry
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        assert srv.wait_sweep(sw["id"])["status"] == "completed"
        srv.json("POST", "/api/v1/sweeps/%d/extend" % sw["id"], {"max_trials": 6}, expect=202)
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials_total"] == 6, done
        _, _, ans = srv.json("POST", "/api/v1/sweeps/%d/trials" % sw["id"],
                             {"trials": [{"learning_rate": 0.3, "neurons": 8}]}, expect=201)
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials_total"] == 7, done
        ended = [t for t in trials_of(srv, sw["id"]) if t["status"] in ("completed", "pruned")]
        t = ended[0]
        srv.json("POST", "/api/v1/sweeps/%d/extend" % sw["id"],
                 {"trials": [{"id": t["id"], "iterations": 9}]}, expect=202)
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials_total"] == 7, done
        _, _, again = srv.json("GET", "/api/v1/trials/%d" % t["id"], expect=200)
        assert again["params"]["iterations"] == 9 and again["status"] in ("completed", "pruned")
    finally:
        srv.stop()


def test_extend_hostile():
    srv = Server(workers=1)
    try:
        ds = upload_iris(srv)["id"]
        _, _, a = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [2]), expect=201)
        _, _, b = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [2]), expect=201)
        srv.wait_sweep(a["id"])
        srv.wait_sweep(b["id"])
        ta, tb = trials_of(srv, a["id"])[0], trials_of(srv, b["id"])[0]
        url = "/api/v1/sweeps/%d/extend" % a["id"]
        cases = [
            ({}, "body"), ([], "body"), ({"x": 1}, "x"), ({"trials": []}, "trials"),
            ({"trials": "x"}, "trials"), ({"trials": [1]}, "trials[0]"),
            ({"trials": [{"id": tb["id"], "iterations": 5}]}, "trials[0].id"),
            ({"trials": [{"id": 99999, "iterations": 5}]}, "trials[0].id"),
            ({"trials": [{"id": ta["id"], "iterations": 2}]}, "trials[0].iterations"),
            ({"trials": [{"id": ta["id"], "iterations": 10001}]}, "trials[0].iterations"),
            ({"trials": [{"id": ta["id"]}]}, "trials[0].iterations"),
            ({"trials": [{"id": ta["id"], "iterations": 5, "lr": 1}]}, "trials[0].lr"),
            ({"trials": [{"id": ta["id"], "iterations": 5}, {"id": ta["id"], "iterations": 6}]},
             "trials[1].id"),
            ({"trials": [{"id": -1, "iterations": 5}]}, "trials[0].id"),
            ({"trials": [{"id": ta["id"], "iterations": 5}] * 1001}, "trials"),
        ]
        for body, field in cases:
            p = problem(srv.request("POST", url, body), 422)
            assert p["errors"][0]["field"] == field, (body, p)
        p = problem(srv.request("POST", url, {"max_trials": 9}), 409)  # a grid has no budget
        problem(srv.request("POST", "/api/v1/sweeps/99999/extend", {"max_trials": 9}), 404)
        problem(srv.request("POST", "/api/v1/sweeps/abc/extend", {"max_trials": 9}), 404)
        problem(srv.request("POST", url, "{", {"Content-Type": "application/json"}), 400)
        problem(srv.request("POST", url, "x", {"Content-Type": "text/plain"}), 415)
        problem(srv.request("GET", url), 405)
        # a canceled sweep, a failed trial: 409
        _, _, c = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [10000]), expect=201)
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % c["id"], expect=200)
        srv.wait_sweep(c["id"])
        tc = trials_of(srv, c["id"])[0]
        problem(srv.request("POST", "/api/v1/sweeps/%d/extend" % c["id"],
                            {"trials": [{"id": tc["id"], "iterations": 10000}]}), 409)
        # a sweep being deleted: gone is 404
        srv.request("DELETE", "/api/v1/sweeps/%d" % b["id"])
        problem(srv.request("POST", "/api/v1/sweeps/%d/extend" % b["id"],
                            {"trials": [{"id": tb["id"], "iterations": 5}]}), 404)
        _, _, still = srv.json("GET", "/api/v1/sweeps/%d" % a["id"], expect=200)
        assert still["status"] == "completed", still
    finally:
        srv.stop()


def find_matrix(srv):
    import glob
    import os
    files = glob.glob(os.path.join(srv.data_dir, "datasets", "*.mlds"))
    assert len(files) == 1, files
    return files[0]


def test_dataset_delete_removes_its_file():
    """DELETE /api/v1/datasets/{id} removes the dataset's matrix file from the data dir too."""
    import os
    srv = Server(workers=1)
    try:
        ds = upload_iris(srv)["id"]
        path = find_matrix(srv)
        srv.json("DELETE", "/api/v1/datasets/%d" % ds, expect=204)
        assert not os.path.exists(path), path
        problem(srv.request("GET", "/api/v1/datasets/%d" % ds), 404)
    finally:
        srv.stop()


def test_retry_over_http():
    """Trials that failed (their dataset file gone) are re-queued once it is back; trials a
    cancel cut short are lost and continue; an empty retry is not an error."""
    import os
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)["id"]
        path = find_matrix(srv)
        os.rename(path, path + ".away")
        _, _, sw = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [4], lr=(0.1, 0.3)),
                            expect=201)
        assert srv.wait_sweep(sw["id"])["status"] == "failed"
        os.rename(path + ".away", path)
        _, _, ans = srv.json("POST", "/api/v1/sweeps/%d/retry" % sw["id"], expect=202)
        ids = sorted(t["id"] for t in trials_of(srv, sw["id"]))
        assert sorted(ans["requeued"]) == ids, ans
        assert ans["sweep"]["status"] in ("queued", "running"), ans
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials"]["completed"] == 2, done
        assert done["error"] is None, done
        _, _, again = srv.json("POST", "/api/v1/sweeps/%d/retry" % sw["id"], {}, expect=202)
        assert again["requeued"] == [] and again["sweep"]["status"] == "completed", again
        # lost: canceled mid-run; the retry continues from the rows and equals a full run
        _, _, c = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [3000]), expect=201)
        deadline = time.time() + 60
        while time.time() < deadline and trials_of(srv, c["id"])[0]["iterations_done"] < 3:
            time.sleep(0.01)
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % c["id"], expect=200)
        while time.time() < deadline and trials_of(srv, c["id"])[0]["status"] == "running":
            time.sleep(0.01)
        lost = trials_of(srv, c["id"])[0]
        assert lost["status"] == "canceled" and lost["iterations_done"] < 3000, lost
        _, _, ans = srv.json("POST", "/api/v1/sweeps/%d/retry" % c["id"], expect=202)
        assert ans["requeued"] == [lost["id"]], ans
        assert srv.wait_sweep(c["id"], timeout=300)["status"] == "completed"
        _, _, ref = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [3000]), expect=201)
        srv.wait_sweep(ref["id"], timeout=300)
        assert strip(history_of(srv, lost["id"])) == \
            strip(history_of(srv, trials_of(srv, ref["id"])[0]["id"]))
        # hostile
        url = "/api/v1/sweeps/%d/retry" % sw["id"]
        p = problem(srv.request("POST", url, {"x": 1}), 422)
        assert p["errors"][0]["field"] == "x", p
        p = problem(srv.request("POST", url, [1]), 422)
        assert p["errors"][0]["field"] == "body", p
        problem(srv.request("POST", url, "{", {"Content-Type": "application/json"}), 400)
        problem(srv.request("POST", "/api/v1/sweeps/99999/retry"), 404)
        problem(srv.request("POST", url, "x", {"Content-Type": "text/plain"}), 415)
        srv.json("DELETE", "/api/v1/sweeps/%d" % ref["id"], expect=204)  # deleted: gone
        problem(srv.request("POST", "/api/v1/sweeps/%d/retry" % ref["id"]), 404)
        problem(srv.request("POST", "/api/v1/sweeps/%d/trials" % ref["id"], {"trials": [{}]}),
                404)
        problem(srv.request("POST", "/api/v1/sweeps/0/retry"), 404)
        problem(srv.request("GET", url), 405)
    finally:
        srv.stop()


def test_warm_start_over_http():
    srv = Server(workers=2, extra=["--max-trials", "6", "--max-model-mb", "1"])
    try:
        ds = upload_iris(srv)["id"]
        _, _, sw = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [3], lr=(0.1, 0.3)),
                            expect=201)
        srv.wait_sweep(sw["id"])
        url = "/api/v1/sweeps/%d/trials" % sw["id"]
        _, _, ans = srv.json("POST", url, {"trials": [
            {"learning_rate": 0.5},
            {"hidden_layers": 2, "neurons": 6, "activation": "tanh", "iterations": 4},
            {"layers": [5, 3], "batch_size": 8}]}, expect=201)
        new = ans["trials"]
        assert len(new) == 3 and all(t["status"] in ("queued", "running", "completed")
                                     for t in new), new
        p0, p1, p2 = (t["params"] for t in new)
        # left out: the sweep's first values (hidden 1 x 8, lr 0.1, 3 iterations, batch 16)
        assert p0["learning_rate"] == 0.5 and p0["layers"] == [8] and p0["iterations"] == 3, p0
        assert p0["batch_size"] == 16 and p0["momentum"] == 0.9 and p0["seed"] == 3, p0
        assert p1["layers"] == [6, 6] and p1["activation"] == "tanh" and p1["iterations"] == 4
        assert p1["learning_rate"] == 0.1, p1
        assert p2["layers"] == [5, 3] and p2["batch_size"] == 8, p2
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["trials_total"] == 5, done
        assert done["trials"]["completed"] == 5, done
        assert [t["ordinal"] for t in trials_of(srv, sw["id"])] == [0, 1, 2, 3, 4]
        # hostile: each refusal names the trial's field
        cases = [
            ({"trials": [{"learning_rate": -1}]}, "trials[0].learning_rate"),
            ({"trials": [{}, {"foo": 1}]}, "trials[1].foo"),
            ({"trials": [{"layers": [4], "neurons": 4}]}, "trials[0].layers"),
            ({"trials": [{"neurons": 5000}]}, "trials[0].neurons"),
            ({"trials": [{"hidden_layers": 99}]}, "trials[0].hidden_layers"),
            ({"trials": [{"activation": "nope"}]}, "trials[0].activation"),
            ({"trials": [{"iterations": 0}]}, "trials[0].iterations"),
            ({"trials": [{"batch_size": 1.5}]}, "trials[0].batch_size"),
            ({"trials": [{"hidden_layers": 8, "neurons": 4096}]}, "trials[0].neurons"),
            ({"trials": [7]}, "trials[0]"),
            ({"trials": []}, "trials"),
            ({"trials": {}}, "trials"),
            ({"trials": [{}] * 7}, "trials"),
            ({"trials": [{}], "x": 1}, "x"),
            ({"trials": [{}, {}]}, "trials"),  # 5 + 2 > --max-trials 6
        ]
        for body, field in cases:
            p = problem(srv.request("POST", url, body), 422)
            assert p["errors"][0]["field"] == field, (body, p)
        p = problem(srv.request("POST", url, {"trials": [{"hidden_layers": 8, "neurons": 4096}]}),
                    422)
        assert "max_model_mb" in p["errors"][0]["message"], p
        problem(srv.request("POST", "/api/v1/sweeps/99999/trials", {"trials": [{}]}), 404)
        problem(srv.request("POST", url, "{", {"Content-Type": "application/json"}), 400)
        _, _, still = srv.json("GET", "/api/v1/sweeps/%d" % sw["id"], expect=200)
        assert still["trials_total"] == 5 and still["status"] == "completed", still
        # a canceled sweep takes no trials
        _, _, c = srv.json("POST", "/api/v1/sweeps", grid_body(ds, [10000]), expect=201)
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % c["id"], expect=200)
        problem(srv.request("POST", "/api/v1/sweeps/%d/trials" % c["id"], {"trials": [{}]}), 409)
        # a random sweep: the space's first values, counted against its max_trials
        body = {"dataset_id": ds, "space": SPACE,
                "search": {"type": "random", "max_trials": 2, "seed": 7}}
        _, _, r = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        srv.wait_sweep(r["id"])
        _, _, ans = srv.json("POST", "/api/v1/sweeps/%d/trials" % r["id"],
                             {"trials": [{"learning_rate": 0.2}]}, expect=201)
        p = ans["trials"][0]["params"]
        assert p["layers"] == [4] and p["batch_size"] == 16 and p["activation"] == "relu", p
        done = srv.wait_sweep(r["id"])
        assert done["trials_total"] == 3 and done["status"] == "completed", done
    finally:
        srv.stop()


TESTS = [test_dataset_delete_removes_its_file, test_tpe_sweep_goes_on, test_extended_sweep_streams_again, test_extend_trials_over_http, test_extend_budget_over_http, test_extend_hostile,
         test_retry_over_http, test_warm_start_over_http,
         test_dry_run_creates_nothing_and_counts,
         test_budget_stops_running_trials_as_stopped,
         test_leaderboard_ranks_by_best_over_any_iteration]

if __name__ == "__main__":
    run(TESTS)
