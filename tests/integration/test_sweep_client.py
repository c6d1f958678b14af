"""Integration tests of `mlptune sweep`, the client for scripts, against the real `mlptune serve`
(and, where the real one cannot misbehave on purpose, a small fake server).
Usage: test_sweep_client.py MLPTUNE_BINARY TEST_DATA_DIR"""
import gzip
import http.server
import json
import os
import pty
import socket
import struct
import subprocess
import tempfile
import threading
import time

from harness import BIN, DATA, Server, run

SMALL_GRID = {"grid": {"hidden_layers": [1], "neurons": [4, 8], "learning_rate": [0.1, 0.5],
                       "iterations": [5]},
              "training": {"activation": "sigmoid", "batch_size": 16, "seed": 7}}
# one trial that runs for about a minute on iris (200 iterations take about a second):
# something to cancel, or to kill the server under
LONG_GRID = {"grid": {"hidden_layers": [2], "neurons": [256], "learning_rate": [0.01],
                      "iterations": [10000]},
             "training": {"batch_size": 1}}
IRIS = os.path.join(DATA, "iris.csv")
WINE = os.path.join(DATA, "wine.csv")


def write_json(obj, text=None):
    fd, path = tempfile.mkstemp(prefix="mlpt-grid-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        f.write(text if text is not None else json.dumps(obj))
    return path


def sweep_cmd(url, *args):
    return [BIN, "sweep", "--server", url] + [str(a) for a in args]


def client(url, *args, timeout=180, env=None):
    """Runs `mlptune sweep`; returns (exit status, stdout, stderr, seconds)."""
    t0 = time.time()
    p = subprocess.run(sweep_cmd(url, *args), capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(), sane(p.stderr), time.time() - t0


def sane(stderr):
    """The client's stderr as text, after checking that no sanitizer had anything to say."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    assert "Sanitizer" not in text and "runtime error:" not in text, text
    return text


def url_of(srv):
    return "http://127.0.0.1:%d" % srv.port


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def one_json(stdout):
    """stdout must be exactly one JSON document (json.loads refuses trailing data)."""
    doc = json.loads(stdout)
    assert isinstance(doc, dict), doc
    return doc


def upload_iris(srv):
    _, _, ds = srv.upload({"name": "iris"}, {"file": ("iris.csv", open(IRIS, "rb").read())})
    return ds["id"]


def wait_running(srv, sweep_id, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials" % sweep_id, expect=200)
        if any(t["iterations_done"] > 0 for t in trials["items"]):
            return
        time.sleep(0.05)
    raise AssertionError("sweep %d never started training" % sweep_id)


def only_sweep(srv):
    _, _, lst = srv.json("GET", "/api/v1/sweeps", expect=200)
    assert len(lst["items"]) == 1, lst
    return lst["items"][0]


def make_idx(n=90, side=4):
    """A tiny 3-class IDX pair (images, labels)."""
    images, labels = bytearray(), bytearray()
    for i in range(n):
        c = i % 3
        img = [(17 * i + 5 * k) % 40 for k in range(side * side)]
        for t in range(side):
            img[c * side + t if c < side else t] = 220
        images += bytes(img)
        labels.append(c)
    return (struct.pack(">HBBIII", 0, 8, 3, n, side, side) + bytes(images),
            struct.pack(">HBBI", 0, 8, 1, n) + bytes(labels))


# ---- the real server ---------------------------------------------------------------------------

def test_csv_wait_json():
    srv = Server()
    grid = write_json(SMALL_GRID)
    try:
        code, out, err, _ = client(url_of(srv), "--dataset", IRIS, "--grid", grid, "--wait",
                                   "--json")
        assert code == 0, (code, out, err)
        doc = one_json(out)
        assert doc["status"] == "completed" and doc["trials_total"] == 4, doc
        assert doc["trials"]["completed"] == 4 and "leaderboard" in doc, doc  # counts untouched
        board = doc["leaderboard"]
        assert len(board) == 4, board
        accs = [t["best_val_accuracy"] for t in board]
        assert accs == sorted(accs, reverse=True), accs
        assert all(t["status"] == "completed" and t["params"]["iterations"] == 5 for t in board)
        assert "uploaded iris.csv as dataset" in err, err
        # stderr is not a terminal: plain lines, no carriage returns
        assert "\r" not in err and "completed" in err, err
        _, _, same = srv.json("GET", "/api/v1/sweeps/%d" % doc["id"], expect=200)
        assert same["dataset_id"] == doc["dataset_id"], same
    finally:
        os.unlink(grid)
        srv.stop()


def test_existing_id_without_wait():
    srv = Server()
    grid = write_json(dict(SMALL_GRID, name="from the file"))
    try:
        ds = upload_iris(srv)
        code, out, err, _ = client(url_of(srv), "--dataset", ds, "--grid", grid)
        assert code == 0, (code, out, err)
        sw = only_sweep(srv)
        assert out.startswith("sweep %d: " % sw["id"]) and "4 trials" in out, out
        assert sw["dataset_id"] == ds and sw["name"] == "from the file", sw
        assert "uploaded" not in err, err
        # --json without --wait: the created sweep, one object; --name wins over the file's
        code, out, err, _ = client(url_of(srv), "--dataset", ds, "--grid", grid, "--json",
                                   "--name", "from the flag")
        assert code == 0, (code, out, err)
        doc = one_json(out)
        assert doc["trials_total"] == 4 and doc["status"] in ("queued", "running",
                                                              "completed"), doc
        assert doc["name"] == "from the flag" and "leaderboard" not in doc, doc
        srv.wait_sweep(doc["id"])
    finally:
        os.unlink(grid)
        srv.stop()


def test_wait_table():
    srv = Server()
    grid = write_json(SMALL_GRID)
    try:
        ds = upload_iris(srv)
        code, out, err, _ = client(url_of(srv), "--dataset", ds, "--grid", grid, "--wait")
        assert code == 0, (code, out, err)
        lines = out.strip().split("\n")
        assert "completed" in lines[0] and "best val accuracy" in lines[0], out
        header = [ln for ln in lines if ln.lstrip().startswith("rank")]
        assert header and "activation" in header[0], out
        rows = lines[lines.index(header[0]) + 1:]
        assert len(rows) == 4 and all("sigmoid" in r and "completed" in r for r in rows), out
        assert rows[0].split()[0] == "1" and rows[3].split()[0] == "4", rows
        assert_board_lines(srv, header[0], rows)
    finally:
        os.unlink(grid)
        srv.stop()


def board_line(rank, t):
    """A leaderboard line as `mlptune sweep` printed it before its columns came from the
    parameter table (service/sweep_view.c, issue 12)."""
    p = t["params"]
    if p.get("neurons") is not None:
        widths = "%d" % p["neurons"]
    else:
        widths = "-".join("%d" % w for w in p.get("layers") or []) or "-"
    acc = lambda v: "-" if v is None else "%.4f" % v
    return "%4d %6d %6d  %-10s %-8.6g %10d %5d  %-10s %8s %9s  %s" % (
        rank, t["id"], p["hidden_layers"], widths, p["learning_rate"], p["iterations"],
        p["batch_size"], p["activation"], acc(t.get("best_val_accuracy")),
        acc(t.get("final_val_accuracy")), t["status"])


def assert_board_lines(srv, header, rows):
    """The table's header and rows, character for character."""
    assert header == ("rank  trial layers  neurons    lr       iterations batch  activation"
                      " best_val final_val  status"), header
    for rank, line in enumerate(rows, 1):
        tid = int(line.split()[1])
        _, _, t = srv.json("GET", "/api/v1/trials/%d" % tid, expect=200)
        assert line == board_line(rank, t), (line, board_line(rank, t))


def test_wait_table_shapes():
    """Explicit layers and no hidden layer print as "3-2" and "-"; momentum is not a column."""
    srv = Server()
    grid = write_json({"grid": {"layers": [[3, 2], []], "learning_rate": [0.25],
                                "iterations": [2], "momentum": [0, 0.5],
                                "activation": ["tanh"]},
                       "training": {"batch_size": 8}})
    try:
        ds = upload_iris(srv)
        code, out, err, _ = client(url_of(srv), "--dataset", ds, "--grid", grid, "--wait")
        assert code == 0, (code, out, err)
        lines = out.strip().split("\n")
        header = [ln for ln in lines if ln.lstrip().startswith("rank")]
        rows = lines[lines.index(header[0]) + 1:]
        assert len(rows) == 4, out
        assert sorted(r.split()[3] for r in rows) == ["-", "-", "3-2", "3-2"], out
        assert_board_lines(srv, header[0], rows)
    finally:
        os.unlink(grid)
        srv.stop()


def test_uploads_label_column_idx_and_test_set():
    srv = Server()
    grid = write_json(SMALL_GRID)
    tmp = tempfile.mkdtemp(prefix="mlpt-idx-")
    try:
        code, out, err, _ = client(url_of(srv), "--dataset", WINE, "--label-column", "cultivar",
                                   "--test-dataset", WINE, "--grid", grid, "--json")
        assert code == 0, (code, out, err)
        doc = one_json(out)
        _, _, lst = srv.json("GET", "/api/v1/datasets", expect=200)
        assert len(lst["items"]) == 2 and all(d["features"] == 13 for d in lst["items"]), lst
        assert doc["test_dataset_id"] and doc["test_dataset_id"] != doc["dataset_id"], doc
        srv.wait_sweep(doc["id"])
        images, labels = make_idx()
        ipath, lpath = os.path.join(tmp, "img.gz"), os.path.join(tmp, "lab")
        with open(ipath, "wb") as f:
            f.write(gzip.compress(images))
        with open(lpath, "wb") as f:
            f.write(labels)
        code, out, err, _ = client(url_of(srv), "--dataset", ipath, "--labels", lpath,
                                   "--grid", grid, "--json")
        assert code == 0, (code, out, err)
        doc = one_json(out)
        _, _, ds = srv.json("GET", "/api/v1/datasets/%d" % doc["dataset_id"], expect=200)
        assert ds["rows"] == 90 and ds["features"] == 16, ds
        srv.wait_sweep(doc["id"])
        # a bad upload is the caller's mistake: exit 2 with the server's words
        bad = os.path.join(tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write("a,b,label\n1,2,x\n3,oops,y\n")
        code, out, err, _ = client(url_of(srv), "--dataset", bad, "--grid", grid)
        assert code == 2 and out == "" and "422" in err and "row 3" in err, (code, out, err)
    finally:
        os.unlink(grid)
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
        srv.stop()


def test_bad_grid_from_server():
    srv = Server()
    bad = json.loads(json.dumps(SMALL_GRID))
    bad["grid"]["learning_rate"] = [0.1, -1]
    grid = write_json(bad)
    try:
        ds = upload_iris(srv)
        code, out, err, _ = client(url_of(srv), "--dataset", ds, "--grid", grid, "--wait",
                                   "--json")
        assert code == 2 and out == "", (code, out, err)
        assert "422" in err and "grid.learning_rate[1]" in err, err
        # an unknown dataset id is a 4xx too
        good = write_json(SMALL_GRID)
        code, out, err, _ = client(url_of(srv), "--dataset", "999999", "--grid", good)
        os.unlink(good)
        assert code == 2 and "dataset_id" in err, (code, out, err)
    finally:
        os.unlink(grid)
        srv.stop()


def test_bad_local_files():
    srv = Server()
    tmp = tempfile.mkdtemp(prefix="mlpt-bad-")
    try:
        missing = os.path.join(tmp, "nope.json")
        code, out, err, _ = client(url_of(srv), "--dataset", IRIS, "--grid", missing)
        assert code == 2 and out == "" and missing in err, (code, err)
        broken = write_json(None, '{"grid": {"hidden_layers": [1],\n  "neurons": [4,]}}')
        code, out, err, _ = client(url_of(srv), "--dataset", IRIS, "--grid", broken)
        assert code == 2 and "%s:2:" % broken in err, (code, err)
        os.unlink(broken)
        not_object = write_json([1, 2])
        code, out, err, _ = client(url_of(srv), "--dataset", IRIS, "--grid", not_object)
        assert code == 2 and "JSON object" in err, (code, err)
        os.unlink(not_object)
        grid = write_json(SMALL_GRID)
        code, out, err, _ = client(url_of(srv), "--dataset", os.path.join(tmp, "x.csv"),
                                   "--grid", grid)
        assert code == 2 and "x.csv" in err, (code, err)
        # nothing reached the server: no dataset was uploaded for a bad grid
        _, _, lst = srv.json("GET", "/api/v1/datasets", expect=200)
        assert lst["items"] == [], lst
        # bad arguments
        for args in (["--grid", grid], ["--dataset", IRIS], ["--dataset", IRIS, "--grid", grid,
                                                             "--bogus"],
                     ["--dataset", IRIS, "--grid", grid, "--timeout", "0"],
                     ["--dataset", "1", "--labels", IRIS, "--grid", grid],
                     ["--dataset", "1", "--label-column", "x", "--grid", grid],
                     ["--dataset", IRIS, "--grid", grid, "--token-file", missing]):
            code, out, err, _ = client(url_of(srv), *args)
            assert code == 2 and out == "" and err.startswith("mlptune: "), (args, code, err)
        code, out, err, _ = client("ftp://127.0.0.1:1", "--dataset", "1", "--grid", grid)
        assert code == 2 and "http" in err, (code, err)
        os.unlink(grid)
        p = subprocess.run([BIN, "sweep", "--help"], capture_output=True)
        assert p.returncode == 0 and b"exit status" in p.stdout and b"--wait" in p.stdout
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
        srv.stop()


def test_no_server():
    grid = write_json(SMALL_GRID)
    try:
        url = "http://127.0.0.1:%d" % free_port()
        for dataset in ("1", IRIS):
            code, out, err, secs = client(url, "--dataset", dataset, "--grid", grid, "--wait",
                                          "--json", timeout=30)
            assert code == 1 and out == "", (code, out, err)
            assert "cannot reach the server" in err and secs < 5, (err, secs)
    finally:
        os.unlink(grid)


def test_cancel_while_waiting():
    srv = Server(workers=1)
    grid = write_json(LONG_GRID)
    try:
        ds = upload_iris(srv)
        proc = subprocess.Popen(sweep_cmd(url_of(srv), "--dataset", ds, "--grid", grid,
                                          "--wait", "--json"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        sweeps = []
        while not sweeps and time.time() < deadline:
            sweeps = srv.json("GET", "/api/v1/sweeps", expect=200)[2]["items"]
            time.sleep(0.05)
        assert sweeps, "the client created no sweep"
        wait_running(srv, sweeps[0]["id"])
        srv.json("POST", "/api/v1/sweeps/%d/cancel" % sweeps[0]["id"], expect=200)
        out, err = proc.communicate(timeout=30)
        err = sane(err)
        assert proc.returncode == 4, (proc.returncode, out, err)
        doc = one_json(out.decode())
        assert doc["status"] == "canceled" and len(doc["leaderboard"]) == 1, doc
        assert "canceled" in err, err
    finally:
        os.unlink(grid)
        srv.stop()


def test_server_restart_and_loss_while_waiting():
    port = free_port()
    srv = Server(workers=1, extra=["--port", str(port)])
    long_path = write_json(LONG_GRID)
    grid_path = write_json({"grid": {"hidden_layers": [2], "neurons": [256],
                                     "learning_rate": [0.01], "iterations": [600]},
                            "training": {"batch_size": 1}})  # about 3 s
    try:
        ds = upload_iris(srv)
        # a restart within --timeout is survived
        proc = subprocess.Popen(sweep_cmd(url_of(srv), "--dataset", ds, "--grid", grid_path,
                                          "--wait", "--json", "--timeout", "60"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        sweeps = []
        while not sweeps and time.time() < deadline:
            sweeps = srv.json("GET", "/api/v1/sweeps", expect=200)[2]["items"]
            time.sleep(0.05)
        wait_running(srv, sweeps[0]["id"])
        srv.kill9()
        time.sleep(1.5)
        srv.restart()
        assert srv.port == port, (srv.port, port)
        out, err = proc.communicate(timeout=240)
        err = sane(err)
        assert proc.returncode == 0, (proc.returncode, out, err)
        doc = one_json(out.decode())
        assert doc["status"] == "completed" and len(doc["leaderboard"]) == 1, doc
        assert "lost the server" in err and "back" in err, err
        # a server that stays away longer than --timeout: exit 1, clearly
        proc = subprocess.Popen(sweep_cmd(url_of(srv), "--dataset", ds, "--grid", long_path,
                                          "--wait", "--json", "--timeout", "2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while len(sweeps) < 2 and time.time() < deadline:
            sweeps = srv.json("GET", "/api/v1/sweeps", expect=200)[2]["items"]
            time.sleep(0.05)
        wait_running(srv, sweeps[0]["id"])
        srv.kill9()
        t0 = time.time()
        out, err = proc.communicate(timeout=30)
        err = sane(err)
        assert proc.returncode == 1 and out == b"", (proc.returncode, out, err)
        assert "lost the server" in err and time.time() - t0 < 10, err
    finally:
        os.unlink(grid_path)
        os.unlink(long_path)
        srv.stop()


def test_progress_bar_on_a_terminal():
    srv = Server()
    grid = write_json(SMALL_GRID)
    master, slave = pty.openpty()
    try:
        ds = upload_iris(srv)
        proc = subprocess.Popen(sweep_cmd(url_of(srv), "--dataset", ds, "--grid", grid,
                                          "--wait", "--json"),
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        chunks = []

        def drain():
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return
                if not data:
                    return
                chunks.append(data)

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        out, _ = proc.communicate(timeout=120)
        reader.join(timeout=5)
        tty = sane(b"".join(chunks))
        assert proc.returncode == 0, (proc.returncode, tty)
        assert one_json(out.decode())["status"] == "completed"
        assert "\r\x1b[K" in tty and "[####" in tty and "100%" in tty and "4/4" in tty, tty
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
        os.unlink(grid)
        srv.stop()


# ---- a fake server: what the real one never does on purpose -----------------------------------

class FakeHandler(http.server.BaseHTTPRequestHandler):
    """Records every request; answers from the class's `answers` {(method, path): (status,
    content type, body)}."""
    seen = []
    answers = {}

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        FakeHandler.seen.append((self.command, self.path, dict(self.headers), body))
        status, ctype, data = FakeHandler.answers.get(
            (self.command, self.path.split("?")[0]), (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = answer


def fake_server(answers):
    FakeHandler.seen = []
    FakeHandler.answers = answers
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, "http://127.0.0.1:%d" % httpd.server_address[1]


def test_token_and_server_failures():
    sweep = {"id": 5, "status": "queued", "trials_total": 1}
    httpd, url = fake_server({("POST", "/api/v1/sweeps"): (201, "application/json",
                                                           json.dumps(sweep).encode())})
    grid = write_json(SMALL_GRID)
    token = write_json(None, "  s3cret-token\n\n")
    try:
        code, out, err, _ = client(url + "/", "--dataset", "3", "--grid", grid, "--token-file",
                                   token)
        assert code == 0 and out == "sweep 5: queued, 1 trials\n", (code, out, err)
        method, path, headers, body = FakeHandler.seen[-1]
        assert (method, path) == ("POST", "/api/v1/sweeps"), FakeHandler.seen
        assert headers.get("Authorization") == "Bearer s3cret-token", headers
        sent = json.loads(body)
        assert sent["dataset_id"] == 3 and sent["grid"] == SMALL_GRID["grid"], sent
        assert "test_dataset_id" not in sent, sent
        # the same from the environment
        env = dict(os.environ, MLPTUNE_SERVER=url, MLPTUNE_TOKEN_FILE=token)
        p = subprocess.run([BIN, "sweep", "--dataset", "3", "--grid", grid], env=env,
                           capture_output=True, timeout=30)
        assert p.returncode == 0 and sane(p.stderr) == "", p
        assert FakeHandler.seen[-1][2].get("Authorization") == "Bearer s3cret-token"
        # 401 is a 4xx: exit 2 with the detail
        problem = {"type": "urn:mlptune:problem:unauthorized", "title": "Unauthorized",
                   "status": 401, "detail": "a bearer token is required", "errors": []}
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (
            401, "application/problem+json", json.dumps(problem).encode())
        code, out, err, _ = client(url, "--dataset", "3", "--grid", grid)
        assert code == 2 and "a bearer token is required" in err, (code, err)
        # 500 and a body that is not JSON: exit 1
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (500, "text/html", b"<h1>oops\x1b[31m")
        code, out, err, _ = client(url, "--dataset", "3", "--grid", grid)
        assert code == 1 and "500" in err and "\x1b" not in err, (code, err)
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (201, "application/json", b"[1")
        code, out, err, _ = client(url, "--dataset", "3", "--grid", grid)
        assert code == 1 and "not a JSON object" in err, (code, err)
        # a failed sweep: exit 1 with its error
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (201, "application/json",
                                                           json.dumps(sweep).encode())
        failed = dict(sweep, status="failed", error="the dataset file is gone",
                      trials={"failed": 1}, progress=1)
        FakeHandler.answers[("GET", "/api/v1/sweeps/5")] = (200, "application/json",
                                                            json.dumps(failed).encode())
        FakeHandler.answers[("GET", "/api/v1/sweeps/5/trials")] = (
            200, "application/json", json.dumps({"items": [], "next_cursor": None}).encode())
        code, out, err, _ = client(url, "--dataset", "3", "--grid", grid, "--wait", "--json")
        assert code == 1 and "the dataset file is gone" in err, (code, err)
        assert one_json(out)["leaderboard"] == [], out
    finally:
        httpd.shutdown()
        os.unlink(grid)
        os.unlink(token)


# ---- issue 14: the whole spec, --preview, extend, retry ----------------------------------------

def op_client(url, op, *args, timeout=180):
    """Runs `mlptune sweep extend|retry --server URL ...`; returns as client() does."""
    t0 = time.time()
    p = subprocess.run([BIN, "sweep", op, "--server", url] + [str(a) for a in args],
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), sane(p.stderr), time.time() - t0


SEARCH_SPEC = {"search": {"type": "random", "max_trials": 3, "seed": 5},
               "space": {"hidden_layers": [1, 2], "neurons": [4, 8],
                         "learning_rate": {"low": 0.05, "high": 1.0, "log": True},
                         "iterations": [3]},
               "training": {"activation": "sigmoid", "batch_size": 16, "seed": 7}}
PREVIEW = {"dry_run": True, "search": "random", "trials": 60,
           "budget": {"max_trials": 60, "max_seconds": 600, "max_iterations_total": None},
           "iterations_total": 1620, "gemm_flops": 4.5e13, "throughput_gflops": 190.5,
           "estimated_seconds": 238.2, "workers": 2}


def test_search_spec_real_server():
    """A search spec (search + space) through --spec, its dataset_id taken from the file."""
    srv = Server()
    try:
        ds = upload_iris(srv)
        spec = write_json(dict(SEARCH_SPEC, dataset_id=ds))
        code, out, err, _ = client(url_of(srv), "--spec", spec, "--wait", "--json")
        os.unlink(spec)
        assert code == 0, (code, out, err)
        doc = one_json(out)
        assert doc["status"] == "completed" and doc["dataset_id"] == ds, doc
        assert doc["spec"]["search"] == SEARCH_SPEC["search"], doc["spec"]
        assert len(doc["leaderboard"]) == 3, doc["leaderboard"]
        assert all(0.05 <= t["params"]["learning_rate"] <= 1.0 for t in doc["leaderboard"])
        # a spec without dataset_id and no --dataset: refused before anything is sent
        spec = write_json(SEARCH_SPEC)
        code, out, err, _ = client(url_of(srv), "--spec", spec)
        assert code == 2 and out == "" and "--dataset is required" in err, (code, err)
        # the server's field errors for a bad space, exit 2
        bad = json.loads(json.dumps(SEARCH_SPEC))
        bad["space"]["learning_rate"] = {"low": 1.0, "high": 0.1}
        bad_path = write_json(bad)
        code, out, err, _ = client(url_of(srv), "--spec", bad_path, "--dataset", ds)
        os.unlink(bad_path)
        assert code == 2 and "422" in err and "space.learning_rate" in err, (code, err)
        _, _, lst = srv.json("GET", "/api/v1/sweeps", expect=200)
        assert len(lst["items"]) == 1, lst
        os.unlink(spec)
    finally:
        srv.stop()


def test_preview_fake():
    httpd, url = fake_server({("POST", "/api/v1/sweeps"): (200, "application/json",
                                                           json.dumps(PREVIEW).encode())})
    spec = write_json(dict(SEARCH_SPEC, dataset_id=9))
    try:
        code, out, err, _ = client(url, "--spec", spec, "--preview")
        assert code == 0 and err == "", (code, out, err)
        method, path, _, body = FakeHandler.seen[-1]
        assert (method, path) == ("POST", "/api/v1/sweeps?dry_run=true"), FakeHandler.seen
        sent = json.loads(body)
        assert sent["dataset_id"] == 9 and sent["space"] == SEARCH_SPEC["space"], sent
        assert "preview (nothing was created): random search" in out, out
        assert "trials       60 (budget: max_trials 60, max_seconds 600)" in out, out
        assert "at most 1620" in out and "4.5e+13" in out and "238 s (3:58)" in out, out
        # --json: the server's answer, whole; --dataset wins over the file's id
        code, out, err, _ = client(url, "--spec", spec, "--preview", "--json", "--dataset", "4")
        assert code == 0 and one_json(out) == PREVIEW, (code, out, err)
        assert json.loads(FakeHandler.seen[-1][3])["dataset_id"] == 4
        # --preview --wait makes no sense; nothing is sent
        n = len(FakeHandler.seen)
        code, out, err, _ = client(url, "--spec", spec, "--preview", "--wait")
        assert code == 2 and "--preview" in err and len(FakeHandler.seen) == n, (code, err)
        # a server without previews refuses the query parameter (422): exit 2, said clearly
        problem = {"type": "urn:mlptune:problem:invalid", "title": "Unprocessable", "status": 422,
                   "detail": "dry_run: unknown query parameter",
                   "errors": [{"field": "dry_run", "message": "unknown query parameter"}]}
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (422, "application/problem+json",
                                                           json.dumps(problem).encode())
        code, out, err, _ = client(url, "--spec", spec, "--preview")
        assert code == 2 and out == "" and "dry_run" in err and "without previews" in err, err
        # a refusal of the spec itself gets no such hint
        problem["detail"] = "space.neurons[0]: must be >= 1"
        problem["errors"] = [{"field": "space.neurons[0]", "message": "must be >= 1"}]
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (422, "application/problem+json",
                                                           json.dumps(problem).encode())
        code, out, err, _ = client(url, "--spec", spec, "--preview")
        assert code == 2 and "space.neurons[0]" in err and "without previews" not in err, err
        # an answer that is not a preview (a server that created the sweep): exit 1
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (200, "application/json",
                                                           b'{"id": 3, "status": "queued"}')
        code, out, err, _ = client(url, "--spec", spec, "--preview")
        assert code == 1 and "not a preview" in err, (code, err)
        FakeHandler.answers[("POST", "/api/v1/sweeps")] = (500, "text/plain", b"boom")
        code, out, err, _ = client(url, "--spec", spec, "--preview")
        assert code == 1 and "500" in err and "boom" in err, (code, err)
    finally:
        httpd.shutdown()
        os.unlink(spec)


def test_extend_retry_fake():
    sweep = {"id": 5, "status": "queued", "trials_total": 80}
    httpd, url = fake_server({
        ("POST", "/api/v1/sweeps/5/extend"): (202, "application/json", json.dumps(sweep).encode()),
        ("POST", "/api/v1/sweeps/5/retry"): (
            202, "application/json",
            json.dumps({"requeued": [12, 14], "sweep": dict(sweep, status="running")}).encode()),
        ("GET", "/api/v1/sweeps/5"): (200, "application/json", json.dumps(sweep).encode())})
    try:
        code, out, err, _ = op_client(url, "extend", "5", "--max-trials", "80", "--max-seconds",
                                   "900")
        assert code == 0 and out == "sweep 5: extended; queued, 80 trials\n", (code, out, err)
        method, path, headers, body = FakeHandler.seen[-1]
        assert (method, path) == ("POST", "/api/v1/sweeps/5/extend"), FakeHandler.seen
        assert headers.get("Content-Type") == "application/json", headers
        assert json.loads(body) == {"max_trials": 80, "max_seconds": 900.0}, body
        code, out, err, _ = op_client(url, "extend", "--trial", "12:54", "--trial", "13:27", "5",
                                   "--json")
        assert code == 0 and one_json(out) == sweep, (code, out, err)
        assert json.loads(FakeHandler.seen[-1][3]) == {
            "trials": [{"id": 12, "iterations": 54}, {"id": 13, "iterations": 27}]}
        code, out, err, _ = op_client(url, "retry", "5")
        assert code == 0 and out == "sweep 5: requeued 2 trials (12, 14); running\n", (code, out)
        assert FakeHandler.seen[-1][:2] == ("POST", "/api/v1/sweeps/5/retry")
        assert json.loads(FakeHandler.seen[-1][3]) == {}
        FakeHandler.answers[("POST", "/api/v1/sweeps/5/retry")] = (
            202, "application/json", json.dumps({"requeued": [], "sweep": sweep}).encode())
        code, out, err, _ = op_client(url, "retry", "5")
        assert code == 0 and "no failed or lost trial to requeue" in out, (code, out)
        # --wait follows to the end: the finished sweep, its leaderboard and what was requeued
        done = dict(sweep, status="completed", trials={"completed": 78, "stopped": 2},
                    progress=1)
        FakeHandler.answers[("GET", "/api/v1/sweeps/5")] = (200, "application/json",
                                                            json.dumps(done).encode())
        FakeHandler.answers[("GET", "/api/v1/sweeps/5/trials")] = (
            200, "application/json", json.dumps({"items": [], "next_cursor": None}).encode())
        FakeHandler.answers[("POST", "/api/v1/sweeps/5/retry")] = (
            202, "application/json", json.dumps({"requeued": [7], "sweep": sweep}).encode())
        code, out, err, _ = op_client(url, "retry", "5", "--wait", "--json")
        doc = one_json(out)
        assert code == 0 and doc["requeued"] == [7] and doc["leaderboard"] == [], (code, out)
        code, out, err, _ = op_client(url, "extend", "5", "--max-trials", "90", "--wait")
        assert code == 0 and "sweep 5: extended" in out and "sweep 5 completed" in out, out
        assert "(78 completed, 2 stopped)" in out, out  # a budget's stopped trials are counted
        # the token goes with extend and retry too
        token = write_json(None, "tok-3\n")
        code, out, err, _ = op_client(url, "retry", "5", "--token-file", token)
        os.unlink(token)
        assert code == 0 and FakeHandler.seen[-1][2].get("Authorization") == "Bearer tok-3"
    finally:
        httpd.shutdown()


def test_extend_retry_failures_fake():
    """An unknown sweep (404 from the server), a server that predates the routes (404 while the
    sweep exists, or 405), server errors, bad flags."""
    httpd, url = fake_server({})
    try:
        for op in (["extend", "999", "--max-trials", "3"], ["retry", "999"]):
            code, out, err, _ = op_client(url, *op)
            assert code == 2 and out == "", (op, code, out, err)
            assert "sweep 999: no such sweep on the server" in err and "404" in err, err
            assert FakeHandler.seen[-1][:2] == ("GET", "/api/v1/sweeps/999"), FakeHandler.seen
        FakeHandler.answers[("GET", "/api/v1/sweeps/6")] = (200, "application/json",
                                                            b'{"id": 6, "status": "completed"}')
        FakeHandler.answers[("POST", "/api/v1/sweeps/6/retry")] = (
            404, "application/problem+json",
            b'{"status": 404, "title": "Not Found", '
            b'"detail": "no such resource: /api/v1/sweeps/6/retry"}')
        code, out, err, _ = op_client(url, "retry", "6")
        assert code == 1 and "has no such route" in err and "unchanged" in err, (code, err)
        # a route's own 404 (a trial that is not of this sweep): as the server said, exit 2
        FakeHandler.answers[("POST", "/api/v1/sweeps/6/extend")] = (
            404, "application/problem+json",
            b'{"status": 404, "title": "Not Found", "detail": "trials[0].id: no trial 77 in '
            b'sweep 6"}')
        code, out, err, _ = op_client(url, "extend", "6", "--trial", "77:9")
        assert code == 2 and "no trial 77 in sweep 6" in err, (code, err)
        assert "no such route" not in err and "no such sweep" not in err, err
        FakeHandler.answers[("POST", "/api/v1/sweeps/6/extend")] = (
            405, "application/problem+json", b'{"status": 405, "title": "Method Not Allowed"}')
        code, out, err, _ = op_client(url, "extend", "6", "--trial", "1:2")
        assert code == 1 and "405" in err and "has no such route" in err, (code, err)
        # the server's own 4xx (a budget that is not larger, say): exit 2 with its words
        problem = {"type": "urn:mlptune:problem:invalid", "title": "Unprocessable", "status": 422,
                   "detail": "max_trials: must be larger than the current 60",
                   "errors": [{"field": "max_trials",
                               "message": "must be larger than the current 60"}]}
        FakeHandler.answers[("POST", "/api/v1/sweeps/6/extend")] = (
            422, "application/problem+json", json.dumps(problem).encode())
        code, out, err, _ = op_client(url, "extend", "6", "--max-trials", "10")
        assert code == 2 and "larger than the current 60" in err, (code, err)
        # server errors: exit 1, control characters cleaned
        FakeHandler.answers[("POST", "/api/v1/sweeps/6/retry")] = (503, "text/plain",
                                                                   b"down\x1b[2J")
        code, out, err, _ = op_client(url, "retry", "6")
        assert code == 1 and "503" in err and "\x1b" not in err, (code, err)
        FakeHandler.answers[("POST", "/api/v1/sweeps/6/retry")] = (202, "application/json",
                                                                   b'{"requeued": []}')
        code, out, err, _ = op_client(url, "retry", "6")
        assert code == 1 and "the answer has no sweep" in err, (code, err)
        # bad flags never reach the server
        n = len(FakeHandler.seen)
        for args in (["extend", "6"], ["extend", "6", "--trial", "x"], ["retry"],
                     ["retry", "6", "7"], ["retry", "6", "--max-trials", "3"],
                     ["extend", "6", "--max-trials", "3", "--trial", "1:2"],
                     ["extend", "0", "--max-trials", "3"], ["retry", "6", "--timeout", "0"],
                     ["extend", "6", "--max-seconds"]):
            code, out, err, _ = op_client(url, *args)
            assert code == 2 and out == "" and err.startswith("mlptune: "), (args, code, err)
        assert len(FakeHandler.seen) == n, FakeHandler.seen[n:]
        p = subprocess.run([BIN, "sweep", "extend", "--help"], capture_output=True)
        assert p.returncode == 0 and b"--trial ID:ITERATIONS" in p.stdout
        p = subprocess.run([BIN, "sweep", "--help"], capture_output=True)
        assert p.returncode == 0 and b"--preview" in p.stdout and b"--spec" in p.stdout
    finally:
        httpd.shutdown()


if __name__ == "__main__":
    run([test_csv_wait_json, test_existing_id_without_wait, test_wait_table, test_wait_table_shapes,
         test_uploads_label_column_idx_and_test_set, test_bad_grid_from_server,
         test_bad_local_files, test_no_server, test_cancel_while_waiting,
         test_server_restart_and_loss_while_waiting, test_progress_bar_on_a_terminal,
         test_token_and_server_failures, test_search_spec_real_server, test_preview_fake,
         test_extend_retry_fake, test_extend_retry_failures_fake])
