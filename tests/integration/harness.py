"""Starts the real mlptune binary on an ephemeral port with a temporary data dir, and talks HTTP.

Used by the integration tests (python3 standard library only). A test file calls run(tests) at
the end; its last line is "N passed, M failed" and its exit status says whether all passed.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/service/mlptune"
DATA = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "data")


class Server:
    """One mlptune serve process; the data dir survives restart() and is removed by stop()."""

    def __init__(self, workers=2, data_dir=None, extra=(), env=None):
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="mlpt-it-")
        self.workers = workers
        self.extra = list(extra)
        self.env = dict(env or {})  # the server's variables over this process's; None unsets
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        self.proc = subprocess.Popen(
            [BIN, "serve", "--port", "0", "--data-dir", self.data_dir,
             "--workers", str(self.workers)] + self.extra,
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        if "listening on http://" not in line:
            self.proc.kill()
            raise RuntimeError("server did not start: %r\n%s" % (line, self.logs()))
        self.port = int(line.rsplit(":", 1)[1].strip().strip("/"))
        # keep draining stdout so the server never blocks on it
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code

    def restart(self):
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.terminate()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- HTTP ------------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers dict (lower-case names), body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        out = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        conn.close()
        return out

    def json(self, method, path, body=None, headers=None, expect=None):
        status, hdrs, data = self.request(method, path, body, headers)
        if expect is not None and status != expect:
            raise AssertionError("%s %s: HTTP %d (expected %d): %s"
                                 % (method, path, status, expect, data[:500]))
        return status, hdrs, (json.loads(data) if data else None)

    def upload(self, fields, files, query=""):
        """multipart/form-data: fields {name: value}, files {name: (filename, bytes)}."""
        boundary = "mlptune-test-boundary-7d1f3c"
        parts = []
        for k, v in fields.items():
            parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                          % (boundary, k, v)).encode())
        for k, (fname, data) in files.items():
            parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                          "Content-Type: application/octet-stream\r\n\r\n"
                          % (boundary, k, fname)).encode() + data + b"\r\n")
        body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
        return self.json("POST", "/api/v1/datasets" + query, body,
                         {"Content-Type": "multipart/form-data; boundary=" + boundary})

    def wait_sweep(self, sweep_id, statuses=("completed", "failed", "canceled"), timeout=120):
        deadline = time.time() + timeout
        while True:
            _, _, sw = self.json("GET", "/api/v1/sweeps/%d" % sweep_id, expect=200)
            if sw["status"] in statuses:
                return sw
            if time.time() > deadline:
                raise AssertionError("sweep %d still %s after %ds" % (sweep_id, sw["status"], timeout))
            time.sleep(0.1)


def read(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def problem(status_hdrs_body, status):
    """Asserts an application/problem+json answer with that status; returns the body."""
    got, hdrs, body = status_hdrs_body
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body) if body else None
    assert got == status, "HTTP %d, expected %d: %s" % (got, status, body)
    assert hdrs.get("content-type", "").startswith("application/problem+json"), hdrs
    assert body["status"] == status and body.get("title") and "type" in body, body
    return body


def run(tests):
    passed = failed = 0
    for t in tests:
        t0 = time.time()
        try:
            t()
            passed += 1
            print("ok - %s (%.1fs)" % (t.__name__, time.time() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL - %s" % t.__name__, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
