"""What clients read of a running service, for test_crash.py's test_seen_rows_stay: every
history row read (by polling sweep histories, and by following each sweep's event stream), and
the checks that none of it later goes away or changes. Python standard library only."""
import http.client
import json
import os
import sqlite3
import threading
import time

FIGURES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


class Seen:
    """Every history row a client read, by (trial, iteration), from history reads and SSE; a
    second reading of the same row must agree with the first."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows = {}
        self.from_sse = 0
        self.problems = []

    def add(self, trial, row, where):
        key = (trial, row["iteration"])
        val = tuple(row[k] for k in FIGURES)
        with self.lock:
            old = self.rows.setdefault(key, val)
            if old != val:
                self.problems.append("%s: trial %d iteration %d read as %r, earlier as %r"
                                     % (where, key[0], key[1], val, old))
            elif where == "sse":
                self.from_sse += 1

    def check(self, srv, what):
        """Every row read so far is still served, identical (seconds included)."""
        with self.lock:
            assert not self.problems, "%s: %s" % (what, self.problems[:3])
            want = dict(self.rows)
        by_trial = {}
        for (trial, it), val in want.items():
            by_trial.setdefault(trial, {})[it] = val
        for trial, rows in by_trial.items():
            _, _, h = srv.json("GET", "/api/v1/trials/%d/history" % trial, expect=200)
            have = {r["iteration"]: tuple(r[k] for k in FIGURES) for r in h["history"]}
            gone = sorted(it for it in rows if it not in have)
            assert not gone, "%s: trial %d: iterations %s were read by a client and are gone" % (
                what, trial, gone[:20])
            changed = [(it, rows[it], have[it]) for it in sorted(rows) if rows[it] != have[it]]
            assert not changed, "%s: trial %d: rows read by a client changed: %r" % (
                what, trial, changed[:3])
        return len(want)


def sse_follow(port, sweep, seen, stop):
    """Reads one sweep's event stream until the sweep ends, the server dies or stop is set.
    One connection must never carry the same iteration twice."""
    got = set()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/api/v1/sweeps/%d/events" % sweep)
        resp = conn.getresponse()
        if resp.status != 200:
            return
        event = None
        while not stop.is_set():
            try:
                line = resp.fp.readline()
            except OSError:  # a timeout between heartbeats: look at stop again
                continue
            if not line:
                return
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "iteration":
                d = json.loads(line[6:])
                key = (d["trial_id"], d["iteration"])
                if key in got:
                    with seen.lock:
                        seen.problems.append("sse: sweep %d sent trial %d iteration %d twice"
                                             % (sweep, key[0], key[1]))
                got.add(key)
                seen.add(d["trial_id"], d, "sse")
            elif line.startswith("data: ") and event == "sweep_finished":
                return
    except (OSError, http.client.HTTPException, ValueError):
        pass  # the server was killed


def history_poll(srv, sweeps, seen, stop):
    """Reads every sweep's history over and over, as a dashboard would."""
    while not stop.is_set():
        for sw in list(sweeps):
            try:
                status, _, body = srv.request("GET", "/api/v1/sweeps/%d/history" % sw, timeout=5)
            except (OSError, http.client.HTTPException):
                continue
            if status != 200:
                continue
            for t in json.loads(body)["trials"]:
                for r in t["history"]:
                    seen.add(t["trial_id"], r, "history")
        time.sleep(0.01)


def check_checkpoints(srv, what):
    """Straight after a kill: no checkpoint covers more than its trial's rows, and
    iterations_done is the last row."""
    path = os.path.join(srv.data_dir, "mlptune.db")
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    try:
        bad = con.execute(
            "SELECT t.id, t.status, t.checkpoint_iteration, t.iterations_done, "
            "(SELECT coalesce(max(iteration), 0) FROM trial_metrics m WHERE m.trial_id = t.id) "
            "FROM trials t WHERE t.checkpoint_iteration > t.iterations_done OR "
            "t.iterations_done <> (SELECT coalesce(max(iteration), 0) FROM trial_metrics m "
            "WHERE m.trial_id = t.id)").fetchall()
        lag = con.execute("SELECT count(*) FROM trials WHERE status = 'running' AND "
                          "iterations_done > checkpoint_iteration").fetchone()[0]
    finally:
        con.close()
    assert not bad, "%s: (trial, status, checkpoint_iteration, iterations_done, last row): %r" % (
        what, bad)
    return lag
