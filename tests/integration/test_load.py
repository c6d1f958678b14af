"""Load: the real `mlptune serve` under mixed reads and concurrent sweep creation while a sweep
trains, for a bounded time; then 0 errors and 0 lost writes.

For MLPT_LOAD_SECONDS (default 15):
- MLPT_LOAD_READERS threads (default 6) read on keep-alive connections: the sweep list (paged),
  sweeps, their trials, trials, histories (whole and since=k), /metrics, /healthz, and SSE
  streams that connect, read for a moment and hang up;
- MLPT_LOAD_CREATORS threads (default 2) create small sweeps on iris;
- one sweep on digits trains throughout.
Errors: any connection failure, any status other than the expected one, any answer that is not
well-formed (JSON shape, contiguous history rows, SSE framing). Lost writes: a sweep that was
answered 201 but is not listed, does not complete, or has a trial whose history is not exactly
1..iterations. Requests/s and latency percentiles are printed as information, never asserted.

Usage: test_load.py MLPTUNE_BINARY TEST_DATA_DIR
"""
import http.client
import json
import os
import random
import threading
import time

from harness import Server, read, run

SECONDS = float(os.environ.get("MLPT_LOAD_SECONDS", "15"))
READERS = int(os.environ.get("MLPT_LOAD_READERS", "6"))
CREATORS = int(os.environ.get("MLPT_LOAD_CREATORS", "2"))

# Small grids on iris: trials that differ only in iterations share one run (followers).
GRIDS = [
    {"hidden_layers": [1], "neurons": [4, 8], "learning_rate": [0.1], "iterations": [3, 6]},
    {"hidden_layers": [1, 2], "neurons": [8], "learning_rate": [0.05, 0.2], "iterations": [4]},
    {"layers": [[6, 6]], "learning_rate": [0.1], "iterations": [2, 5, 7]},
]
SWEEP_STATES = {"queued", "running", "completed", "failed", "canceled"}
TRIAL_STATES = {"queued", "running", "completed", "failed", "diverged", "pruned", "stopped",
                "canceled"}
SSE_EVENTS = {"trial_started", "iteration", "trial_finished", "sweep_finished"}


class Bad(Exception):
    """An answer that is not what the API promises."""


class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.sweeps = []  # ids answered 201 (and the background sweep)
        self.trials = {}  # trial id -> planned iterations, as readers discover them
        self.created = {}  # sweep id -> the grid it was created with
        self.errors = []
        self.latency = {}  # kind -> [seconds]
        self.sse_streams = self.sse_events = 0
        self.stop = threading.Event()

    def error(self, what):
        with self.lock:
            self.errors.append(what)

    def timed(self, kind, seconds):
        with self.lock:
            self.latency.setdefault(kind, []).append(seconds)

    def pick_sweep(self):
        with self.lock:
            return random.choice(self.sweeps) if self.sweeps else None

    def pick_trial(self):
        with self.lock:
            return random.choice(list(self.trials.items())) if self.trials else None


class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = {}
        if body is not None:
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            data = resp.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def close(self):
        if self.conn:
            self.conn.close()


def want_json(status, hdrs, data, expect, what):
    if status != expect:
        raise Bad("%s: HTTP %d (expected %d): %s" % (what, status, expect, data[:300]))
    if not hdrs.get("content-type", "").startswith("application/json"):
        raise Bad("%s: content-type %r" % (what, hdrs.get("content-type")))
    try:
        return json.loads(data)
    except ValueError as e:
        raise Bad("%s: not JSON (%s): %r" % (what, e, data[:200]))


def check_sweep(sw, what):
    if not isinstance(sw.get("id"), int) or sw.get("status") not in SWEEP_STATES or \
            not 0 <= (sw.get("progress") or 0) <= 1 or "trials_total" not in sw:
        raise Bad("%s: malformed sweep %s" % (what, json.dumps(sw)[:300]))


# ---- readers ---------------------------------------------------------------------------------

def read_sweep_list(c, sh):
    path = "/api/v1/sweeps?limit=%d" % random.choice((5, 20, 100))
    for _ in range(random.choice((1, 1, 3))):  # sometimes follow the cursor
        body = want_json(*c.call("GET", path), 200, path)
        if not isinstance(body.get("items"), list) or "next_cursor" not in body:
            raise Bad("%s: not a page: %s" % (path, json.dumps(body)[:200]))
        for sw in body["items"]:
            check_sweep(sw, path)
        if not body["next_cursor"]:
            break
        path = "/api/v1/sweeps?limit=5&cursor=" + body["next_cursor"]


def read_sweep(c, sh):
    sid = sh.pick_sweep()
    if sid is None:
        return
    path = "/api/v1/sweeps/%d" % sid
    sw = want_json(*c.call("GET", path), 200, path)
    check_sweep(sw, path)
    if sw["id"] != sid:
        raise Bad("%s answered sweep %s" % (path, sw["id"]))


def read_trials(c, sh):
    sid = sh.pick_sweep()
    if sid is None:
        return
    path = "/api/v1/sweeps/%d/trials?limit=100" % sid
    body = want_json(*c.call("GET", path), 200, path)
    found = {}
    for t in body.get("items", []):
        if t.get("sweep_id") != sid or t.get("status") not in TRIAL_STATES or \
                not 0 <= t.get("iterations_done", -1) <= t["params"]["iterations"]:
            raise Bad("%s: malformed trial %s" % (path, json.dumps(t)[:300]))
        found[t["id"]] = t["params"]["iterations"]
    with sh.lock:
        sh.trials.update(found)


def read_trial(c, sh):
    pick = sh.pick_trial()
    if pick is None:
        return
    path = "/api/v1/trials/%d" % pick[0]
    t = want_json(*c.call("GET", path), 200, path)
    if t.get("id") != pick[0] or t.get("status") not in TRIAL_STATES:
        raise Bad("%s: malformed trial %s" % (path, json.dumps(t)[:300]))


def read_history(c, sh):
    pick = sh.pick_trial()
    if pick is None:
        return
    tid, planned = pick
    since = random.choice((0, 0, random.randint(0, planned)))
    path = "/api/v1/trials/%d/history" % tid + ("?since=%d" % since if since else "")
    h = want_json(*c.call("GET", path), 200, path)
    its = [r.get("iteration") for r in h.get("history", [])]
    if its != list(range(since + 1, since + 1 + len(its))) or since + len(its) > planned:
        raise Bad("%s: rows %s" % (path, its[:10]))
    for r in h["history"]:
        if not {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"} <= set(r):
            raise Bad("%s: malformed row %s" % (path, r))


def read_metrics(c, sh):
    status, hdrs, data = c.call("GET", "/metrics")
    if status != 200 or not hdrs.get("content-type", "").startswith("text/plain") or \
            b"mlptune_http_requests_total" not in data:
        raise Bad("/metrics: HTTP %d %r" % (status, data[:200]))


def read_health(c, sh):
    body = want_json(*c.call("GET", "/healthz"), 200, "/healthz")
    if body.get("status") != "ok":
        raise Bad("/healthz: %s" % body)


def read_events(port, sh):
    """An SSE stream that reads for a moment, checks its framing, and hangs up."""
    sid = sh.pick_sweep()
    if sid is None:
        return
    path = "/api/v1/sweeps/%d/events" % sid
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    events = 0
    try:
        conn.request("GET", path, headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200 or resp.getheader("Content-Type") != "text/event-stream":
            raise Bad("%s: HTTP %d %s" % (path, resp.status, resp.getheader("Content-Type")))
        conn.sock.settimeout(0.2)
        until = time.time() + random.uniform(0.1, 0.8)
        event = None
        while time.time() < until:
            try:
                line = resp.readline()
            except OSError:  # nothing more for now (socket timeout): hang up
                break
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line == "":
                event = None
            elif line.startswith(":") or line.startswith("retry:") or line.startswith("id:"):
                pass
            elif line.startswith("event:"):
                event = line[6:].strip()
                if event not in SSE_EVENTS:
                    raise Bad("%s: unknown event %r" % (path, event))
            elif line.startswith("data:"):
                d = json.loads(line[5:])
                if event is None or d.get("sweep_id") != sid:
                    raise Bad("%s: data %r for event %r" % (path, line[:200], event))
                events += 1
            else:
                raise Bad("%s: unexpected line %r" % (path, line[:200]))
    finally:
        conn.close()
    with sh.lock:
        sh.sse_streams += 1
        sh.sse_events += events


READS = [(read_sweep_list, 2), (read_sweep, 3), (read_trials, 3), (read_trial, 2),
         (read_history, 5), (read_metrics, 1), (read_health, 1)]


def reader(port, sh):
    c = Client(port)
    kinds = [fn for fn, weight in READS for _ in range(weight)]
    while not sh.stop.is_set():
        if random.random() < 0.03:
            try:
                read_events(port, sh)
            except Exception as e:  # noqa: BLE001 - every failure counts
                sh.error("read_events: %r" % (e,))
            continue
        fn = random.choice(kinds)
        t0 = time.time()
        try:
            fn(c, sh)
            sh.timed(fn.__name__, time.time() - t0)
        except Exception as e:  # noqa: BLE001 - every failure counts
            sh.error("%s: %r" % (fn.__name__, e))
    c.close()


# ---- creators ---------------------------------------------------------------------------------

def creator(port, sh, dataset_id):
    c = Client(port)
    while not sh.stop.is_set():
        grid = random.choice(GRIDS)
        body = {"dataset_id": dataset_id, "name": "load", "grid": grid,
                "training": {"batch_size": 16, "seed": random.randint(1, 1000)}}
        t0 = time.time()
        try:
            status, hdrs, data = c.call("POST", "/api/v1/sweeps", body)
            sw = want_json(status, hdrs, data, 201, "POST /api/v1/sweeps")
            check_sweep(sw, "POST /api/v1/sweeps")
            if hdrs.get("location") != "/api/v1/sweeps/%d" % sw["id"]:
                raise Bad("Location %r for sweep %d" % (hdrs.get("location"), sw["id"]))
            sh.timed("create_sweep", time.time() - t0)
            with sh.lock:
                sh.sweeps.append(sw["id"])
                sh.created[sw["id"]] = grid
        except Exception as e:  # noqa: BLE001 - every failure counts
            sh.error("create_sweep: %r" % (e,))
        sh.stop.wait(random.uniform(0.05, 0.25))
    c.close()


# ---- the test ---------------------------------------------------------------------------------

def expected_trials(grid):
    shapes = len(grid["layers"]) if "layers" in grid else \
        len(grid["hidden_layers"]) * len(grid["neurons"])
    return shapes * len(grid["learning_rate"]) * len(grid["iterations"])


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")


def background_sweep(srv, digits_id):
    """One trial on digits sized to train for most of the window (from a short calibration)."""
    net = {"hidden_layers": [2], "neurons": [256], "learning_rate": [0.05]}
    training = {"batch_size": 8, "seed": 3}
    _, _, cal = srv.json("POST", "/api/v1/sweeps", {
        "dataset_id": digits_id, "grid": dict(net, iterations=[6]), "training": training},
        expect=201)
    srv.wait_sweep(cal["id"], timeout=120)
    _, _, t = srv.json("GET", "/api/v1/sweeps/%d/trials" % cal["id"], expect=200)
    _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["items"][0]["id"], expect=200)
    per_it = sorted(r["seconds"] for r in h["history"])[len(h["history"]) // 2]
    iterations = int(min(10000, max(20, 0.6 * SECONDS / per_it)))
    _, _, sw = srv.json("POST", "/api/v1/sweeps", {
        "dataset_id": digits_id, "name": "background",
        "grid": dict(net, iterations=[iterations]), "training": training}, expect=201)
    return sw["id"], iterations


def all_sweeps(srv):
    out, path = {}, "/api/v1/sweeps?limit=100"
    while True:
        _, _, page = srv.json("GET", path, expect=200)
        for sw in page["items"]:
            out[sw["id"]] = sw
        if not page["next_cursor"]:
            return out
        path = "/api/v1/sweeps?limit=100&cursor=" + page["next_cursor"]


def test_load():
    srv = Server(workers=2)
    try:
        _, _, iris = srv.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        _, _, digits = srv.upload({"name": "digits"},
                                  {"file": ("digits.csv", read("digits.csv"))})
        bg, bg_iterations = background_sweep(srv, digits["id"])
        sh = Shared()
        sh.sweeps.append(bg)
        threads = [threading.Thread(target=reader, args=(srv.port, sh)) for _ in range(READERS)]
        threads += [threading.Thread(target=creator, args=(srv.port, sh, iris["id"]))
                    for _ in range(CREATORS)]
        t0 = time.time()
        for t in threads:
            t.start()
        time.sleep(SECONDS)
        _, _, bg_now = srv.json("GET", "/api/v1/sweeps/%d" % bg, expect=200)
        sh.stop.set()
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        reads = sum(len(v) for k, v in sh.latency.items() if k != "create_sweep")
        allv = [x for v in sh.latency.values() for x in v]
        print("  %.1f s, %d readers, %d creators: %d requests (%.0f/s), p50 %.1f ms, p99 %.1f ms;"
              " %d sweeps created; %d SSE streams (%d events); background sweep %s at the end"
              % (elapsed, READERS, CREATORS, len(allv), len(allv) / elapsed,
                 1000 * pct(allv, 50), 1000 * pct(allv, 99), len(sh.created),
                 sh.sse_streams, sh.sse_events, bg_now["status"]), flush=True)
        for k in sorted(sh.latency):
            v = sh.latency[k]
            print("    %-16s %6d  p50 %6.1f ms  p99 %6.1f ms"
                  % (k, len(v), 1000 * pct(v, 50), 1000 * pct(v, 99)), flush=True)
        assert not sh.errors, "%d errors, e.g. %s" % (len(sh.errors), sh.errors[:5])
        assert reads > 0 and sh.created and sh.sse_streams > 0, (reads, len(sh.created))

        # 0 lost writes: every sweep answered 201 is listed, completes, and every trial's
        # history is exactly 1..iterations.
        deadline = time.time() + 180
        while True:
            listed = all_sweeps(srv)
            missing = [s for s in sh.sweeps if s not in listed]
            assert not missing, "created but not listed: %s" % missing[:10]
            pending = [s for s in sh.sweeps if listed[s]["status"] in ("queued", "running")]
            if not pending:
                break
            assert time.time() < deadline, "still training: %s" % pending[:10]
            time.sleep(0.2)
        rows = 0
        for sid in sh.sweeps:
            sw = listed[sid]
            assert sw["status"] == "completed", sw
            _, _, trials = srv.json("GET", "/api/v1/sweeps/%d/trials?limit=100" % sid, expect=200)
            items = trials["items"]
            want = expected_trials(sh.created[sid]) if sid in sh.created else 1
            assert len(items) == want == sw["trials_total"], (sid, len(items), want)
            for t in items:
                n = t["params"]["iterations"]
                if sid == bg:
                    assert n == bg_iterations, t
                else:
                    assert n in sh.created[sid]["iterations"], t
                assert t["status"] == "completed" and t["iterations_done"] == n, t
                _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % t["id"], expect=200)
                its = [r["iteration"] for r in h["history"]]
                assert its == list(range(1, n + 1)), (t["id"], its[:10], n)
                rows += n
        # the server's own count: no 5xx on any route
        _, _, metrics = srv.request("GET", "/metrics")
        fives = [l for l in metrics.decode().splitlines()
                 if l.startswith("mlptune_http_requests_total") and 'status="5' in l]
        assert not fives, fives
        print("  0 errors; %d sweeps, %d history rows checked, 0 lost" % (len(sh.sweeps), rows),
              flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    run([test_load])
