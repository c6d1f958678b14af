"""Integration tests: the real `mlptune serve` on an ephemeral port with a temporary data dir.
Usage: test_service.py MLPTUNE_BINARY TEST_DATA_DIR"""
import gzip
import json
import os
import socket
import struct
import threading
import time

from harness import Server, problem, read, run

SEED_GRID = {"hidden_layers": [1, 2], "neurons": [8, 16], "learning_rate": [0.1, 0.5],
             "iterations": [6]}


def make_idx(n=200, side=6, seed=3):
    """A small 3-class image problem as IDX bytes (images, labels)."""
    import random
    rng = random.Random(seed)
    images, labels = bytearray(), bytearray()
    for i in range(n):
        c = i % 3
        img = [rng.randrange(50) for _ in range(side * side)]
        k = rng.randrange(side)
        for t in range(side):
            img[(k * side + t) if c == 0 else (t * side + k) if c == 1 else (t * side + t)] = 230
        images += bytes(img)
        labels.append(c)
    return (struct.pack(">HBBIII", 0, 8, 3, n, side, side) + bytes(images),
            struct.pack(">HBBI", 0, 8, 1, n) + bytes(labels))


def upload_iris(srv, name="iris"):
    _, hdrs, ds = srv.upload({"name": name}, {"file": ("iris.csv", read("iris.csv"))})
    return ds


def upload_digits(srv):
    _, hdrs, ds = srv.upload({"name": "digits"}, {"file": ("digits.csv", read("digits.csv"))})
    assert ds["rows"] == 1797, ds
    return ds


def test_meta_routes():
    srv = Server()
    try:
        status, hdrs, body = srv.json("GET", "/healthz")
        assert status == 200, status
        status, hdrs, body = srv.request("GET", "/metrics")
        assert status == 200 and hdrs["content-type"].startswith("text/plain"), hdrs
        text = body.decode()
        for name in ("queue", "running", "iterations", "samples", "http_requests"):
            assert name in text, (name, text[:800])
        status, _, doc = srv.json("GET", "/openapi.json")
        assert status == 200 and doc["openapi"].startswith("3.1"), doc.get("openapi")
        assert "/api/v1/sweeps" in doc["paths"]
    finally:
        srv.stop()


def test_parameter_table():
    """GET /api/v1/meta/parameters: every row the dashboard builds its form from is one the API
    takes, with the defaults it serves; a sweep made of them stores exactly those values."""
    srv = Server(max_batch_size=32) if "max_batch_size" in Server.__init__.__code__.co_varnames \
        else Server()
    try:
        _, _, meta = srv.json("GET", "/api/v1/meta/parameters", expect=200)
        names = [p["name"] for p in meta["parameters"]]
        assert names[:6] == ["layers", "activation", "batch_size", "momentum", "learning_rate",
                             "iterations"], names
        assert set(meta["trial_states"]["final"]) == {"completed", "failed", "diverged", "pruned",
                                                        "stopped", "canceled"}, meta["trial_states"]
        assert meta["sweep_states"]["final"] == ["completed", "failed", "canceled"]
        srv.json("GET", "/api/v1/meta/parameters?x=1", expect=422)
        ds = upload_iris(srv)
        grid = {"hidden_layers": [1], "neurons": [4]}
        training = {}
        for p in meta["parameters"]:
            if p["type"] == "layers":
                continue
            if p["grid"] and p["required"]:
                grid[p["name"]] = [p["default"]]
            elif p["training"]:
                training[p["name"]] = p["default"]
        _, _, sw = srv.json("POST", "/api/v1/sweeps",
                            {"dataset_id": ds["id"], "grid": grid, "training": training},
                            expect=201)
        _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
        params = trials["items"][0]["params"]
        for p in meta["parameters"]:
            if p["type"] != "layers":
                assert params[p["name"]] == p["default"], (p["name"], params)
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % sw["id"])
    finally:
        srv.stop()


def test_uploads():
    srv = Server()
    try:
        # multipart CSV with string labels
        status, hdrs, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        assert status == 201, (status, ds)
        assert hdrs["location"].endswith("/api/v1/datasets/%d" % ds["id"]), hdrs
        assert (ds["rows"], ds["features"]) == (150, 4), ds
        assert ds["classes"] == ["setosa", "versicolor", "virginica"], ds
        assert ds["class_counts"] == [50, 50, 50], ds
        # raw text/csv body, label column by name, gzip'd
        status, _, wine = srv.json("POST", "/api/v1/datasets?name=wine&label_column=cultivar",
                                   gzip.compress(read("wine.csv")),
                                   {"Content-Type": "text/csv"})
        assert status == 201 and wine["features"] == 13 and len(wine["classes"]) == 3, wine
        # IDX images + labels, gzip'd
        images, labels = make_idx()
        status, _, idx = srv.upload({"name": "shapes"},
                                    {"images": ("i.gz", gzip.compress(images)),
                                     "labels": ("l.gz", gzip.compress(labels))})
        assert status == 201 and idx["rows"] == 200 and idx["features"] == 36, idx
        # list and get
        _, _, lst = srv.json("GET", "/api/v1/datasets", expect=200)
        assert [d["id"] for d in lst["items"]] == sorted([ds["id"], wine["id"], idx["id"]],
                                                         reverse=True), lst
        _, _, one = srv.json("GET", "/api/v1/datasets/%d" % ds["id"], expect=200)
        assert one["name"] == "iris", one
        # bad files: exact errors naming row and column
        body = problem(srv.upload({}, {"file": ("bad.csv", b"a,b,label\n1,2,x\n3,oops,y\n")}), 422)
        text = json.dumps(body)
        assert "row 3" in text and "column 2" in text, body
        body = problem(srv.upload({}, {"file": ("r.csv", b"a,b,label\n1,2,x\n3,4\n")}), 422)
        assert "row 3" in json.dumps(body), body
        problem(srv.upload({}, {"file": ("one.csv", b"a,label\n1,x\n2,x\n")}), 422)
        problem(srv.upload({}, {"images": ("i", images[:500]), "labels": ("l", labels)}), 422)
        problem(srv.upload({}, {"images": ("i.gz", gzip.compress(images)[:300]),
                                "labels": ("l", labels)}), 422)
        problem(srv.upload({}, {"images": ("i", images)}), 422)  # labels missing
        # nothing half-made was listed
        _, _, lst = srv.json("GET", "/api/v1/datasets", expect=200)
        assert len(lst["items"]) == 3, lst
        # delete
        srv.json("DELETE", "/api/v1/datasets/%d" % wine["id"])
        problem(srv.request("GET", "/api/v1/datasets/%d" % wine["id"]), 404)
    finally:
        srv.stop()


def test_upload_format_messages():
    """The upload's answers about which files to send come from the format registry
    (ingest/format.h): they read as they always did, and an IDX pair still uploads."""
    srv = Server()
    try:
        images, labels = make_idx()

        def refused(fields, files, field, detail):
            status, _, body = srv.upload(fields, files)
            assert status == 422 and body["errors"][0]["field"] == field, (status, body)
            assert detail in body["detail"] or detail in body["errors"][0]["message"], body

        refused({"name": "x"}, {}, "file",
                "is required: send a CSV file as file, or IDX files as images and labels")
        refused({}, {"images": ("i.idx", images)}, "labels", "is required with images")
        refused({}, {"labels": ("l.idx", labels)}, "images", "is required with labels")
        refused({}, {"images": ("i.idx", images), "file": ("a.csv", read("iris.csv"))}, "file",
                "give either file (CSV) or images and labels (IDX)")
        refused({}, {"movie": ("m.bin", b"x")}, "movie",
                "unknown field (expected file, or images and labels, and optionally name, "
                "label_column, format, subject_column, timestamp_column and timestamp_unit)")
        refused({}, {"labels": ("l.idx", labels[:9]), "images": ("i.idx", images)}, "labels",
                "labels")
        status, _, ds = srv.upload({}, {"images": ("pix.idx", images),
                                        "labels": ("lab.idx", labels)})
        assert status == 201 and ds["format"] == "idx" and ds["name"] == "pix", (status, ds)
        assert ds["rows"] == 200 and ds["features"] == 36, ds
    finally:
        srv.stop()


def history_ok(srv, trial_id, iterations):
    _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % trial_id, expect=200)
    its = [r["iteration"] for r in h["history"]]
    assert its == list(range(1, iterations + 1)), (trial_id, its)
    for r in h["history"]:
        assert set(r) >= {"iteration", "train_loss", "train_accuracy", "val_loss",
                          "val_accuracy", "seconds"}, r
    return h


def test_sweep_to_completion_with_sse():
    srv = Server()
    try:
        ds = upload_iris(srv)
        status, hdrs, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "name": "seed grid", "grid": SEED_GRID,
            "training": {"activation": "sigmoid", "batch_size": 16, "validation_split": 0.2,
                         "seed": 42}})
        assert status == 201, (status, sw)
        assert sw["trials_total"] == 8 and hdrs["location"].endswith("/%d" % sw["id"]), sw
        # Server-Sent Events: read until sweep_finished
        events = sse_collect(srv, sw["id"], timeout=120)
        kinds = [e["event"] for e in events]
        assert kinds.count("trial_started") == 8, kinds
        assert kinds.count("iteration") == 48, kinds.count("iteration")
        assert kinds.count("trial_finished") == 8 and kinds[-1] == "sweep_finished", kinds[-3:]
        # live iteration events say when their figures were complete: a real time, before now
        import datetime
        stamped = [json.loads(e["data"])["ended_at"] for e in events
                   if e["event"] == "iteration" and "ended_at" in json.loads(e["data"])]
        assert stamped, "no iteration event carried ended_at"
        for at in stamped:
            t = datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            assert time.time() - 300 < t <= time.time() + 1, at
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "completed" and done["progress"] == 1, done
        assert done["best_trial"]["best_val_accuracy"] > 0.8, done["best_trial"]
        _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials?sort=-best_val_accuracy"
                                % sw["id"], expect=200)
        items = trials["items"]
        assert len(items) == 8, trials
        accs = [t["best_val_accuracy"] for t in items]
        assert accs == sorted(accs, reverse=True), accs
        for t in items:
            assert t["status"] == "completed" and t["params"]["iterations"] == 6, t
            # the partitions it was trained with are part of its spec: the pool's workers
            assert t["params"]["partitions"] == srv.workers, t["params"]
            # where it ran: a single process is rank 0, on this host, with its workers
            assert t["placement"] == {"rank": 0, "host": socket.gethostname(),
                                      "workers": srv.workers}, t
            history_ok(srv, t["id"], 6)
        _, _, one = srv.json("GET", "/api/v1/trials/%d" % items[0]["id"], expect=200)
        assert one["placement"] == items[0]["placement"], one
        _, _, h = srv.json("GET", "/api/v1/trials/%d/history?since=4" % items[0]["id"], expect=200)
        assert [r["iteration"] for r in h["history"]] == [5, 6], h
        _, _, allh = srv.json("GET", "/api/v1/sweeps/%d/history" % sw["id"], expect=200)
        assert len(allh["trials"]) == 8, allh
        # model download and predict
        status, hdrs, model = srv.request("GET", "/api/v1/trials/%d/model" % items[0]["id"])
        assert status == 200 and model[:8] == b"MLPTMODL", (status, model[:16])
        _, _, pred = srv.json("POST", "/api/v1/trials/%d/predict" % items[0]["id"],
                              {"rows": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}, expect=200)
        assert pred["predictions"][0]["class"] == "setosa", pred
        assert pred["predictions"][1]["class"] == "virginica", pred
    finally:
        srv.stop()


def sse_collect(srv, sweep_id, timeout=60, last_event_id=None, stop_after=None):
    """Reads /events until sweep_finished (or stop_after events); returns [{event, id, data}]."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    extra = "Last-Event-ID: %s\r\n" % last_event_id if last_event_id else ""
    sock.sendall(("GET /api/v1/sweeps/%d/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream"
                  "\r\n%s\r\n" % (sweep_id, extra)).encode())
    buf = b""
    events = []
    deadline = time.time() + timeout
    header_done = False
    while time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        if not header_done:
            if b"\r\n\r\n" not in buf:
                continue
            head, buf = buf.split(b"\r\n\r\n", 1)
            assert b" 200 " in head.split(b"\r\n")[0] and b"text/event-stream" in head, head
            header_done = True
        text = buf.decode(errors="replace")
        # chunked transfer encoding may wrap the stream: strip chunk-size lines
        blocks = text.replace("\r\n", "\n").split("\n\n")
        events = []
        for b in blocks[:-1]:
            ev = {"event": "message", "id": None, "data": ""}
            for line in b.split("\n"):
                if line.startswith("event:"):
                    ev["event"] = line[6:].strip()
                elif line.startswith("id:"):
                    ev["id"] = line[3:].strip()
                elif line.startswith("data:"):
                    ev["data"] += line[5:].strip()
            if ev["data"] or ev["event"] != "message":
                events.append(ev)
        if any(e["event"] == "sweep_finished" for e in events):
            break
        if stop_after and len([e for e in events if e["event"] != "message"]) >= stop_after:
            break
    sock.close()
    return [e for e in events if e["event"] in ("trial_started", "iteration", "trial_finished",
                                                "sweep_finished")]


def test_cancel_keeps_history():
    srv = Server(workers=1)
    try:
        ds = upload_iris(srv)
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": {"hidden_layers": [2], "neurons": [128, 256],
                                             "learning_rate": [0.1], "iterations": [10000]},
            "training": {"batch_size": 1}}, expect=201)  # seconds a trial: the cancel lands
        deadline = time.time() + 30
        while time.time() < deadline:
            _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
            if any(t["iterations_done"] > 0 for t in trials["items"]):
                break
            time.sleep(0.05)
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % sw["id"], expect=200)
        done = srv.wait_sweep(sw["id"])
        assert done["status"] == "canceled", done
        # a running trial stops at its next mini-batch: give the loop a moment to record it
        deadline = time.time() + 10
        while time.time() < deadline:
            _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
            if all(t["status"] != "running" for t in trials["items"]):
                break
            time.sleep(0.02)
        assert all(t["status"] == "canceled" for t in trials["items"]), trials
        ran = [t for t in trials["items"] if t["iterations_done"] > 0]
        assert ran, trials
        history_ok(srv, ran[0]["id"], ran[0]["iterations_done"])
        problem(srv.request("POST", "/api/v1/sweeps/%d/cancel" % sw["id"]), 409)
        srv.json("DELETE", "/api/v1/sweeps/%d" % sw["id"], expect=204)
    finally:
        srv.stop()


def test_deleted_ids_are_not_reused():
    """Deleting the newest dataset or sweep never hands its id on: a deep link never opens another
    sweep, and a new sweep's event stream is its own and ends (a reused id once froze it)."""
    srv = Server()
    try:
        keep = upload_iris(srv, "keep")
        newest = upload_iris(srv, "newest")
        srv.json("DELETE", "/api/v1/datasets/%d" % newest["id"], expect=204)
        again = upload_iris(srv, "again")
        assert again["id"] > newest["id"], (newest["id"], again["id"])
        problem(srv.request("GET", "/api/v1/datasets/%d" % newest["id"]), 404)
        spec = {"dataset_id": keep["id"], "grid": {"hidden_layers": [1], "neurons": [4],
                                                   "learning_rate": [0.1], "iterations": [3]}}
        _, _, first = srv.json("POST", "/api/v1/sweeps", spec, expect=201)
        events = sse_collect(srv, first["id"], timeout=60)
        assert events and events[-1]["event"] == "sweep_finished", events[-3:]
        srv.json("DELETE", "/api/v1/sweeps/%d" % first["id"], expect=204)
        _, _, second = srv.json("POST", "/api/v1/sweeps", spec, expect=201)
        assert second["id"] > first["id"], (first["id"], second["id"])
        problem(srv.request("GET", "/api/v1/sweeps/%d" % first["id"]), 404)
        events = sse_collect(srv, second["id"], timeout=60)
        assert events and events[-1]["event"] == "sweep_finished", events[-3:]
        assert all(json.loads(e["data"])["sweep_id"] == second["id"] for e in events), events
        # and across a restart: the high-water mark is in the database
        srv.json("DELETE", "/api/v1/sweeps/%d" % second["id"], expect=204)
        srv.restart()
        _, _, third = srv.json("POST", "/api/v1/sweeps", spec, expect=201)
        assert third["id"] > second["id"], (second["id"], third["id"])
        srv.wait_sweep(third["id"])
    finally:
        srv.stop()


def bad_requests(srv, ds_id):
    """(method, path, body, headers, status) that must each answer problem+json."""
    j = {"Content-Type": "application/json"}
    good = {"dataset_id": ds_id, "grid": {"hidden_layers": [1], "neurons": [4],
                                          "learning_rate": [0.1], "iterations": [1]}}

    def sweep(**changes):
        body = json.loads(json.dumps(good))
        for k, v in changes.items():
            target = body["grid"] if k in good["grid"] or k in ("layers", "batch_size") else body
            target[k] = v
            if k == "layers":
                del body["grid"]["hidden_layers"], body["grid"]["neurons"]
        return ("POST", "/api/v1/sweeps", json.dumps(body), j)

    cases = [
        (("POST", "/api/v1/sweeps", "{", j), 400),
        (("POST", "/api/v1/sweeps", "[1,2]", j), 422),
        (("POST", "/api/v1/sweeps", "", j), 400),
        (("POST", "/api/v1/sweeps", json.dumps(good), {"Content-Type": "text/plain"}), 415),
        (sweep(learning_rate=[0.1, -1]), 422, "grid.learning_rate[1]"),
        (sweep(learning_rate=[0]), 422, "grid.learning_rate[0]"),
        (sweep(learning_rate=["x"]), 422, "grid.learning_rate[0]"),
        (sweep(learning_rate=[]), 422, "grid.learning_rate"),
        (sweep(neurons=[0]), 422, "grid.neurons[0]"),
        (sweep(neurons=[10 ** 9]), 422, "grid.neurons[0]"),
        (sweep(hidden_layers=[-1]), 422, "grid.hidden_layers[0]"),
        (sweep(hidden_layers=[1000]), 422, "grid.hidden_layers[0]"),
        (sweep(iterations=[0]), 422, "grid.iterations[0]"),
        (sweep(iterations=[10 ** 12]), 422, "grid.iterations[0]"),
        (sweep(iterations=[1.5]), 422, "grid.iterations[0]"),
        (sweep(batch_size=[0]), 422, "grid.batch_size[0]"),
        (sweep(dataset_id="abc"), 422, "dataset_id"),
        (sweep(dataset_id=999999), 422, "dataset_id"),
        (sweep(bogus=1), 422, "bogus"),
        (sweep(training={"activation": "softsign"}), 422, "training.activation"),
        (sweep(training={"validation_split": 1.5}), 422, "training.validation_split"),
        (sweep(training={"scaling": "log"}), 422, "training.scaling"),
        (sweep(training={"init": "xavier"}), 422, "training.init"),
        (sweep(training={"momentum": -0.1}), 422, "training.momentum"),
        (sweep(training={"seed": "x"}), 422, "training.seed"),
        (sweep(training={"nope": 1}), 422, "training.nope"),
        (sweep(grid={"hidden_layers": [1]}), 422, "grid"),
        (sweep(grid={"hidden_layers": list(range(1, 9)), "neurons": list(range(1, 60)),
                     "learning_rate": [0.1 * i for i in range(1, 40)], "iterations": [1, 2, 3]}),
         422),
        (sweep(layers=[[0]]), 422, "grid.layers[0][0]"),
        (("GET", "/api/v1/sweeps/999999", None, {}), 404),
        (("GET", "/api/v1/sweeps/abc", None, {}), 404),
        (("GET", "/api/v1/trials/999999", None, {}), 404),
        (("GET", "/api/v1/trials/999999/history", None, {}), 404),
        (("GET", "/api/v1/datasets/999999", None, {}), 404),
        (("DELETE", "/api/v1/datasets/999999", None, {}), 404),
        (("POST", "/api/v1/sweeps/999999/cancel", None, {}), 404),
        (("GET", "/api/v1/nothing-here", None, {}), 404),
        (("PUT", "/api/v1/sweeps", "{}", j), 405),
        (("DELETE", "/api/v1/sweeps", None, {}), 405),
        (("GET", "/api/v1/sweeps?limit=0", None, {}), 422),
        (("GET", "/api/v1/sweeps?limit=abc", None, {}), 422),
        (("GET", "/api/v1/sweeps?cursor=garbage", None, {}), 422),
        (("GET", "/api/v1/sweeps?status=sleeping", None, {}), 422),
        (("POST", "/api/v1/datasets", b"a,b\n1,2\n", {"Content-Type": "application/x-foo"}), 415),
        (("POST", "/api/v1/sweeps", "{\"dataset_id\": 1, \"grid\": " + "[" * 5000 + "]" * 5000
          + "}", j), 400),
        (("POST", "/api/v1/sweeps", "x" * (2 << 20), j), 413),
    ]
    return cases


def test_bad_requests():
    srv = Server()
    try:
        ds = upload_iris(srv)
        cases = bad_requests(srv, ds["id"])
        assert len(cases) >= 30
        for case in cases:
            (method, path, body, headers), status = case[0], case[1]
            got = srv.request(method, path, body, headers)
            try:
                body_json = problem(got, status)
            except AssertionError as e:
                raise AssertionError("%s %s %r: %s" % (method, path, (body or "")[:80], e))
            if len(case) > 2:
                fields = [e.get("field") for e in body_json.get("errors", [])]
                assert case[2] in fields or case[2] in json.dumps(body_json), (case[2], body_json)
        # still alive and healthy after all that
        assert srv.request("GET", "/healthz")[0] == 200
    finally:
        srv.stop()


def test_kill9_and_restart():
    """kill -9 while trials run: after a restart the sweep completes, every history is contiguous
    from 1, and no row committed before the kill is lost or changed (finished trials keep theirs
    as they were; interrupted ones are re-run and, training being deterministic, give the same
    figures again)."""
    srv = Server(workers=2)
    try:
        ds = upload_digits(srv)
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": {"hidden_layers": [1, 2], "neurons": [64, 128],
                                             "learning_rate": [0.05], "iterations": [60]},
            "training": {"batch_size": 8}}, expect=201)
        # wait until one trial has finished and another is part-way, then kill -9
        deadline = time.time() + 120
        while time.time() < deadline:
            _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
            items = trials["items"]
            if any(t["status"] == "completed" for t in items) and \
                    any(t["status"] == "running" and t["iterations_done"] >= 3 for t in items):
                break
            time.sleep(0.01)
        before = {}
        for t in items:
            _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
            before[t["id"]] = (t["status"], h["history"])
        srv.kill9()
        assert any(st == "running" and rows for st, rows in before.values()), before.keys()
        srv.restart()
        done = srv.wait_sweep(sw["id"], timeout=300)
        assert done["status"] == "completed", done
        _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
        for t in trials["items"]:
            assert t["status"] == "completed", t
            after = history_ok(srv, t["id"], 60)["history"]
            status, rows = before[t["id"]]
            if status == "completed":
                assert rows == after, "trial %d: finished rows changed" % t["id"]
            else:
                strip = [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
                again = [{k: v for k, v in r.items() if k != "seconds"} for r in after]
                assert again[:len(strip)] == strip, "trial %d: rows differ after the re-run" % t["id"]
                if rows:
                    assert t["attempt"] == 2, t
    finally:
        srv.stop()


def _first_losses(key, rules):
    """Runs one small iris trial per value of training.<key> (the first one left to its default),
    checks the trial's params show the value, and returns {value: first iteration's train loss}."""
    srv = Server(workers=2)
    try:
        ds = upload_iris(srv)
        first = {}
        for i, rule in enumerate(rules):
            body = {"dataset_id": ds["id"], "grid": {"hidden_layers": [1], "neurons": [8],
                                                     "learning_rate": [0.1], "iterations": [4]}}
            if i > 0:
                body["training"] = {key: rule}
            _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
            assert srv.wait_sweep(sw["id"])["status"] == "completed"
            _, _, t = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
            trial = t["items"][0]
            assert trial["params"][key] == rule, trial["params"]
            first[rule] = history_ok(srv, trial["id"], 4)["history"][0]["train_loss"]
        return first
    finally:
        srv.stop()


def test_scaling_rules():
    """training.scaling picks each trial's input scaling: the default follows the dataset (CSV
    standardised), "minmax" and "none" are honoured, shown in the params, and change the numbers."""
    first = _first_losses("scaling", ("auto", "standardize", "minmax", "global_minmax", "none"))
    assert first["auto"] == first["standardize"], first
    assert len({first[r] for r in ("standardize", "minmax", "global_minmax", "none")}) == 4, first


def test_init_rules():
    """training.init picks the initial weights: auto by default; every rule is shown in the
    trial's params and starts from numbers of its own."""
    first = _first_losses("init", ("auto", "glorot", "he", "sklearn", "torch"))
    assert len(set(first.values())) == 5, first


def _strip(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_kill9_resumes_from_checkpoints():
    """With checkpoints every 3 iterations, kill -9 mid-sweep and restart: interrupted trials keep
    their rows up to their checkpoint (the very rows, seconds included), continue from it, and
    every history ends exactly as in the same sweep run without a crash."""
    import sqlite3
    srv = Server(workers=2, extra=["--checkpoint-every", "3", "--checkpoint-seconds", "0"])
    try:
        ds = upload_digits(srv)
        body = {"dataset_id": ds["id"], "grid": {"hidden_layers": [1], "neurons": [64, 128],
                                                 "learning_rate": [0.05, 0.2],
                                                 "iterations": [20, 80]},
                "training": {"batch_size": 8, "momentum": 0.5}}
        _, _, ref = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        assert srv.wait_sweep(ref["id"], timeout=300)["status"] == "completed"
        _, _, sw = srv.json("POST", "/api/v1/sweeps", body, expect=201)
        deadline = time.time() + 120
        while time.time() < deadline:
            _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
            if any(t["status"] == "running" and t["iterations_done"] >= 25
                   for t in trials["items"]):
                break
            time.sleep(0.01)
        srv.kill9()
        db = sqlite3.connect(os.path.join(srv.data_dir, "mlptune.db"))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {}
        for tid, k in db.execute(
                "SELECT t.id, t.checkpoint_iteration FROM trials t JOIN trial_checkpoints c "
                "ON c.trial_id = t.id AND c.iteration = t.checkpoint_iteration "
                "WHERE t.sweep_id = ? AND t.status = 'running'", (sw["id"],)):
            rows = db.execute("SELECT iteration, seconds FROM trial_metrics WHERE trial_id = ? "
                              "AND iteration <= ? ORDER BY iteration", (tid, k)).fetchall()
            assert k >= 3 and len(rows) == k, (tid, k, len(rows))
            kept[tid] = rows
        db.close()
        assert kept, "no running trial had a checkpoint at the kill"
        srv.restart()
        assert srv.wait_sweep(sw["id"], timeout=300)["status"] == "completed"
        _, _, a = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=100" % ref["id"], expect=200)
        _, _, b = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=100" % sw["id"], expect=200)
        by_ordinal = {t["ordinal"]: t for t in a["items"]}
        assert len(b["items"]) == len(a["items"]) == 8
        for t in b["items"]:
            want = history_ok(srv, by_ordinal[t["ordinal"]]["id"], t["params"]["iterations"])
            got = history_ok(srv, t["id"], t["params"]["iterations"])
            assert _strip(got["history"]) == _strip(want["history"]), "trial %d differs" % t["id"]
            for it, secs in kept.get(t["id"], []):
                assert got["history"][it - 1]["seconds"] == secs, (t["id"], it)
    finally:
        srv.stop()


def test_readers_during_training():
    srv = Server(workers=2)
    try:
        ds = upload_digits(srv)
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": {"hidden_layers": [1, 2], "neurons": [64],
                                             "learning_rate": [0.1], "iterations": [150]},
            "training": {"batch_size": 16}}, expect=201)
        # 150 iterations: seconds of training (ten under the sanitizers) in which the four
        # readers below make thousands of requests; the length itself is not what is tested.
        errors = []
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                try:
                    status, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"])
                    if status != 200:
                        errors.append(status)
                        continue
                    for t in trials["items"]:
                        status, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"])
                        its = [r["iteration"] for r in h["history"]] if status == 200 else None
                        if status != 200 or its != list(range(1, len(its) + 1)):
                            errors.append((status, its and its[:5]))
                except Exception as e:  # noqa: BLE001 - any failure counts
                    errors.append(repr(e))

        threads = [threading.Thread(target=poll) for _ in range(4)]
        for t in threads:
            t.start()
        srv.wait_sweep(sw["id"], timeout=180)
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors[:5]
    finally:
        srv.stop()


def test_graceful_stop():
    srv = Server(workers=1)
    try:
        ds = upload_digits(srv)
        _, _, sw = srv.json("POST", "/api/v1/sweeps", {
            "dataset_id": ds["id"], "grid": {"hidden_layers": [2], "neurons": [256],
                                             "learning_rate": [0.05], "iterations": [10000]},
            "training": {"batch_size": 8}}, expect=201)
        time.sleep(1.0)
        t0 = time.time()
        assert srv.terminate(timeout=30) == 0
        assert time.time() - t0 < 10, "SIGTERM took too long"
        srv.restart()
        _, _, again = srv.json("GET", "/api/v1/sweeps/%d" % sw["id"], expect=200)
        assert again["status"] in ("queued", "running"), again
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % sw["id"], expect=200)
    finally:
        srv.stop()


if __name__ == "__main__":
    run([test_meta_routes, test_parameter_table, test_uploads, test_upload_format_messages,
         test_sweep_to_completion_with_sse, test_cancel_keeps_history,
         test_deleted_ids_are_not_reused, test_bad_requests, test_kill9_and_restart,
         test_kill9_resumes_from_checkpoints, test_scaling_rules, test_init_rules,
         test_readers_during_training, test_graceful_stop])
