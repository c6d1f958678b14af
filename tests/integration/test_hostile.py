"""Hostile input: hundreds of generated bad requests against the real `mlptune serve`.

Usage: test_hostile.py MLPTUNE_BINARY TEST_DATA_DIR        (python3 standard library only)

Every generated case is a request that must get a 4xx (never a 5xx, never a dropped connection)
with an application/problem+json body whose detail says what was wrong (and, where the case
knows it, names the field or the limit). The raw-socket clients (stalled, garbage, oversized
headers) are only required to leave the server up and answering a normal request quickly; those
that trickle headers or a body must be cut off. At the end: /healthz is 200, uploads/ is empty,
and no bad upload left a dataset behind.

The servers run with --connection-timeout HOSTILE_CONNECTION_TIMEOUT (default 3 s), which also
shortens the header deadline and the body's grace period, so the slow clients are cut off in
seconds rather than the default minute.

A case whose name is in KNOWN_FAILURES is a server bug that is reported, not fixed: when it fails
it is listed as an expected failure (not counted as passed); when it passes it is listed as
"now passes" so the entry can be removed.
"""
import base64
import copy
import gzip
import http.client
import json
import os
import random
import re
import socket
import struct
import time
import urllib.parse
from functools import lru_cache

from harness import Server, read, run

# name -> why it fails (the bug report); see the module docstring.
KNOWN_FAILURES = {}

J = {"Content-Type": "application/json"}
MP_BOUNDARY = "hostile-7d1f3c"
MP = {"Content-Type": "multipart/form-data; boundary=" + MP_BOUNDARY}
CSV = {"Content-Type": "text/csv"}
INJECTIONS = ["'; DROP TABLE datasets;--", "<script>alert(1)</script>", "%s%n%x%p%s%s%n",
              "=cmd|' /C calc'!A0", "${jndi:ldap://x/a}", "{{7*7}}", "\" OR \"1\"=\"1",
              "../../etc/passwd"]
T0 = time.time()
TIMEOUT = int(os.environ.get("HOSTILE_CONNECTION_TIMEOUT", "3"))  # --connection-timeout
SERVE = ["--connection-timeout", str(TIMEOUT)]


class Ctx:
    """What the categories share: the servers and the things made on purpose."""
    main = None          # workers=1, default limits
    small = None         # --max-upload-mb 1
    iris = None          # dataset id
    sweep_done = None    # a completed sweep
    trial = None         # a completed trial with a model
    purpose = {}         # server -> set of dataset ids made on purpose
    sweeps_made = []     # (server, sweep id) created on purpose (canceled at the end)
    stalled = None       # the half-request-line socket opened at the start, and when
    auth = None          # the server with a token (test_auth)
    index_html = b""


STATS = []               # (category, cases, passed, failed, expected failures)
EXPECTED = []            # (case, why)
XPASS = []               # known failures that passed


# ---- raw HTTP ------------------------------------------------------------------------------

class Dropped(Exception):
    pass


def send(srv, method, path, body=None, headers=None, chunked=False, timeout=30):
    """One request on its own connection, bytes exactly as given (paths may hold any byte).
    Returns (status, headers (lower-case), body bytes); raises Dropped when the server closes
    without an answer."""
    if isinstance(path, str):
        path = path.encode("latin-1")
    if isinstance(body, str):
        body = body.encode()
    hdrs = [("Host", "127.0.0.1:%d" % srv.port), ("Connection", "close")]
    user = dict(headers or {})
    names = {k.lower() for k in user}
    if body is not None and not chunked and "content-length" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    if chunked:
        hdrs.append(("Transfer-Encoding", "chunked"))
    hdrs += list(user.items())
    head = method.encode() + b" " + path + b" HTTP/1.1\r\n"
    for k, v in hdrs:
        head += k.encode() + b": " + (v if isinstance(v, bytes) else v.encode("latin-1")) + b"\r\n"
    head += b"\r\n"
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        try:
            sock.sendall(head)
            if body is not None:
                view = memoryview(body)
                step = 1 << 20
                for i in range(0, len(body), step):
                    piece = view[i:i + step]
                    if chunked:
                        sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    else:
                        sock.sendall(piece)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered early and closed: the answer may still be readable
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
            data = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError,
                http.client.IncompleteRead, http.client.BadStatusLine) as e:
            raise Dropped("connection dropped without an answer (%s)" % type(e).__name__)
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        sock.close()


def healthy_quickly(srv, limit=2.0):
    """GET /healthz answers 200 within `limit` seconds; returns an error string or None."""
    t = time.time()
    try:
        st, _, _ = send(srv, "GET", "/healthz", timeout=limit + 3)
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        return "GET /healthz failed: %r" % e
    took = time.time() - t
    if st != 200:
        return "GET /healthz: HTTP %d" % st
    if took > limit:
        return "GET /healthz took %.2fs" % took
    return None


# ---- cases ---------------------------------------------------------------------------------

class Case:
    """One bad request and what its answer must be.
    status: an int, a tuple of ints, or None (any 4xx). want: substrings (case-insensitive) of the
    detail + errors. field: an errors[].field the answer must name. allow: the Allow header of a
    405. static_ok: a 200 with the dashboard's index.html is also right."""

    def __init__(self, name, method, path, body=None, headers=None, status=None, want=(),
                 field=None, allow=None, chunked=False, static_ok=False, server="main"):
        self.name, self.method, self.path, self.body = name, method, path, body
        self.headers, self.status, self.want, self.field = headers, status, want, field
        self.allow, self.chunked, self.static_ok, self.server = allow, chunked, static_ok, server
        if isinstance(self.want, str):
            self.want = (self.want,)


def short(b, n=160):
    if b is None:
        return ""
    if isinstance(b, (bytes, bytearray)):
        b = b[:n].decode("latin-1")
    return (b[:n] + "...") if len(b) > n else b


def undo(srv, c, st, data):
    """A bad request that was accepted: remove what it made, so that one failure does not also
    fail the final checks. Returns a note for the failure message."""
    if st not in (200, 201) or c.method != "POST":
        return ""
    try:
        made = json.loads(data)
    except ValueError:
        return ""
    if c.path.startswith("/api/v1/datasets") and "id" in made:
        st, _, _ = send(srv, "DELETE", "/api/v1/datasets/%d" % made["id"])
        return " (dataset %d was created; deleted: HTTP %d)" % (made["id"], st)
    if c.path.startswith("/api/v1/sweeps") and "id" in made:
        Ctx.sweeps_made.append((srv, made["id"]))
        st, _, _ = send(srv, "POST", "/api/v1/sweeps/%d/cancel" % made["id"])
        return " (sweep %d was created; canceled: HTTP %d)" % (made["id"], st)
    return ""


def check_case(c):
    """Sends c; returns None when the answer is right, else what was wrong."""
    srv = Ctx.main if c.server == "main" else Ctx.small
    try:
        st, hdrs, data = send(srv, c.method, c.path, c.body, c.headers, c.chunked)
    except Dropped as e:
        return str(e)
    except OSError as e:
        return "connection error: %r" % e
    if c.static_ok and st == 200:
        if b"root:" in data:
            return "HTTP 200 with a file outside web/ (root:...)"
        if c.method == "HEAD":
            return None
        if data != Ctx.index_html:
            return "HTTP 200 with a body that is not index.html: %r" % short(data)
        return None
    if b"root:" in data:
        return "HTTP %d with root:... in the body" % st
    if not 400 <= st <= 499:
        return "HTTP %d (want 4xx): %s%s" % (st, short(data, 300), undo(srv, c, st, data))
    if c.status is not None and st not in (c.status if isinstance(c.status, tuple)
                                             else (c.status,)):
        return "HTTP %d (want %s): %s" % (st, c.status, short(data, 300))
    if st == 405:
        allow = hdrs.get("allow", "")
        if not allow:
            return "405 without Allow"
        if c.allow is not None and {m.strip() for m in allow.split(",")} != set(c.allow):
            return "405 Allow: %r (want %s)" % (allow, ", ".join(c.allow))
    if c.method == "HEAD":
        return None
    if not hdrs.get("content-type", "").startswith("application/problem+json"):
        return "HTTP %d with Content-Type %r: %s" % (st, hdrs.get("content-type"), short(data))
    try:
        p = json.loads(data)
    except ValueError:
        return "HTTP %d with a body that is not JSON: %s" % (st, short(data))
    if not isinstance(p, dict) or p.get("status") != st or not p.get("title") or "type" not in p:
        return "problem without type/title/status %d: %s" % (st, short(data, 300))
    detail = p.get("detail")
    if not isinstance(detail, str) or not detail.strip() or detail == p.get("title"):
        return "problem whose detail does not say what was wrong: %s" % short(data, 300)
    errors = p.get("errors", [])
    if st == 422 and not errors:
        return "422 without errors[]: %s" % short(data, 300)
    for e in errors:
        if not isinstance(e, dict) or "field" not in e or not e.get("message"):
            return "errors[] item without field and message: %r" % (e,)
    text = (detail + " " + json.dumps(errors, ensure_ascii=False)).lower()
    for w in c.want:
        if w.lower() not in text:
            return "detail/errors do not mention %r: %s" % (w, short(data, 400))
    if c.field is not None and c.field not in [e.get("field") for e in errors]:
        return "errors[] do not name the field %r: %s" % (c.field, short(data, 400))
    return None


def run_cases(category, cases, extra=None):
    """Checks every case (and the extra (name, fn) checks: fn returns an error or None), prints
    a line per failure, records the counts; raises when something unexpected failed."""
    names = [c.name for c in cases] + [n for n, _ in (extra or [])]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, "duplicate case names: %s" % sorted(dup)
    failed, expected, passed = [], [], 0
    results = [(c.name, lambda c=c: check_case(c), c) for c in cases]
    results += [(n, fn, None) for n, fn in (extra or [])]
    for name, fn, c in results:
        try:
            err = fn()
        except Exception as e:  # noqa: BLE001 - a crash of the check is a failure of the case
            err = "check raised %r" % e
        if err is None:
            passed += 1
            if name in KNOWN_FAILURES:
                XPASS.append(name)
            continue
        where = ""
        if c is not None:
            where = " [%s %s %s]" % (c.method, short(c.path, 100), short(c.body, 100))
        if name in KNOWN_FAILURES:
            expected.append(name)
            EXPECTED.append((name, short(err, 160) + where, KNOWN_FAILURES[name]))
        else:
            failed.append("  %s: %s%s" % (name, err, where))
    STATS.append((category, len(results), passed, len(failed), len(expected)))
    print("  %-22s %4d cases: %d passed, %d failed, %d expected failures"
          % (category, len(results), passed, len(failed), len(expected)), flush=True)
    if failed:
        raise AssertionError("%d of %d %s cases failed:\n%s"
                             % (len(failed), len(results), category, "\n".join(failed)))


# ---- bodies --------------------------------------------------------------------------------

def base_sweep():
    return {"dataset_id": Ctx.iris, "name": "hostile",
            "grid": {"hidden_layers": [1], "neurons": [4], "learning_rate": [0.1],
                     "iterations": [1]},
            "training": {"activation": "relu", "batch_size": 16, "validation_split": 0.2,
                         "seed": 7}}


_RAW = "\u0001raw\u0001"
_DEL = object()


def sweep_with(path, raw=None, value=_DEL, base=None):
    """The base sweep body with the member at path (a tuple of keys and indexes) set to raw JSON
    text, or to a Python value, or deleted (neither given)."""
    b = copy.deepcopy(base or base_sweep())
    node = b
    for k in path[:-1]:
        node = node[k]
    if raw is not None:
        node[path[-1]] = _RAW
    elif value is _DEL:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    text = json.dumps(b)
    return text.replace(json.dumps(_RAW), raw) if raw is not None else text


def path_name(path):
    s = ""
    for k in path:
        s += "[%d]" % k if isinstance(k, int) else ("." if s else "") + k
    return s


def mp_body(parts, end=True, boundary=MP_BOUNDARY):
    """parts: (Content-Disposition and other header lines as bytes, data bytes)."""
    b = boundary.encode()
    out = b""
    for hdr, data in parts:
        out += b"--" + b + b"\r\n" + hdr + b"\r\n\r\n" + data + b"\r\n"
    if end:
        out += b"--" + b + b"--\r\n"
    return out


def fpart(name, data, filename="f.bin"):
    return (b'Content-Disposition: form-data; name="' + name.encode() + b'"; filename="'
            + filename.encode() + b'"\r\nContent-Type: application/octet-stream', data)


def vpart(name, value):
    return (b'Content-Disposition: form-data; name="' + name.encode() + b'"',
            value if isinstance(value, bytes) else value.encode())


def idx_images(n, side=4, seed=1, dims=None, typ=8):
    rng = random.Random(seed)
    dims = dims or (n, side, side)
    return (struct.pack(">HBB", 0, typ, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
            + bytes(rng.randrange(256) for _ in range(n * side * side)))


def idx_labels(n, classes=3, dims=None, typ=8):
    dims = dims or (n,)
    return (struct.pack(">HBB", 0, typ, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
            + bytes(i % classes for i in range(n)))


def make_csv(rows=40, label=lambda i: "ab"[i % 2]):
    lines = ["x1,x2,label"] + ["%d,%d,%s" % (i, i * 7 % 5, label(i)) for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@lru_cache(maxsize=1)
def zero_member():
    return gzip.compress(b"\0" * (64 << 20), 9)


def gzip_bomb(total):
    """gzip members of 64 MiB of zeros, concatenated until they inflate to `total` bytes: about
    1/1000 of that on the wire (gz.h: concatenated members are one stream)."""
    return zero_member() * (total // (64 << 20) + 1)


@lru_cache(maxsize=2)
def rows_member(row=b"0,a\n"):
    """A gzip member of 64 MiB of one CSV row repeated (about 64 KB)."""
    return gzip.compress(row * (16 << 20), 9)


def csv_error_then_bomb():
    """A gzip'd CSV whose second line is not a number, then 4 GiB more of valid rows (gzip
    members one after the other are one stream)."""
    return gzip.compress(b"x1,label\nabc,a\n") + rows_member() * 64


def zero_rows_gz():
    """A header, then 1 GiB of valid CSV rows, gzip'd (about 1000:1)."""
    return gzip.compress(b"x1,label\n") + rows_member() * 16


def lying_idx_bomb():
    """An IDX images header promising 10,000,000 x 1 x 214 values (2^31 is the limit), then
    256 MiB of zeros: 256 KB on the wire."""
    return gzip.compress(struct.pack(">HBBIII", 0, 8, 3, 10000000, 1, 214)) + zero_member() * 4


def upload_csv_case(name, data, want=(), status=422, field=None, query="?name=hostile",
                    server="main"):
    return Case(name, "POST", "/api/v1/datasets" + query, data, CSV, status=status, want=want,
                field=field, server=server)


def upload_mp_case(name, parts, want=(), status=422, field=None, end=True, headers=None,
                   server="main"):
    return Case(name, "POST", "/api/v1/datasets", mp_body(parts, end), headers or MP,
                status=status, want=want, field=field, server=server)


# ---- set-up --------------------------------------------------------------------------------

def on_purpose_upload(srv, fields, files):
    st, _, ds = srv.upload(fields, files)
    assert st == 201, (st, ds)
    Ctx.purpose.setdefault(srv, set()).add(ds["id"])
    return ds


def on_purpose_sweep(srv, body, cancel=True):
    """A sweep that must be accepted (201); canceled at once unless told otherwise."""
    st, hdrs, data = send(srv, "POST", "/api/v1/sweeps", body if isinstance(body, (str, bytes))
                          else json.dumps(body), J)
    if st != 201:
        return None, "HTTP %d (want 201): %s" % (st, short(data, 300))
    sw = json.loads(data)
    Ctx.sweeps_made.append((srv, sw["id"]))
    if cancel:
        cst, _, cdata = send(srv, "POST", "/api/v1/sweeps/%d/cancel" % sw["id"])
        if cst not in (200, 409):
            return sw, "cancel: HTTP %d: %s" % (cst, short(cdata))
    return sw, None


def test_setup():
    """Two servers, the iris dataset, one finished trial with a model, and a client that sends
    half a request line and stalls (checked at the very end: the server must close it)."""
    Ctx.main = Server(workers=1, extra=SERVE)
    Ctx.small = Server(workers=1, extra=["--max-upload-mb", "1"] + SERVE)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web",
                           "index.html"), "rb") as f:
        Ctx.index_html = f.read()
    s = socket.create_connection(("127.0.0.1", Ctx.main.port), timeout=120)
    s.sendall(b"GET /api/v1/data")
    Ctx.stalled = (s, time.time())
    Ctx.iris = on_purpose_upload(Ctx.main, {"name": "iris"},
                                 {"file": ("iris.csv", read("iris.csv"))})["id"]
    sw, err = on_purpose_sweep(Ctx.main, base_sweep() | {"grid": {
        "hidden_layers": [1], "neurons": [4], "learning_rate": [0.1], "iterations": [2]}},
        cancel=False)
    assert err is None, err
    sw = Ctx.main.wait_sweep(sw["id"], timeout=60)
    assert sw["status"] == "completed", sw
    Ctx.sweep_done = sw["id"]
    _, _, page = Ctx.main.json("GET", "/api/v1/sweeps/%d/trials" % sw["id"], expect=200)
    Ctx.trial = page["items"][0]["id"]


# ---- 1. malformed JSON ---------------------------------------------------------------------

def test_json_malformed():
    cases = []
    valid = json.dumps(base_sweep() | {"grid": {
        "hidden_layers": [1, 2], "neurons": [8], "learning_rate": [0.1, 0.5], "iterations": [3],
        "activation": ["relu"], "momentum": [0.9]}}, separators=(",", ":"))
    for n in range(len(valid)):  # every prefix of a valid body
        cases.append(Case("sweep prefix %d/%d" % (n, len(valid)), "POST", "/api/v1/sweeps",
                          valid[:n], J, status=400, want="malformed JSON"))
    pred = '{"rows":[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]}'
    for n in range(len(pred)):
        cases.append(Case("predict prefix %d/%d" % (n, len(pred)), "POST",
                          "/api/v1/trials/%d/predict" % Ctx.trial, pred[:n], J, status=400,
                          want="malformed JSON"))
    bad = {  # name -> body text (bytes where the bytes matter)
        "escape \\x": r'{"name": "a\x41"}', "escape \\u12": r'{"name": "\u12"}',
        "escape \\u12G4": r'{"name": "\u12G4"}', "lone high surrogate": r'{"name": "\ud800"}',
        "lone low surrogate": r'{"name": "\udc00"}', "surrogate + BMP": r'{"name": "\ud800\u0041"}',
        "backslash at end": '{"name": "abc\\', "escape \\'": r'{"name": "\'"}',
        "escape \\a": r'{"name": "\a"}', "escape \\0": r'{"name": "\0"}',
        "escape \\u0000": r'{"name": "\u0000"}', "escaped NUL in key": r'{"a\u0000b": 1}',
        "utf8 0xff": b'{"name": "\xff"}', "utf8 overlong c0 ae": b'{"name": "\xc0\xae"}',
        "utf8 overlong e0 80 ae": b'{"name": "\xe0\x80\xae"}',
        "utf8 surrogate ed a0 80": b'{"name": "\xed\xa0\x80"}',
        "utf8 above U+10FFFF": b'{"name": "\xf4\x90\x80\x80"}',
        "utf8 truncated e2 82": b'{"name": "\xe2\x82"}',
        "utf8 lone continuation": b'{"name": "\x80"}', "utf8 in key": b'{"\xfe": 1}',
        "utf8 outside strings": b'{"dataset_id": 1\xff}', "latin-1 name": b'{"name": "caf\xe9"}',
        "raw NUL in string": b'{"name": "a\x00b"}', "NUL after body": b'{"dataset_id": 1}\x00',
        "NUL before body": b'\x00{"dataset_id": 1}', "NUL only": b"\x00",
        "raw tab in string": b'{"name": "a\tb"}', "raw newline in string": b'{"name": "a\nb"}',
        "single quotes": "{'dataset_id': 1}", "trailing comma object": '{"dataset_id": 1,}',
        "trailing comma array": '{"grid": {"iterations": [1,]}}', "line comment":
        '{"dataset_id": 1 // one\n}', "block comment": '{/* c */ "dataset_id": 1}',
        "NaN literal": '{"grid": {"learning_rate": [NaN]}}',
        "Infinity literal": '{"grid": {"learning_rate": [Infinity]}}',
        "-Infinity literal": '{"grid": {"learning_rate": [-Infinity]}}',
        "leading zero": '{"dataset_id": 01}', "plus sign": '{"dataset_id": +1}',
        "bare fraction": '{"grid": {"learning_rate": [.5]}}',
        "trailing dot": '{"grid": {"learning_rate": [1.]}}', "hex number": '{"dataset_id": 0x1}',
        "exponent without digits": '{"grid": {"learning_rate": [1e]}}',
        "duplicate top key": '{"dataset_id": 1, "dataset_id": 2}',
        "duplicate grid key": '{"grid": {"iterations": [1], "iterations": [2]}}',
        "unquoted key": "{dataset_id: 1}", "BOM prefix": b'\xef\xbb\xbf{"dataset_id": 1}',
        "two objects": '{"dataset_id": 1}{"dataset_id": 2}', "extra brace": '{"dataset_id": 1}}',
        "garbage after": '{"dataset_id": 1} x', "missing colon": '{"dataset_id" 1}',
        "missing comma": '{"dataset_id": 1 "name": "a"}', "unclosed string": '{"name": "abc}',
        "true misspelled": '{"x": tru}', "null misspelled": '{"x": nul}',
        "empty body": "", "whitespace only": "   \r\n\t ", "UTF-16 body":
        '{"dataset_id": 1}'.encode("utf-16"), "JSON in a JSON string": '"{\\"dataset_id\\": 1}',
        "real overflow 1e309": '{"grid": {"learning_rate": [1e309]}}',
        "real overflow -1e309": '{"grid": {"learning_rate": [-1e309]}}',
        "int 2^63": '{"dataset_id": 9223372036854775808}',
        "int -2^63-1": '{"dataset_id": -9223372036854775809}',
        "int 2^64": '{"training": {"seed": 18446744073709551616}}',
        "int 100 digits": '{"training": {"seed": %s}}' % ("9" * 100),
    }
    for name, body in bad.items():
        cases.append(Case(name, "POST", "/api/v1/sweeps", body, J, status=400,
                          want="malformed JSON"))
    for name, body in {"null": "null", "array": "[]", "string": '"sweep"', "number": "1",
                       "true": "true", "array of the body": "[" + valid + "]"}.items():
        cases.append(Case("body is " + name, "POST", "/api/v1/sweeps", body, J, status=422,
                          want="must be a JSON object", field="body"))
        cases.append(Case("predict body is " + name, "POST",
                          "/api/v1/trials/%d/predict" % Ctx.trial, body, J, status=422,
                          field="body"))
    run_cases("json_malformed", cases)


# ---- 2. huge and deeply nested JSON ----------------------------------------------------------

def test_json_huge_nested():
    D = 10000
    cases = []
    nested = {
        "arrays 10k deep": "[" * D + "]" * D,
        "objects 10k deep": '{"a":' * D + "1" + "}" * D,
        "mixed 10k deep": '[{"a":' * (D // 2) + "1" + "}]" * (D // 2),
        "unclosed arrays 10k": "[" * D,
        "unclosed objects 10k": '{"a":' * D,
    }
    for name, body in nested.items():
        cases.append(Case(name, "POST", "/api/v1/sweeps", body, J, status=400,
                          want="malformed JSON"))
    for where in (("grid", "learning_rate"), ("training",), ("name",), ("grid",)):
        cases.append(Case("10k deep at " + path_name(where), "POST", "/api/v1/sweeps",
                          sweep_with(where, raw="[" * D + "]" * D), J, status=400,
                          want="depth"))
    cases.append(Case("predict rows 10k deep", "POST", "/api/v1/trials/%d/predict" % Ctx.trial,
                      '{"rows":' + "[" * D + "]" * D + "}", J, status=400, want="depth"))
    limit = 1 << 20  # api_limits_t.max_body_bytes
    over = sweep_with(("name",), value="x")
    over += " " * (limit + 1 - len(over))
    cases += [
        Case("body max_body_bytes + 1", "POST", "/api/v1/sweeps", over, J, status=413,
             want="max_body_bytes"),
        Case("body 2 MiB of x", "POST", "/api/v1/sweeps", "x" * (2 << 20), J, status=413,
             want="max_body_bytes"),
        Case("body 8 MiB", "POST", "/api/v1/sweeps", "[" + "1," * (4 << 20) + "1]", J,
             status=413, want="max_body_bytes"),
        Case("chunked body max_body_bytes + 1", "POST", "/api/v1/sweeps", over, J, status=413,
             want="max_body_bytes", chunked=True),
        Case("chunked body 3 MiB", "POST", "/api/v1/sweeps", "x" * (3 << 20), J, status=413,
             want="max_body_bytes", chunked=True),
        Case("predict body max_body_bytes + 1", "POST", "/api/v1/trials/%d/predict" % Ctx.trial,
             '{"rows": [[1,2,3,4]]}' + " " * limit, J, status=413, want="max_body_bytes"),
        Case("learning_rate of 100k values", "POST", "/api/v1/sweeps",
             sweep_with(("grid", "learning_rate"), value=[0.1] * 100000), J, status=422,
             want="at most 64", field="grid.learning_rate"),
        Case("iterations of 65 values", "POST", "/api/v1/sweeps",
             sweep_with(("grid", "iterations"), value=list(range(1, 66))), J, status=422,
             want="at most 64", field="grid.iterations"),
        Case("10k unknown members", "POST", "/api/v1/sweeps",
             json.dumps(base_sweep() | {"u%d" % i: i for i in range(10000)}), J, status=422,
             want="unknown field"),
        Case("100 KB member name", "POST", "/api/v1/sweeps",
             json.dumps(base_sweep() | {"k" * 100000: 1}), J, status=422, want="unknown field"),
        Case("100 KB multibyte member name", "POST", "/api/v1/sweeps",
             json.dumps(base_sweep() | {"\u00e9" * 50000: 1}, ensure_ascii=False), J,
             status=422, want="unknown field"),
        Case("200 KB name", "POST", "/api/v1/sweeps", sweep_with(("name",), value="n" * 200000),
             J, status=422, want="128", field="name"),
        Case("name of 129 bytes", "POST", "/api/v1/sweeps", sweep_with(("name",), value="n" * 129),
             J, status=422, want="128", field="name"),
        Case("name of 65 two-byte chars", "POST", "/api/v1/sweeps",
             sweep_with(("name",), value="\u00e9" * 65), J, status=422, field="name"),
        Case("predict 10001 rows", "POST", "/api/v1/trials/%d/predict" % Ctx.trial,
             json.dumps({"rows": [[5.1, 3.5, 1.4, 0.2]] * 10001}), J, status=422,
             want="10000", field="rows"),
        Case("predict 10k bad values", "POST", "/api/v1/trials/%d/predict" % Ctx.trial,
             json.dumps({"rows": [["a", "b", "c", "d"]] * 2500}), J, status=422,
             field="rows[0][0]"),
    ]

    def at_limit_body():  # a body of exactly max_body_bytes is read and accepted
        body = sweep_with(("name",), value="at the body limit")
        body += " " * (limit - len(body))
        assert len(body) == limit
        _, err = on_purpose_sweep(Ctx.main, body)
        return err

    def at_limit_name():
        _, err = on_purpose_sweep(Ctx.main, sweep_with(("name",), value="\u00e9" * 64))
        return err

    def at_limit_predict():
        st, _, data = send(Ctx.main, "POST", "/api/v1/trials/%d/predict" % Ctx.trial,
                           json.dumps({"rows": [[5.1, 3.5, 1.4, 0.2]] * 10000}), J)
        if st != 200 or len(json.loads(data)["predictions"]) != 10000:
            return "HTTP %d: %s" % (st, short(data))
        return None

    run_cases("json_huge_nested", cases, [("accepted: body of exactly max_body_bytes",
                                           at_limit_body),
                                          ("accepted: name of 128 bytes", at_limit_name),
                                          ("accepted: predict 10000 rows", at_limit_predict)])


# ---- 3. wrong types for every field ----------------------------------------------------------

def test_sweep_types():
    S, N, B, A, O, F = '"1"', "1", "true", "[]", "{}", "1.5"
    cases = []
    spec = {  # path -> (wrong raw values, expected field or None for the path itself)
        ("dataset_id",): [S, F, B, A, O, '"abc"', "null"],
        ("test_dataset_id",): [S, F, B, A, O],
        ("name",): [N, B, A, O, F],
        ("grid",): [S, N, B, A, "null"],
        ("training",): [S, N, B, A, "null"],
    }
    axes = ["hidden_layers", "neurons", "learning_rate", "iterations", "batch_size",
            "activation", "momentum", "layers"]
    for ax in axes:
        spec[("grid", ax)] = [S, N, O, B, "null", '"[1]"']
    for ax in ("hidden_layers", "neurons", "iterations", "batch_size"):
        spec[("grid", ax, 0)] = [S, F, B, "null", A, O, "1.0", "1e2"]
    for ax in ("learning_rate", "momentum"):
        spec[("grid", ax, 0)] = ['"0.1"', B, "null", A, O]
    spec[("grid", "activation", 0)] = [N, '"RELU"', '""', "null", '"relu "', '"softmax"', A]
    spec[("training", "activation")] = [N, '"softmax"', "null", A, '"Relu"']
    spec[("training", "batch_size")] = [S, "64.0", B, A, "null"]
    spec[("training", "momentum")] = ['"0.9"', B, A, "null"]
    spec[("training", "validation_split")] = ['"0.2"', B, "null", O]
    spec[("training", "seed")] = ['"42"', F, B, "-1", "null"]
    # one trial across ranks: "auto" or a count; a single process runs one rank, so 2 is refused
    spec[("training", "ranks")] = [S, F, B, A, O, "null", "0", "-1", "2", '"AUTO"', '"all"']
    spec[("training", "sync_every")] = [S, F, B, A, O, "null", "0", "-3", "65537", '"Auto"']
    for path, raws in spec.items():
        base = base_sweep()
        if path[:2] in (("grid", "batch_size"), ("grid", "activation"), ("grid", "momentum")):
            base["grid"][path[1]] = [{"batch_size": 8, "activation": "relu",
                                      "momentum": 0.5}[path[1]]]
        if path[:2] == ("grid", "layers"):
            del base["grid"]["hidden_layers"], base["grid"]["neurons"]
            base["grid"]["layers"] = [[4]]
        for raw in raws:
            field = path_name(path)
            if path == ("grid", "layers", 0):
                field = "grid.layers[0]"
            cases.append(Case("%s = %s" % (field, raw), "POST", "/api/v1/sweeps",
                              sweep_with(path, raw=raw, base=base), J, status=422, field=field))
    for raw, field in [('[["4"]]', "grid.layers[0][0]"), ("[[4.5]]", "grid.layers[0][0]"),
                       ("[[null]]", "grid.layers[0][0]"), ("[[[4]]]", "grid.layers[0][0]"),
                       ("[4]", "grid.layers[0]"), ('["4"]', "grid.layers[0]"),
                       ("[{}]", "grid.layers[0]"), ("[[4], 4]", "grid.layers[1]")]:
        b = base_sweep()
        del b["grid"]["hidden_layers"], b["grid"]["neurons"]
        cases.append(Case("grid.layers = " + raw, "POST", "/api/v1/sweeps",
                          sweep_with(("grid", "layers"), raw=raw, base=b), J, status=422,
                          field=field))
    # required members missing
    for path, field in [(("dataset_id",), "dataset_id"), (("grid",), "grid"),
                        (("grid", "learning_rate"), "grid.learning_rate"),
                        (("grid", "iterations"), "grid.iterations"),
                        (("grid", "hidden_layers"), "grid.hidden_layers"),
                        (("grid", "neurons"), "grid.neurons")]:
        cases.append(Case("missing " + field, "POST", "/api/v1/sweeps", sweep_with(path), J,
                          status=422, field=field))
    cases.append(Case("empty object", "POST", "/api/v1/sweeps", "{}", J, status=422,
                      field="dataset_id"))
    # predict: wrong types
    for raw, field in [('"rows"', "rows"), ("{}", "rows"), ("null", "rows"), ("[]", "rows"),
                       ('["a"]', "rows[0]"), ("[{}]", "rows[0]"), ("[null]", "rows[0]"),
                       ('[["1","2","3","4"]]', "rows[0][0]"), ("[[1,2,3]]", "rows[0]"),
                       ("[[1,2,3,4,5]]", "rows[0]"), ("[[true,2,3,4]]", "rows[0][0]"),
                       ("[[null,2,3,4]]", "rows[0][0]"), ("[[[1],2,3,4]]", "rows[0][0]"),
                       ('[[1,2,3,4],[1,2,"x",4]]', "rows[1][2]")]:
        cases.append(Case("predict rows = " + raw, "POST",
                          "/api/v1/trials/%d/predict" % Ctx.trial, '{"rows": %s}' % raw, J,
                          status=422, field=field))
    cases.append(Case("predict without rows", "POST", "/api/v1/trials/%d/predict" % Ctx.trial,
                      "{}", J, status=422, field="rows"))
    run_cases("sweep_types", cases)


# ---- 4. unknown fields at every level ---------------------------------------------------------

def test_unknown_fields():
    cases = []
    for where, key, field in [
            ((), "datasetId", "datasetId"), ((), "Dataset_id", "Dataset_id"),
            ((), "", None), ((), "__proto__", "__proto__"), ((), "constructor", "constructor"),
            ((), "sampler", "sampler"), ((), "\u00e9t\u00e9", "\u00e9t\u00e9"),
            ((), "grid ", "grid "), ((), "id", "id"), ((), "status", "status"),
            (("grid",), "learning_rates", "grid.learning_rates"), (("grid",), "lr", "grid.lr"),
            (("grid",), "hidden_layer", "grid.hidden_layer"), (("grid",), "seed", "grid.seed"),
            (("grid",), "validation_split", "grid.validation_split"),
            (("grid",), "", None), (("grid",), "Layers", "grid.Layers"),
            (("training",), "epochs", "training.epochs"),
            (("training",), "solver", "training.solver"),
            (("training",), "learning_rate", "training.learning_rate"),
            (("training",), "iterations", "training.iterations"),
            (("training",), "grid", "training.grid")]:
        b = base_sweep()
        node = b
        for k in where:
            node = node[k]
        node[key] = 1
        cases.append(Case("unknown %r in %s" % (key, path_name(where) or "body"), "POST",
                          "/api/v1/sweeps", json.dumps(b), J, status=422, want="unknown field",
                          field=field))
    # search and space are members now (issue 14): with grid they are refused on grid
    b = base_sweep() | {"search": {"type": "random", "max_trials": 2}}
    cases.append(Case("grid with search", "POST", "/api/v1/sweeps", json.dumps(b), J,
                      status=422, want="either grid or search", field="grid"))
    b = base_sweep() | {"a": 1, "b": 2, "c": 3}
    b["grid"] |= {"d": 4}
    b["training"] |= {"e": 5}
    cases.append(Case("unknown at three levels", "POST", "/api/v1/sweeps", json.dumps(b), J,
                      status=422, field="training.e"))
    b = base_sweep()
    b["grid"]["extra"] = {"nested": {"deeper": [1, {"x": 1}]}}
    cases.append(Case("unknown nested object in grid", "POST", "/api/v1/sweeps", json.dumps(b),
                      J, status=422, field="grid.extra"))
    b = base_sweep()
    b["grid"]["learning_rate"] = [{"value": 0.1}]
    cases.append(Case("object inside an axis", "POST", "/api/v1/sweeps", json.dumps(b), J,
                      status=422, field="grid.learning_rate[0]"))
    b = base_sweep()
    b["training"] = {"training": {"seed": 1}}
    cases.append(Case("training inside training", "POST", "/api/v1/sweeps", json.dumps(b), J,
                      status=422, field="training.training"))
    b = base_sweep()
    b["grid"] = {"grid": b["grid"]}
    cases.append(Case("grid inside grid", "POST", "/api/v1/sweeps", json.dumps(b), J,
                      status=422, field="grid.grid"))
    for key in ("row", "Rows", "columns", "model"):
        cases.append(Case("predict unknown %r" % key, "POST",
                          "/api/v1/trials/%d/predict" % Ctx.trial,
                          json.dumps({"rows": [[5.1, 3.5, 1.4, 0.2]], key: 1}), J, status=422,
                          want="unknown field", field=key))
    run_cases("unknown_fields", cases)


# ---- 5. numbers: zero, negative, enormous, non-finite ----------------------------------------

def test_numbers():
    cases = []
    ints = {("dataset_id",): 1, ("grid", "hidden_layers", 0): 0, ("grid", "neurons", 0): 1,
            ("grid", "iterations", 0): 1, ("grid", "batch_size", 0): 1,
            ("training", "batch_size"): 1, ("training", "seed"): 0, ("test_dataset_id",): 1}
    reals = {("grid", "learning_rate", 0): "positive", ("grid", "momentum", 0): "unit",
             ("training", "momentum"): "unit", ("training", "validation_split"): "unit"}

    def body(path, raw):
        b = base_sweep()
        if path[:2] == ("grid", "batch_size"):
            b["grid"]["batch_size"] = [8]
        if path[:2] == ("grid", "momentum"):
            b["grid"]["momentum"] = [0.5]
        return sweep_with(path, raw=raw, base=b)

    for path, minimum in ints.items():
        f = path_name(path)
        for raw in ("1e309", "-1e309", "9223372036854775808", "-9223372036854775809",
                    "1e400", "123456789012345678901234567890"):
            cases.append(Case("%s = %s" % (f, raw), "POST", "/api/v1/sweeps", body(path, raw),
                              J, status=400, want="malformed JSON"))
        for raw in ["-1", "-9223372036854775808", "-0.0", "1e-320", "0.5", "1e3", '"NaN"',
                    '"Infinity"', '"1e309"'] + (["0"] if minimum > 0 else []):
            cases.append(Case("%s = %s" % (f, raw), "POST", "/api/v1/sweeps", body(path, raw),
                              J, status=422, field=f))
    for path in [("grid", "neurons", 0), ("grid", "iterations", 0), ("grid", "batch_size", 0),
                 ("training", "batch_size"), ("grid", "hidden_layers", 0)]:
        f = path_name(path)
        cases.append(Case("%s = 2^63-1" % f, "POST", "/api/v1/sweeps",
                          body(path, "9223372036854775807"), J, status=422, want="limit",
                          field=f))
    cases.append(Case("dataset_id = 2^63-1", "POST", "/api/v1/sweeps",
                      body(("dataset_id",), "9223372036854775807"), J, status=422,
                      want="does not exist", field="dataset_id"))
    cases.append(Case("test_dataset_id = 2^63-1", "POST", "/api/v1/sweeps",
                      body(("test_dataset_id",), "9223372036854775807"), J, status=422,
                      want="does not exist", field="test_dataset_id"))
    for path, kind in reals.items():
        f = path_name(path)
        for raw in ("1e309", "-1e309"):
            cases.append(Case("%s = %s" % (f, raw), "POST", "/api/v1/sweeps", body(path, raw),
                              J, status=400, want="malformed JSON"))
        wrong = ['"NaN"', '"Infinity"', '"-Infinity"', '"1e309"', "-1", "-1e-300", "1e300"]
        wrong += ["0", "-0", "-0.0", "0.0", "1e-320", "1e-46", "3.5e38"] if kind == "positive" \
            else ["1", "1.0", "1.0000001", "0.99999999999", "0.999999999999999999",
                  "9223372036854775807"]
        for raw in wrong:
            cases.append(Case("%s = %s" % (f, raw), "POST", "/api/v1/sweeps", body(path, raw),
                              J, status=422, field=f))
    pred = "/api/v1/trials/%d/predict" % Ctx.trial
    for raw, status in [("1e309", 400), ("-1e309", 400), ("3.5e38", 422), ("-3.5e38", 422),
                        ("1e39", 422), ('"NaN"', 422), ('"Infinity"', 422), ('"-0"', 422),
                        ("9223372036854775808", 400), ("1" + "0" * 400, 400)]:
        cases.append(Case("predict value " + raw, "POST", pred,
                          '{"rows": [[%s, 3.5, 1.4, 0.2]]}' % raw, J, status=status,
                          field="rows[0][0]" if status == 422 else None))

    def accepted(name, raw_path, raw):
        def fn():
            _, err = on_purpose_sweep(Ctx.main, body(raw_path, raw))
            return err
        return ("accepted: " + name, fn)

    def predict_ok(raw):
        def fn():
            st, _, data = send(Ctx.main, "POST", pred, '{"rows": [[%s, 3.5, 1.4, 0.2]]}' % raw,
                               J)
            return None if st == 200 else "HTTP %d: %s" % (st, short(data))
        return ("accepted: predict value " + raw, fn)

    extra = [accepted("seed = 2^63-1", ("training", "seed"), "9223372036854775807"),
             accepted("learning_rate = 3.4e38", ("grid", "learning_rate", 0), "3.4e38"),
             accepted("learning_rate = 1e-44", ("grid", "learning_rate", 0), "1e-44"),
             accepted("momentum = 0.9999999", ("grid", "momentum", 0), "0.9999999"),
             accepted("validation_split = 0 (-0)", ("training", "validation_split"), "-0"),
             predict_ok("-0"), predict_ok("1e-320"), predict_ok("3.4e38")]
    run_cases("numbers", cases, extra)


# ---- 6. grids that explode, explicit layers, every limit --------------------------------------

def test_limits_and_grids():
    cases = []

    def grid(**g):
        b = base_sweep()
        b["grid"] = g
        return json.dumps(b)

    lr64 = [round(0.01 * (i + 1), 4) for i in range(64)]
    it64 = list(range(1, 65))
    cases += [
        Case("9 x 64 x 64 trials", "POST", "/api/v1/sweeps",
             grid(hidden_layers=list(range(9)), neurons=list(range(1, 65)), learning_rate=lr64,
                  iterations=[1]), J, status=422, want="max_trials", field="grid"),
        Case("64^5 trials", "POST", "/api/v1/sweeps",
             grid(hidden_layers=[1] * 64, neurons=it64, learning_rate=lr64, iterations=it64,
                  batch_size=it64), J, status=422, want="max_trials", field="grid"),
        Case("64^8 trials (saturates)", "POST", "/api/v1/sweeps",
             grid(hidden_layers=[1] * 64, neurons=it64, learning_rate=lr64, iterations=it64,
                  batch_size=it64, momentum=[0.5] * 64, activation=["relu"] * 64), J,
             status=422, want="max_trials", field="grid"),
        Case("64 shapes x 64 x 64", "POST", "/api/v1/sweeps",
             grid(layers=[[i + 1] for i in range(64)], learning_rate=lr64, iterations=it64), J,
             status=422, want="max_trials", field="grid"),
        Case("1001 trials", "POST", "/api/v1/sweeps",
             grid(hidden_layers=[1], neurons=list(range(1, 8)) + [8, 9, 10, 11],
                  learning_rate=[0.01 * (i + 1) for i in range(7)],
                  iterations=list(range(1, 14))), J, status=422, want="max_trials",
             field="grid"),
        Case("axis of 65 values", "POST", "/api/v1/sweeps",
             grid(hidden_layers=[1], neurons=[4], learning_rate=lr64 + [0.9], iterations=[1]),
             J, status=422, want="at most 64", field="grid.learning_rate"),
        Case("layers of 65 shapes", "POST", "/api/v1/sweeps",
             grid(layers=[[4]] * 65, learning_rate=[0.1], iterations=[1]), J, status=422,
             want="at most 64", field="grid.layers"),
        Case("layers empty", "POST", "/api/v1/sweeps",
             grid(layers=[], learning_rate=[0.1], iterations=[1]), J, status=422,
             want="empty", field="grid.layers"),
        Case("every axis empty", "POST", "/api/v1/sweeps",
             grid(hidden_layers=[], neurons=[], learning_rate=[], iterations=[]), J, status=422,
             want="empty", field="grid.iterations"),
        Case("layers and hidden_layers", "POST", "/api/v1/sweeps",
             grid(layers=[[4]], hidden_layers=[1], neurons=[4], learning_rate=[0.1],
                  iterations=[1]), J, status=422, field="grid.layers"),
        Case("neurons missing with hidden_layers 2", "POST", "/api/v1/sweeps",
             grid(hidden_layers=[0, 2], learning_rate=[0.1], iterations=[1]), J, status=422,
             field="grid.neurons"),
    ]
    for shape, field, want in [
            ([4] * 9, "grid.layers[0]", "max_layers"), ([4] * 17, "grid.layers[0]", "max_layers"),
            ([4] * 10000, "grid.layers[0]", "max_layers"), ([0], "grid.layers[0][0]", ">= 1"),
            ([4, 0, 4], "grid.layers[0][1]", ">= 1"), ([-1], "grid.layers[0][0]", ">= 1"),
            ([4097], "grid.layers[0][0]", "max_neurons"),
            ([65537], "grid.layers[0][0]", "max_neurons"),
            ([2 ** 32], "grid.layers[0][0]", "max_neurons"),
            ([4, 4097, 0], "grid.layers[0][1]", "max_neurons")]:
        cases.append(Case("layers [%s]" % (",".join(map(str, shape[:5])) + (
            ",...x%d" % len(shape) if len(shape) > 5 else "")), "POST", "/api/v1/sweeps",
            grid(layers=[[4], shape], learning_rate=[0.1], iterations=[1]), J, status=422,
            want=want, field=field.replace("layers[0]", "layers[1]")))
    # each limit of api_limits_t just above (and, below, just at it)
    above = [("neurons 4097", "neurons", 4097, "max_neurons"),
             ("hidden_layers 9", "hidden_layers", 9, "max_layers"),
             ("hidden_layers 17", "hidden_layers", 17, "max_layers"),
             ("iterations 10001", "iterations", 10001, "max_iterations"),
             ("batch_size 8193", "batch_size", 8193, "max_batch_size")]
    for name, ax, v, lim in above:
        b = base_sweep()
        b["grid"][ax] = [v]
        cases.append(Case("grid " + name, "POST", "/api/v1/sweeps", json.dumps(b), J,
                          status=422, want=lim, field="grid.%s[0]" % ax))
    b = base_sweep()
    b["training"]["batch_size"] = 8193
    cases.append(Case("training batch_size 8193", "POST", "/api/v1/sweeps", json.dumps(b), J,
                      status=422, want="max_batch_size", field="training.batch_size"))
    other = on_purpose_upload(Ctx.main, {"name": "two features"},
                              {"file": ("two.csv", make_csv())})
    cases.append(Case("test dataset with other features", "POST", "/api/v1/sweeps",
                      sweep_with(("test_dataset_id",), value=other["id"]), J, status=422,
                      field="test_dataset_id"))
    # datasets that are not there
    for f in ("dataset_id", "test_dataset_id"):
        cases.append(Case(f + " unknown", "POST", "/api/v1/sweeps",
                          sweep_with((f,), value=987654), J, status=422, want="does not exist",
                          field=f))

    def at(name, body_fn):
        def fn():
            _, err = on_purpose_sweep(Ctx.main, body_fn())
            return err
        return ("accepted: " + name, fn)

    def with_grid(**g):
        return lambda: grid(**g)

    extra = [
        at("exactly 1000 trials", with_grid(hidden_layers=[1], neurons=list(range(1, 11)),
                                            learning_rate=[0.01 * (i + 1) for i in range(10)],
                                            iterations=list(range(1, 11)))),
        at("axis of 64 values", with_grid(hidden_layers=[1], neurons=[4], learning_rate=lr64,
                                          iterations=[1])),
        at("neurons 4096", with_grid(hidden_layers=[1], neurons=[4096], learning_rate=[0.1],
                                     iterations=[1])),
        at("8 hidden layers", with_grid(layers=[[4] * 8], learning_rate=[0.1], iterations=[1])),
        at("hidden_layers 8", with_grid(hidden_layers=[8], neurons=[4], learning_rate=[0.1],
                                        iterations=[1])),
        at("iterations 10000", with_grid(hidden_layers=[1], neurons=[4], learning_rate=[0.1],
                                         iterations=[10000])),
        at("batch_size 8192", with_grid(hidden_layers=[1], neurons=[4], learning_rate=[0.1],
                                        iterations=[1], batch_size=[8192])),
    ]
    run_cases("limits_and_grids", cases, extra)


# ---- 7. conflicts with the state -------------------------------------------------------------

def test_conflicts():
    """409s: a sweep that is running, a dataset that a running sweep uses, a finished sweep's
    cancel, a trial without a model."""
    b = base_sweep()
    b["grid"] = {"layers": [[64, 64]], "learning_rate": [0.1], "iterations": [10000],
                 "batch_size": [1]}
    busy, err = on_purpose_sweep(Ctx.main, b, cancel=False)
    assert err is None, err
    b["grid"]["iterations"] = [9999]
    queued, err = on_purpose_sweep(Ctx.main, b, cancel=False)
    assert err is None, err
    _, _, page = Ctx.main.json("GET", "/api/v1/sweeps/%d/trials" % queued["id"], expect=200)
    queued_trial = page["items"][0]["id"]
    cases = [
        Case("delete a running sweep", "DELETE", "/api/v1/sweeps/%d" % busy["id"], status=409,
             want="cancel it first"),
        Case("delete a queued sweep", "DELETE", "/api/v1/sweeps/%d" % queued["id"], status=409,
             want="cancel it first"),
        Case("delete a dataset in use", "DELETE", "/api/v1/datasets/%d" % Ctx.iris, status=409,
             want="used by"),
        Case("cancel a finished sweep", "POST", "/api/v1/sweeps/%d/cancel" % Ctx.sweep_done,
             status=409, want="already finished"),
        Case("model of a queued trial", "GET", "/api/v1/trials/%d/model" % queued_trial,
             status=409, want="no model"),
        Case("predict with a queued trial", "POST", "/api/v1/trials/%d/predict" % queued_trial,
             '{"rows": [[1,2,3,4]]}', J, status=409, want="no model"),
    ]
    try:
        run_cases("conflicts", cases)
    finally:
        for sw in (queued, busy):
            send(Ctx.main, "POST", "/api/v1/sweeps/%d/cancel" % sw["id"])


# ---- 8. multipart abuse ----------------------------------------------------------------------

def test_multipart():
    iris = read("iris.csv")
    images, labels = idx_images(30), idx_labels(30)
    bnd = MP_BOUNDARY.encode()
    cases = [
        Case("no boundary", "POST", "/api/v1/datasets", mp_body([fpart("file", iris)]),
             {"Content-Type": "multipart/form-data"}, status=400, want="boundary"),
        Case("empty boundary", "POST", "/api/v1/datasets", mp_body([fpart("file", iris)]),
             {"Content-Type": "multipart/form-data; boundary="}, status=(400, 422)),
        Case("wrong boundary", "POST", "/api/v1/datasets", mp_body([fpart("file", iris)]),
             {"Content-Type": "multipart/form-data; boundary=other"}, status=(400, 422)),
        Case("boundary of 200 chars, no file", "POST", "/api/v1/datasets",
             mp_body([vpart("name", "x")], boundary="b" * 200),
             {"Content-Type": "multipart/form-data; boundary=" + "b" * 200}, status=(400, 422)),
        Case("unterminated part", "POST", "/api/v1/datasets",
             mp_body([fpart("file", iris)], end=False), MP, status=(400, 422)),
        Case("unterminated part, no CRLF", "POST", "/api/v1/datasets",
             mp_body([fpart("file", iris)], end=False)[:-2], MP, status=(400, 422)),
        Case("body ends inside the part", "POST", "/api/v1/datasets",
             mp_body([fpart("file", iris)], end=False)[:1500], MP, status=(400, 422)),
        Case("body ends inside part headers", "POST", "/api/v1/datasets",
             b"--" + bnd + b'\r\nContent-Disposition: form-data; na', MP, status=(400, 422)),
        Case("only the closing boundary", "POST", "/api/v1/datasets",
             b"--" + bnd + b"--\r\n", MP, status=422, want="required", field="file"),
        Case("empty multipart body", "POST", "/api/v1/datasets", b"", MP, status=(400, 422)),
        Case("garbage multipart body", "POST", "/api/v1/datasets",
             bytes(random.Random(5).randrange(256) for _ in range(5000)), MP,
             status=(400, 422)),
        Case("part without Content-Disposition", "POST", "/api/v1/datasets",
             mp_body([(b"Content-Type: text/csv", iris)]), MP, status=(400, 422)),
        Case("part without a name", "POST", "/api/v1/datasets",
             mp_body([(b'Content-Disposition: form-data; filename="a.csv"', iris)]), MP,
             status=(400, 422)),
        Case("part with an empty name", "POST", "/api/v1/datasets",
             mp_body([(b'Content-Disposition: form-data; name=""; filename="a.csv"', iris)]), MP,
             status=(400, 422)),
        Case("part named ../../x", "POST", "/api/v1/datasets",
             mp_body([fpart("../../x", iris)]), MP, status=422, want="unknown field"),
        Case("part named /etc/passwd", "POST", "/api/v1/datasets",
             mp_body([fpart("/etc/passwd", iris)]), MP, status=422, want="unknown field"),
        Case("part name with invalid UTF-8", "POST", "/api/v1/datasets",
             mp_body([(b'Content-Disposition: form-data; name="\xff\xfe"', b"x")]), MP,
             status=422, want="unknown field"),
        Case("part name of 10 KB", "POST", "/api/v1/datasets",
             mp_body([vpart("n" * 10000, "x")]), MP, status=(400, 413, 422)),
        # header floods: the file is bad (NUL) too, so whatever the headers do it is a 4xx
        Case("filename of 100 KB", "POST", "/api/v1/datasets",
             mp_body([fpart("file", b"\x00" + iris, filename="f" * 100000)]), MP,
             status=(400, 413, 422)),
        Case("part header line of 100 KB", "POST", "/api/v1/datasets",
             mp_body([(b'Content-Disposition: form-data; name="file"\r\nX-Pad: ' + b"p" * 100000,
                       b"\x00" + iris)]), MP, status=(400, 413, 422)),
        Case("1000 part headers", "POST", "/api/v1/datasets",
             mp_body([(b'Content-Disposition: form-data; name="file"'
                       + b"".join(b"\r\nX-H%d: v" % i for i in range(1000)), b"\x00" + iris)]),
             MP, status=(400, 413, 422)),
        Case("missing file field", "POST", "/api/v1/datasets", mp_body([vpart("name", "x")]),
             MP, status=422, want="required", field="file"),
        Case("two files", "POST", "/api/v1/datasets",
             mp_body([fpart("file", iris), fpart("file", iris)]), MP, status=422,
             want="twice", field="file"),
        Case("file and images", "POST", "/api/v1/datasets",
             mp_body([fpart("file", iris), fpart("images", images)]), MP, status=422,
             want="either"),
        Case("images and file", "POST", "/api/v1/datasets",
             mp_body([fpart("images", images), fpart("file", iris)]), MP, status=422,
             want="either"),
        Case("images twice", "POST", "/api/v1/datasets",
             mp_body([fpart("images", images), fpart("images", images),
                      fpart("labels", labels)]), MP, status=422, want="twice"),
        Case("images without labels", "POST", "/api/v1/datasets",
             mp_body([fpart("images", images)]), MP, status=422, field="labels"),
        Case("labels without images", "POST", "/api/v1/datasets",
             mp_body([fpart("labels", labels)]), MP, status=422, field="images"),
        Case("name twice", "POST", "/api/v1/datasets",
             mp_body([vpart("name", "a"), vpart("name", "b"), fpart("file", iris)]), MP,
             status=422, want="twice", field="name"),
        Case("label_column twice", "POST", "/api/v1/datasets",
             mp_body([vpart("label_column", "species"), vpart("label_column", "species"),
                      fpart("file", iris)]), MP, status=422, want="twice"),
        Case("empty name", "POST", "/api/v1/datasets",
             mp_body([vpart("name", ""), fpart("file", iris)]), MP, status=422, field="name"),
        Case("name of 129 bytes", "POST", "/api/v1/datasets",
             mp_body([vpart("name", "n" * 129), fpart("file", iris)]), MP, status=422,
             field="name"),
        Case("name with a newline", "POST", "/api/v1/datasets",
             mp_body([vpart("name", "a\nb"), fpart("file", iris)]), MP, status=422,
             want="control", field="name"),
        Case("name with NUL", "POST", "/api/v1/datasets",
             mp_body([vpart("name", b"a\x00b"), fpart("file", iris)]), MP, status=422,
             want="NUL", field="name"),
        Case("label_column with NUL", "POST", "/api/v1/datasets",
             mp_body([vpart("label_column", b"species\x00junk"), fpart("file", iris)]), MP,
             status=422, want="NUL", field="label_column"),
        Case("name with ESC", "POST", "/api/v1/datasets",
             mp_body([vpart("name", "\x1b[31mred"), fpart("file", iris)]), MP, status=422,
             field="name"),
        Case("name with invalid UTF-8", "POST", "/api/v1/datasets",
             mp_body([vpart("name", b"caf\xe9"), fpart("file", iris)]), MP, status=422,
             want="UTF-8", field="name"),
        Case("empty label_column", "POST", "/api/v1/datasets",
             mp_body([vpart("label_column", ""), fpart("file", iris)]), MP, status=422,
             field="label_column"),
        Case("label_column of 300 bytes", "POST", "/api/v1/datasets",
             mp_body([vpart("label_column", "l" * 300), fpart("file", iris)]), MP, status=422,
             field="label_column"),
        Case("label_column not in the header", "POST", "/api/v1/datasets",
             mp_body([vpart("label_column", "nope"), fpart("file", iris)]), MP, status=422,
             want="nope"),
        Case("label_column after the file, unknown", "POST", "/api/v1/datasets",
             mp_body([fpart("file", iris), vpart("label_column", "nope")]), MP, status=422,
             want="nope"),
        Case("empty file part", "POST", "/api/v1/datasets", mp_body([fpart("file", b"")]), MP,
             status=422, field="file"),
        Case("unknown field foo", "POST", "/api/v1/datasets",
             mp_body([vpart("foo", "1"), fpart("file", iris)]), MP, status=422,
             want="unknown field", field="foo"),
        Case("multipart with ?name=", "POST", "/api/v1/datasets?name=x",
             mp_body([fpart("file", iris)]), MP, status=422, field="query.name"),
        Case("base64 transfer encoding", "POST", "/api/v1/datasets",
             mp_body([(b'Content-Disposition: form-data; name="file"; filename="a.csv"\r\n'
                       b"Content-Transfer-Encoding: base64",
                       base64.b64encode(b"\x00\x01" + iris))]), MP, status=422),
        Case("nested multipart/mixed", "POST", "/api/v1/datasets",
             mp_body([(b'Content-Disposition: form-data; name="file"\r\n'
                       b"Content-Type: multipart/mixed; boundary=inner",
                       b"--inner\r\nContent-Disposition: file; filename=\"a.csv\"\r\n\r\n"
                       + b"\x00" + iris + b"\r\n--inner--")]), MP, status=422),
        Case("multipart/mixed content type", "POST", "/api/v1/datasets",
             mp_body([fpart("file", iris)]),
             {"Content-Type": "multipart/mixed; boundary=" + MP_BOUNDARY}, status=415),
    ]

    def traversal_filename():
        """filename="../../x.csv" is only a default name: stored as x, nowhere else."""
        ds = on_purpose_upload(Ctx.main, {}, {"file": ("../../../hostile-x.csv", iris)})
        if ds["name"] != "hostile-x":
            return "name %r" % ds["name"]
        for d in (Ctx.main.data_dir, os.path.dirname(Ctx.main.data_dir), "/tmp", "/"):
            if os.path.exists(os.path.join(d, "hostile-x.csv")):
                return "a file %s/hostile-x.csv appeared" % d
        return None

    run_cases("multipart", cases, [("accepted: filename ../../../hostile-x.csv",
                                    traversal_filename)])


# ---- 9. CSV uploads ------------------------------------------------------------------------

def test_csv():
    good = make_csv()
    cases = [
        upload_csv_case("NUL in the header", b"x1,x\x002,label\n1,2,a\n3,4,b\n", "NUL"),
        upload_csv_case("NUL in a value", b"x1,x2,label\n1,2\x00,a\n3,4,b\n", "NUL"),
        upload_csv_case("NUL in a label", b"x1,x2,label\n1,2,a\x00\n3,4,b\n", "NUL"),
        upload_csv_case("NUL only", b"\x00" * 1000, "NUL"),
        upload_csv_case("UTF-16 file", "x1,label\n1,a\n2,b\n".encode("utf-16"), "NUL"),
        upload_csv_case("20 MB single line", b"x1,label\n" + b"1" * (20 << 20) + b",a\n2,b\n",
                        "limit"),
        upload_csv_case("20 MB header line", b"x" * (20 << 20) + b",label\n1,a\n2,b\n",
                        "limit"),
        upload_csv_case("20 MB quoted field", b'x1,label\n"' + b"1" * (20 << 20) + b'",a\n',
                        "limit"),
        upload_csv_case("invalid UTF-8 in the header", b"x\xff\xfe1,label\n1,a\n2,b\n"),
        upload_csv_case("Latin-1 header", b"temp\xe9rature,label\n1,a\n2,b\n"),
        upload_csv_case("invalid UTF-8 labels", b"x1,label\n1,\xff\n2,\xfe\n", "UTF-8"),
        upload_csv_case("Latin-1 labels", b"x1,label\n1,caf\xe9\n2,th\xe9\n3,caf\xe9\n",
                        "UTF-8"),
        upload_csv_case("only a header", b"x1,x2,label\n", field="file"),
        upload_csv_case("empty file", b"", field="file"),
        upload_csv_case("only blank lines", b"\n\n\r\n\n", field="file"),
        upload_csv_case("BOM only", b"\xef\xbb\xbf", field="file"),
        upload_csv_case("one class", b"x1,label\n1,a\n2,a\n3,a\n", "class"),
        upload_csv_case("ragged row", b"x1,x2,label\n1,2,a\n3,b\n", "row 3"),
        upload_csv_case("too many fields", b"x1,x2,label\n1,2,a\n3,4,5,b\n", "row 3"),
        upload_csv_case("NaN feature", b"x1,label\n1,a\nNaN,b\n", "row 3"),
        upload_csv_case("inf feature", b"x1,label\n1,a\ninf,b\n", "row 3"),
        upload_csv_case("1e39 feature", b"x1,label\n1,a\n1e39,b\n", "row 3"),
        upload_csv_case("1e309 feature", b"x1,label\n1,a\n1e309,b\n", "row 3"),
        upload_csv_case("empty feature", b"x1,x2,label\n1,2,a\n,4,b\n", "row 3"),
        upload_csv_case("hex feature", b"x1,label\n1,a\n0x10,b\n", "row 3"),
        upload_csv_case("formula =1+1", b"x1,label\n1,a\n=1+1,b\n", "row 3"),
        upload_csv_case("formula @SUM", b"x1,label\n1,a\n@SUM(A1:A2),b\n", "row 3"),
        upload_csv_case("formula =HYPERLINK", b'x1,label\n1,a\n"=HYPERLINK(""http://x"")",b\n',
                        "row 3"),
        upload_csv_case("formula =cmd", b"x1,label\n1,a\n=cmd|' /C calc'!A0,b\n", "row 3"),
        upload_csv_case("SQL in a feature", b"x1,label\n1,a\n'; DROP TABLE datasets;--,b\n",
                        "row 3"),
        upload_csv_case("script in a feature", b"x1,label\n1,a\n<script>alert(1)</script>,b\n",
                        "row 3"),
        upload_csv_case("format string in a feature", b"x1,label\n1,a\n%s%n%x%n,b\n", "%s%n"),
        upload_csv_case("unterminated quote", b'x1,label\n1,a\n"2,b\n3,c\n', "row"),
        upload_csv_case("quote inside a field", b'x1,label\n1,a\n2x"y,b\n', "row 3"),
        upload_csv_case("binary garbage", bytes(random.Random(7).randrange(1, 256)
                                                for _ in range(20000)), field="file"),
        upload_csv_case("10001 classes", b"x1,label\n" + b"".join(
            b"%d,c%d\n" % (i, i) for i in range(10001)), "limit"),
        upload_csv_case("100001 features", (",".join("f%d" % i for i in range(100001))
                                            + ",label\n").encode() + b"1," * 100001 + b"a\n",
                        "limit"),
        upload_csv_case("label_column unknown", good, "nope", query="?name=h&label_column=nope",
                        field="label_column"),
        # Refused at its first line, the rest of the body (past the 64 MiB read for other
        # refusals) is still read so that the client gets the answer, not a closed connection.
        upload_csv_case("label_column unknown, 72 MiB body", b"x1,label\n" + b"1,a\n" * (18 << 20),
                        "nope", query="?name=h&label_column=nope", field="label_column"),
        upload_csv_case("label_column index out of range", good, field="label_column",
                        query="?name=h&label_column=99"),
        upload_csv_case("label_column empty", good, query="?name=h&label_column=",
                        field="label_column"),
        upload_csv_case("label_column SQL", good, "DROP TABLE", field="label_column",
                        query="?name=h&label_column=%27%3B%20DROP%20TABLE%20datasets%3B--"),
        upload_csv_case("label_column format string", good, "%s%n%x", field="label_column",
                        query="?name=h&label_column=%25s%25n%25x"),
        upload_csv_case("name with control chars", good, query="?name=a%01b", field="name"),
        upload_csv_case("name of 129 bytes", good, query="?name=" + "n" * 129, field="name"),
        upload_csv_case("name with invalid UTF-8", good, query="?name=caf%e9", field="name"),
        upload_csv_case("name empty", good, query="?name=", field="name"),
        upload_csv_case("unknown query arg", good, query="?name=h&colour=csv",
                        field="query.colour"),
        upload_csv_case("format unknown", good, query="?name=h&format=xlsx", field="format"),
        upload_csv_case("timeseries option with csv", good, query="?name=h&timestamp_unit=ms",
                        field="timestamp_unit"),
        upload_csv_case("name given twice", good, query="?name=a&name=b", field="query.name"),
        # gzip that stops, or lies
        upload_csv_case("gzip cut after 10 bytes", gzip.compress(good)[:10], "gzip"),
        upload_csv_case("gzip cut in half", gzip.compress(good)[:len(gzip.compress(good)) // 2],
                        "gzip"),
        upload_csv_case("gzip without its trailer", gzip.compress(good)[:-8], "gzip"),
        upload_csv_case("gzip without its last byte", gzip.compress(good)[:-1], "gzip"),
        upload_csv_case("gzip magic only", b"\x1f\x8b", "gzip"),
        upload_csv_case("gzip with a bad CRC", gzip.compress(good)[:-8] + b"\0\0\0\0"
                        + gzip.compress(good)[-4:], "gzip"),
        upload_csv_case("gzip with a bad length", gzip.compress(good)[:-4] + b"\xff\xff\0\0",
                        "gzip"),
        upload_csv_case("gzip + trailing garbage", gzip.compress(good) + b"garbage", "gzip"),
        upload_csv_case("gzip with a corrupt body",
                        gzip.compress(good)[:12] + b"\xff" * 40 + gzip.compress(good)[52:],
                        "gzip"),
        upload_csv_case("gzip of nothing", gzip.compress(b""), field="file"),
        upload_csv_case("gzip bomb of NULs (raw body)", gzip_bomb(64 << 20), field="file",
                        status=(413, 422)),
        Case("gzip cut, multipart", "POST", "/api/v1/datasets",
             mp_body([fpart("file", gzip.compress(good)[:-20], "a.csv.gz")]), MP, status=422,
             want="gzip", field="file"),
        Case("gzip bomb past the 4 GiB cap (multipart)", "POST", "/api/v1/datasets",
             mp_body([fpart("file", gzip_bomb((4 << 30) + 1), "bomb.csv.gz")]), MP,
             status=(413, 422), want="limit", field="file"),
        # A parser that has failed stops the decompression: the answer is its error, not the
        # bomb behind it (a multipart CSV keeps its parse error aside for a late label_column,
        # which once let the bomb inflate to the cap and answer that instead).
        Case("CSV error, then a gzip bomb (multipart)", "POST", "/api/v1/datasets",
             mp_body([fpart("file", csv_error_then_bomb(), "bomb.csv.gz")]), MP, status=422,
             want=("row 2", "not a number"), field="file"),
        upload_csv_case("CSV error, then a gzip bomb (raw body)", csv_error_then_bomb(),
                        ("row 2", "not a number"), field="file"),
        # Well-formed rows that compress 1000:1: more than max_gunzip_ratio (64) past 16 MiB;
        # also when a label_column after the file makes the server parse its copy again.
        upload_csv_case("gzip of valid rows inflating 1000:1", zero_rows_gz(), "max_gunzip_ratio",
                        status=413, field="file"),
        upload_mp_case("gzip of rows inflating 1000:1, parsed again for a late label_column",
                       [fpart("file", gzip.compress(b"y,x1\n") + rows_member(b"a,0\n") * 16,
                              "rows.csv.gz"), vpart("label_column", "y")], "max_gunzip_ratio",
                       status=413, field="file"),
    ]

    def injections():
        """Injection strings as names and labels are data: stored and answered verbatim."""
        errs = []
        labels = INJECTIONS[:4]
        body = "x1,label\n" + "".join('%d,"%s"\n' % (i, labels[i % 4].replace('"', '""'))
                                      for i in range(16))
        for name in INJECTIONS:
            st, _, data = send(Ctx.main, "POST", "/api/v1/datasets?name="
                               + urllib.parse.quote(name, safe=""),
                               body.encode(), CSV)
            if st != 201:
                errs.append("name %r: HTTP %d %s" % (name, st, short(data)))
                continue
            ds = json.loads(data)
            Ctx.purpose.setdefault(Ctx.main, set()).add(ds["id"])
            if ds["name"] != name or sorted(ds["classes"]) != sorted(labels):
                errs.append("name %r came back as %r, classes %r" % (name, ds["name"],
                                                                     ds["classes"]))
            st, _, data = send(Ctx.main, "GET", "/api/v1/datasets/%d" % ds["id"])
            if st != 200 or json.loads(data)["name"] != name:
                errs.append("GET dataset %d: %d %s" % (ds["id"], st, short(data)))
        st, _, data = send(Ctx.main, "GET", "/api/v1/datasets?limit=1000")
        if st != 200 or len(json.loads(data)["items"]) < len(INJECTIONS):
            errs.append("the list after the injections: %d %s" % (st, short(data)))
        return "; ".join(errs) or None

    run_cases("csv", cases, [("accepted: injection strings as names and labels", injections)])


# ---- 10. IDX headers that lie ----------------------------------------------------------------

def test_idx():
    def pair(name, images, labels, want=(), field=None, status=422):
        return upload_mp_case(name, [fpart("images", images), fpart("labels", labels)], want,
                              status=status, field=field)

    im, lb = idx_images(30), idx_labels(30)
    def hdr(typ, dims):  # an IDX header alone
        return struct.pack(">HBB", 0, typ, len(dims)) + b"".join(struct.pack(">I", d)
                                                                  for d in dims)

    cases = [
        pair("images promise 2^31 items", hdr(8, (2 ** 31, 4, 4)) + im[16:], lb, "limit",
             "images"),
        pair("labels promise 2^31 items", im, hdr(8, (2 ** 31,)) + lb[8:], "limit", "labels"),
        pair("images promise 2^32-1 items", hdr(8, (2 ** 32 - 1, 1, 1)), lb, "limit"),
        pair("items x features over max_values", hdr(8, (3000000, 28, 28)), lb, "limit"),
        pair("features over the limit", hdr(8, (1, 400, 400)), lb, "limit"),
        pair("features 2^32 x 2^32", hdr(8, (1, 2 ** 32 - 1, 2 ** 32 - 1)), lb, "limit"),
        pair("10M items promised, none sent", hdr(8, (10000000, 1, 1)), lb, "images"),
        pair("count mismatch 30 vs 29", im, idx_labels(29)),
        pair("count mismatch 29 vs 30", idx_images(29), lb),
        pair("type byte 0x0D (float)", idx_images(30, typ=0x0D), lb, "0x0D", "images"),
        pair("type byte 0x09 (signed)", im, idx_labels(30, typ=0x09), "0x09", "labels"),
        pair("type byte 0x0B (short)", idx_images(30, typ=0x0B), lb, "0x0B"),
        pair("type byte 0x00", idx_images(30, typ=0x00), lb),
        pair("labels with 2 dims", im, idx_labels(30, dims=(30, 1)), "dimension", "labels"),
        pair("images with 1 dim", hdr(8, (30,)) + bytes(30), lb, "dimension", "images"),
        pair("images with 0 dims", hdr(8, ()) + bytes(30), lb, field="images"),
        pair("images with 255 dims", hdr(8, (1,) * 255), lb, field="images"),
        pair("a dimension of 0", hdr(8, (30, 0, 4)), lb, "0", "images"),
        pair("labels count 0", im, hdr(8, (0,)), field="labels"),
        pair("bad magic", b"\x01\x00" + im[2:], lb, "not an IDX", "images"),
        pair("magic of a CSV", b"x1,label\n1,a\n2,b\n", lb, "not an IDX", "images"),
        pair("double gzip", gzip.compress(gzip.compress(im)), lb, "gzip", "images"),
        pair("header cut", im[:10], lb, "header", "images"),
        pair("header of 3 bytes", im[:3], lb, field="images"),
        pair("data cut (15 of 30 items)", im[:16 + 15 * 16], lb, "item", "images"),
        pair("labels cut", im, lb[:20], field="labels"),
        pair("extra bytes after the data", im + b"\x00" * 100, lb, field="images"),
        pair("one class of labels", im, idx_labels(30, classes=1), "label"),
        pair("images as labels, swapped", lb, im),
        pair("empty images", b"", lb, field="images"),
        pair("gzip'd images cut", gzip.compress(im)[:-10], lb, "gzip", "images"),
        pair("gzip'd labels without trailer", im, gzip.compress(lb)[:-8], "gzip", "labels"),
        pair("gzip inflating past what the header promises",
             gzip.compress(hdr(8, (30, 4, 4)) + bytes(30 * 16 + (32 << 20))), lb,
             field="images"),
        pair("gzip bomb of zeros as images", gzip_bomb(64 << 20), lb, "type", "images"),
        # A header within the limits (10M items x 214 values: 8.6 GB of floats) whose data is a
        # gzip bomb: refused on the ratio long before memory could follow the header.
        pair("header of 2^31 values, then a gzip bomb", lying_idx_bomb(), lb, "max_gunzip_ratio",
             "images", status=413),
        # The same header with 2 MB of real data: truncated, expected and received counted.
        pair("header of 2^31 values, 2 MB of data", hdr(8, (10000000, 1, 214)) + bytes(2000000),
             lb, ("item 9346 of 10000000", "2000000 of 2140000000 data bytes"), "images"),
    ]
    run_cases("idx", cases)


# ---- 11. query strings ---------------------------------------------------------------------

def test_query():
    cases = []
    lists = ["/api/v1/datasets", "/api/v1/sweeps", "/api/v1/sweeps/%d/trials" % Ctx.sweep_done]
    for route in lists:
        for v in ["0", "-1", "1001", "abc", "1e3", "", "18446744073709551616", "%201", "+1",
                  "1.5", "0x10", "1%00", "%ff", "99999999999999999999999"]:
            cases.append(Case("%s?limit=%s" % (route, v), "GET", "%s?limit=%s" % (route, v),
                              status=422, field="query.limit"))
        for v in ["abc", "0", "-1", "%00", "x" * 4000, "eyJpZCI6MX0", "%27%20OR%201%3D1%20--",
                  "%25s%25n", "%ff%fe", "9223372036854775808"]:
            cases.append(Case("%s?cursor=%s" % (route, v[:20]), "GET",
                              "%s?cursor=%s" % (route, v), status=422, field="query.cursor"))
        cases.append(Case(route + "?limit (no value)", "GET", route + "?limit", status=422,
                          field="query.limit"))
        for q, f in [("limit=1&limit=2", "query.limit"), ("limit=1&limit=abc", "query.limit"),
                     ("limit=abc&limit=1", "query.limit"), ("cursor=a&cursor=b", "query.cursor"),
                     ("x=1", "query.x"), ("LIMIT=1", "query.LIMIT"), ("=1", None),
                     ("limit[]=1", "query.limit[]"), ("%00=1", None),
                     ("&".join("a%d=1" % i for i in range(100)), None)]:
            cases.append(Case("%s?%s" % (route, q[:30]), "GET", "%s?%s" % (route, q),
                              status=422, field=f))
    for v in ["", "RUNNING", "running,queued", "%00", "%27%20OR%201%3D1", "done", "cancelled"]:
        cases.append(Case("sweeps?status=" + v, "GET", "/api/v1/sweeps?status=" + v, status=422,
                          field="query.status"))
    cases.append(Case("sweeps?status twice", "GET",
                      "/api/v1/sweeps?status=running&status=bogus", status=422,
                      field="query.status"))
    trials = "/api/v1/sweeps/%d/trials" % Ctx.sweep_done
    for v in ["", "%2Bid", "--id", "name", "id%3BDROP", "best_val_accuracy%20desc", "ID",
              "-", "id,ordinal"]:
        cases.append(Case("trials?sort=" + v, "GET", trials + "?sort=" + v, status=422,
                          field="query.sort"))
    cases.append(Case("trials?sort twice", "GET", trials + "?sort=id&sort=-id", status=422,
                      field="query.sort"))
    hist = "/api/v1/trials/%d/history" % Ctx.trial
    for v in ["-1", "abc", "9223372036854775808", "1.5", "", "1e3", "%201", "0x1"]:
        cases.append(Case("history?since=" + v, "GET", hist + "?since=" + v, status=422,
                          field="query.since"))
    cases.append(Case("history?since twice", "GET", hist + "?since=1&since=x", status=422,
                      field="query.since"))
    for path in ["/healthz", "/metrics", "/openapi.json", "/api/v1/datasets/%d" % Ctx.iris,
                 "/api/v1/sweeps/%d" % Ctx.sweep_done, "/api/v1/trials/%d" % Ctx.trial,
                 "/api/v1/trials/%d/model" % Ctx.trial,
                 "/api/v1/sweeps/%d/history" % Ctx.sweep_done,
                 "/api/v1/sweeps/%d/events" % Ctx.sweep_done, hist]:
        cases.append(Case("unknown arg on " + path, "GET", path + "?x=1", status=422,
                          field="query.x"))
    cases += [
        Case("unknown arg on POST sweeps", "POST", "/api/v1/sweeps?dry_run=1",
             json.dumps(base_sweep()), J, status=422, field="query.dry_run"),
        Case("unknown arg on DELETE dataset", "DELETE",
             "/api/v1/datasets/%d?force=1" % Ctx.iris, status=422, field="query.force"),
        Case("unknown arg on DELETE sweep", "DELETE",
             "/api/v1/sweeps/%d?force=1" % Ctx.sweep_done, status=422, field="query.force"),
        Case("unknown arg on cancel", "POST", "/api/v1/sweeps/%d/cancel?now=1" % Ctx.sweep_done,
             status=422, field="query.now"),
        Case("unknown arg on predict", "POST", "/api/v1/trials/%d/predict?x=1" % Ctx.trial,
             '{"rows": [[1,2,3,4]]}', J, status=422, field="query.x"),
    ]

    def at_limit():
        for route in lists:
            st, _, data = send(Ctx.main, "GET", route + "?limit=1000")
            if st != 200:
                return "%s?limit=1000: HTTP %d %s" % (route, st, short(data))
        return None

    def still_there():  # the DELETEs above with bad args must not have deleted anything
        for path in ("/api/v1/datasets/%d" % Ctx.iris, "/api/v1/sweeps/%d" % Ctx.sweep_done):
            st, _, _ = send(Ctx.main, "GET", path)
            if st != 200:
                return "%s is gone (HTTP %d)" % (path, st)
        return None

    run_cases("query", cases, [("accepted: limit=1000", at_limit),
                               ("refused DELETEs deleted nothing", still_there)])


# ---- 12. static files and traversal ----------------------------------------------------------

def test_static_traversal():
    paths = [
        "/../../etc/passwd", "/../../../../../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/%2E%2E/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
        "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/css/../../etc/passwd",
        "/js/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/index.html%00", "/index.html%00.png",
        "/..%00/etc/passwd", "/%00../../etc/passwd", "/..\\..\\..\\etc\\passwd",
        "/%5c..%5c..%5c..%5cetc%5cpasswd", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/%c0%af%c0%af/etc/passwd", "/%e0%80%ae%e0%80%ae/etc/passwd",
        "/%25%32%65%25%32%65/%25%32%65%25%32%65/etc/passwd", "//etc/passwd", "///etc/passwd",
        "/./etc/passwd", "/.git/config", "/.env", "/.hidden", "/node_modules/../../../etc/passwd",
        "/etc/passwd", "/proc/self/environ", "/favicon.svg/..%2f..%2f..%2fetc%2fpasswd",
        "/%2fetc%2fpasswd", "/..;/..;/etc/passwd", "/index.html/../../../etc/passwd",
        "/" + "a/" * 1000 + "x", "/" + "x" * 10000, "/%ff%fe", "/js/", "/css//x.css",
        "/index.html/", "/api/../etc/passwd", "/api/v1/../../etc/passwd",
        "/api/v1/datasets/../../../../etc/passwd", "/healthz/../etc/passwd",
        b"/\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd", b"/\xff\xfe", b"/..\x00/etc/passwd",
        "/web/../../etc/passwd", "/%2e/%2e%2e/etc/passwd", "/....//....//etc/passwd",
        "/..%252f..%252fetc%252fpasswd", "/index.html?../../etc/passwd",
        "/?file=../../etc/passwd", "/..%5c..%5cetc%5cpasswd", "/tmp", "/root/.ssh/id_rsa",
    ]
    cases = []
    for p in paths:
        name = p if isinstance(p, str) else p.decode("latin-1")
        cases.append(Case("GET " + short(name, 60), "GET", p, static_ok=True))
    for p in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/.git/config"]:
        cases.append(Case("HEAD " + p, "HEAD", p, static_ok=True))

    def raw_target(target):
        def fn():
            s = socket.create_connection(("127.0.0.1", Ctx.main.port), timeout=10)
            try:
                s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    data += b
            except OSError:
                pass
            finally:
                s.close()
            if b"root:" in data:
                return "served a file outside web/: %r" % data[:200]
            return healthy_quickly(Ctx.main)
        return ("raw target " + target.decode("latin-1")[:40], fn)

    extra = [raw_target(t) for t in (b"../../etc/passwd", b"http://x/../../etc/passwd",
                                     b"*", b"etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd#frag")]
    run_cases("static_traversal", cases, extra)


# ---- 13. unknown ids -----------------------------------------------------------------------

def test_unknown_ids():
    ids = ["0", "-1", "9223372036854775808", "9223372036854775807", "1e3", "abc", "01", "+1",
           "%201", "0x10", "1.0", "99999999999999999999999", "1%3BDROP", "%00", "1" * 100,
           "%27%20OR%201%3D1", "%ff", "987654"]
    routes = [("GET", "/api/v1/datasets/%s", None), ("DELETE", "/api/v1/datasets/%s", None),
              ("GET", "/api/v1/sweeps/%s", None), ("DELETE", "/api/v1/sweeps/%s", None),
              ("POST", "/api/v1/sweeps/%s/cancel", None), ("GET", "/api/v1/sweeps/%s/trials", None),
              ("GET", "/api/v1/sweeps/%s/history", None), ("GET", "/api/v1/sweeps/%s/events", None),
              ("GET", "/api/v1/trials/%s", None), ("GET", "/api/v1/trials/%s/history", None),
              ("GET", "/api/v1/trials/%s/model", None),
              ("POST", "/api/v1/trials/%s/predict", '{"rows": [[1,2,3,4]]}')]
    cases = []
    for method, pattern, body in routes:
        for i in ids:
            cases.append(Case("%s %s" % (method, pattern % i[:24]), method, pattern % i, body,
                              J if body else None, status=404))
    for path in ["/api/v1/sweeps/", "/api/v1//sweeps", "/api/v1/sweeps/%d/" % Ctx.sweep_done,
                 "/api/v2/sweeps", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/trials",
                 "/api/v1/datasets/%d/extra" % Ctx.iris, "/api/v1/sweeps/%d/trials/1"
                 % Ctx.sweep_done, "/api/v1/trials/%d/model/x" % Ctx.trial,
                 "/api/v1/Sweeps",
                 "/api/v1/datasets/%d;x" % Ctx.iris, "/api/v1/sweeps/..", "/api/v1/sweeps/.",
                 "/api/v1/sweeps/%2e%2e/datasets"]:
        cases.append(Case("shape " + path, "GET", path, status=404))
    cases.append(Case("GET dataset id + %00x", "GET", "/api/v1/datasets/%d%%00x" % Ctx.iris,
                      status=404))
    cases.append(Case("GET trial id + %00/model", "GET",
                      "/api/v1/trials/%d%%00/model" % Ctx.trial, status=404))
    run_cases("unknown_ids", cases)


# ---- 14. wrong methods ---------------------------------------------------------------------

def test_methods():
    d, s, t = Ctx.iris, Ctx.sweep_done, Ctx.trial
    table = [("/api/v1/datasets", ["GET", "HEAD", "POST"]),
             ("/api/v1/datasets/%d" % d, ["GET", "HEAD", "DELETE"]),
             ("/api/v1/sweeps", ["GET", "HEAD", "POST"]),
             ("/api/v1/sweeps/%d" % s, ["GET", "HEAD", "DELETE"]),
             ("/api/v1/sweeps/%d/cancel" % s, ["POST"]),
             ("/api/v1/sweeps/%d/trials" % s, ["GET", "HEAD", "POST"]),
             ("/api/v1/sweeps/%d/extend" % s, ["POST"]),
             ("/api/v1/sweeps/%d/retry" % s, ["POST"]),
             ("/api/v1/sweeps/%d/history" % s, ["GET", "HEAD"]),
             ("/api/v1/sweeps/%d/events" % s, ["GET", "HEAD"]),
             ("/api/v1/trials/%d" % t, ["GET", "HEAD"]),
             ("/api/v1/trials/%d/history" % t, ["GET", "HEAD"]),
             ("/api/v1/trials/%d/model" % t, ["GET", "HEAD"]),
             ("/api/v1/trials/%d/predict" % t, ["POST"]),
             ("/healthz", ["GET", "HEAD"]), ("/metrics", ["GET", "HEAD"]),
             ("/openapi.json", ["GET", "HEAD"])]
    cases = []
    for path, allow in table:
        for m in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO"]:
            if m in allow:
                continue
            cases.append(Case("%s %s" % (m, path), m, path, status=405, allow=allow))
    for path in ["/", "/index.html", "/js/app.js", "/nothing"]:
        for m in ["POST", "PUT", "DELETE", "PATCH"]:
            cases.append(Case("%s %s" % (m, path), m, path, b"x", {"Content-Type": "text/plain"},
                              status=405, allow=["GET", "HEAD"]))
    run_cases("methods", cases)


# ---- 15. wrong content types -----------------------------------------------------------------

def test_content_types():
    body = json.dumps(base_sweep())
    cases = []
    for ct in [None, "text/plain", "application/x-www-form-urlencoded",
               "multipart/form-data; boundary=x", "application/jsonp", "application/json-seq",
               "json", "application/", "*/*", "text/json", "application/javascript",
               "application/jsonx; charset=utf-8", "text/csv", ""]:
        h = {} if ct is None else {"Content-Type": ct}
        cases.append(Case("sweeps as %r" % ct, "POST", "/api/v1/sweeps", body, h, status=415,
                          want="application/json"))
    for ct in [None, "application/json", "application/octet-stream", "text/plain",
               "text/csvx", "application/x-www-form-urlencoded", "application/gzip",
               "image/png", "multipart/mixed; boundary=x", "text/csv-schema", ""]:
        h = {} if ct is None else {"Content-Type": ct}
        cases.append(Case("datasets as %r" % ct, "POST", "/api/v1/datasets?name=x",
                          make_csv(), h, status=415, want="multipart/form-data"))
    for ct in [None, "text/plain", "multipart/form-data; boundary=x", "text/csv"]:
        h = {} if ct is None else {"Content-Type": ct}
        cases.append(Case("predict as %r" % ct, "POST", "/api/v1/trials/%d/predict" % Ctx.trial,
                          '{"rows": [[1,2,3,4]]}', h, status=415, want="application/json"))
    cases.append(Case("415 before 413", "POST", "/api/v1/sweeps", "x" * (2 << 20),
                      {"Content-Type": "text/plain"}, status=415))
    run_cases("content_types", cases)


# ---- 16. upload size limit (a server with --max-upload-mb 1) ----------------------------------

def test_upload_limit():
    mib = 1 << 20
    header = b"x1,label\n"
    row = b"1,a\n2,b\n"
    over = header + row * ((mib + 1 - len(header)) // len(row) + 1)
    exact = header + row * ((mib - len(header)) // len(row))
    exact += b"\n" * (mib - len(exact))
    assert len(exact) == mib and len(over) > mib
    cases = [
        upload_csv_case("raw body max_upload_bytes + 1", over, "max_upload_bytes", status=413,
                        server="small"),
        Case("chunked raw body max_upload_bytes + 1", "POST", "/api/v1/datasets?name=x", over,
             CSV, status=413, want="max_upload_bytes", chunked=True, server="small"),
        upload_mp_case("multipart file max_upload_bytes + 1", [fpart("file", over)],
                       "max_upload_bytes", status=413, server="small"),
        upload_mp_case("images + labels over the limit together",
                       [fpart("images", struct.pack(">HBBIII", 0, 8, 3, 600000, 1, 1)
                              + bytes(600000)),
                        fpart("labels", idx_labels(600000))], "max_upload_bytes",
                       status=413, server="small"),
        Case("gzip inflating past max_upload_bytes is fine but NULs are not", "POST",
             "/api/v1/datasets?name=x", gzip.compress(b"\0" * (3 * mib)), CSV, status=422,
             want="NUL", server="small"),
        # max_gunzip_bytes = 4 x max_upload_bytes: 5 MiB of valid rows from 5 KB of gzip.
        Case("gzip inflating past max_gunzip_bytes (4 x max_upload_bytes)", "POST",
             "/api/v1/datasets?name=x", gzip.compress(b"x1,label\n" + b"0,a\n1,b\n" * (5 * mib // 8)),
             CSV, status=413, want=("max_gunzip_bytes", "4194304"), field="file", server="small"),
        upload_mp_case("IDX gzip inflating past max_gunzip_bytes",
                       [fpart("images", gzip.compress(struct.pack(">HBBIII", 0, 8, 3, 300000, 4, 4)
                                                      + bytes(300000 * 16))),
                        fpart("labels", idx_labels(300000))], "max_gunzip_bytes",
                       status=413, field="images", server="small"),
    ]

    def at_limit():
        st, _, data = send(Ctx.small, "POST", "/api/v1/datasets?name=exact", exact, CSV)
        if st != 201:
            return "HTTP %d: %s" % (st, short(data, 300))
        Ctx.purpose.setdefault(Ctx.small, set()).add(json.loads(data)["id"])
        return None

    def declared_huge():  # 1 TB announced: refused before a byte of it is read
        s = socket.create_connection(("127.0.0.1", Ctx.small.port), timeout=10)
        try:
            s.sendall(b"POST /api/v1/datasets?name=x HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                      b"text/csv\r\nContent-Length: 1000000000000\r\n\r\nx1,label\n")
            resp = http.client.HTTPResponse(s, method="POST")
            resp.begin()
            data = resp.read()
        finally:
            s.close()
        if resp.status != 413 or b"max_upload_bytes" not in data:
            return "HTTP %d: %s" % (resp.status, short(data))
        return None

    def expect_continue():  # a client waiting on 100-continue gets the 413 instead
        s = socket.create_connection(("127.0.0.1", Ctx.small.port), timeout=10)
        try:
            s.sendall(b"POST /api/v1/datasets?name=x HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                      b"text/csv\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n")
            resp = http.client.HTTPResponse(s, method="POST")
            resp.begin()
            data = resp.read()
        finally:
            s.close()
        if resp.status != 413:
            return "HTTP %d: %s" % (resp.status, short(data))
        return None

    run_cases("upload_limit", cases, [("accepted: upload of exactly max_upload_bytes", at_limit),
                                      ("Content-Length of 1 TB", declared_huge),
                                      ("Expect: 100-continue over the limit", expect_continue)])


# ---- 17. slow and garbage clients over raw sockets --------------------------------------------

def raw_exchange(port, data, read_for=2.0, shutdown=False):
    """Sends data (bytes or a list of (bytes, pause)), reads what comes back for up to read_for
    seconds. Returns the bytes received (errors are fine: only the server's health matters)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_for)
    got = b""
    try:
        for piece, pause in (data if isinstance(data, list) else [(data, 0)]):
            s.sendall(piece)
            time.sleep(pause)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        end = time.time() + read_for
        while time.time() < end:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    finally:
        s.close()
    return got


def test_raw_clients():
    port = Ctx.main.port
    rng = random.Random(11)
    iris = read("iris.csv")
    big_upload_head = (b"POST /api/v1/datasets?name=cut HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Type: text/csv\r\nContent-Length: 50000000\r\n\r\n")
    mp_cut = mp_body([fpart("file", iris * 200)], end=False)
    clients = {
        "garbage bytes": bytes(rng.randrange(256) for _ in range(4096)),
        "NUL bytes": b"\x00" * 4096,
        "TLS ClientHello": bytes.fromhex("16030100a5010000a10303") + bytes(160),
        "HTTP/0.9 request line": b"GET /\r\n",
        "HTTP/0.9 API request": b"GET /api/v1/datasets\r\n\r\n",
        "HTTP/9.9": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        "HTTP/1.1 without Host": b"GET /healthz HTTP/1.1\r\n\r\n",
        "header of 100 KB": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000
        + b"\r\n\r\n",
        "1000 headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(1000)) + b"\r\n",
        "request line of 100 KB": b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "query of 100 KB": b"GET /api/v1/datasets?" + b"&".join(b"a%d=1" % i
                                                                 for i in range(15000))
        + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "header without colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n",
        "obs-fold header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n",
        "bare LF line ends": b"GET /healthz HTTP/1.1\nHost: x\n\n",
        "bare CR line ends": b"GET /healthz HTTP/1.1\rHost: x\r\r",
        "method of 10 KB": b"A" * 10000 + b" / HTTP/1.1\r\nHost: x\r\n\r\n",
        "control chars in the method": b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n",
        "Content-Length -1": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nContent-Length: -1\r\n\r\n{}",
        "Content-Length abc": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nContent-Length: abc\r\n\r\n{}",
        "two Content-Lengths": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
        "Content-Length 2^64": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nContent-Length: 18446744073709551616\r\n\r\n{}",
        "Content-Length and chunked": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked"
        b"\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "bad chunk size": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "chunk size 2^64-1": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{}\r\n",
        "unknown transfer encoding": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type:"
        b" application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}",
        "1000 pipelined requests": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 1000,
        "JSON body announced 1 TB": b"POST /api/v1/sweeps HTTP/1.1\r\nHost: x\r\nContent-Type: "
        b"application/json\r\nContent-Length: 1000000000000\r\n\r\n{",
        "upload cut after 1 MB": big_upload_head + b"x1,label\n" + b"1,a\n2,b\n" * 130000,
        "multipart upload cut": b"POST /api/v1/datasets HTTP/1.1\r\nHost: x\r\nContent-Type: "
        + MP["Content-Type"].encode() + b"\r\nContent-Length: %d\r\n\r\n" % (len(mp_cut) * 2)
        + mp_cut,
        "gzip upload cut": big_upload_head + gzip.compress(iris * 100)[:3000],
    }
    extra = []
    for name, data in clients.items():
        def fn(data=data, name=name):
            got = raw_exchange(port, data, read_for=0.3)
            if os.environ.get("HOSTILE_VERBOSE"):
                print("    %-28s -> %r" % (name, got.split(b"\r\n", 1)[0][:70]))
            if re.match(rb"HTTP/1\.[01] 5(?!05)", got):  # 505 is right for HTTP/9.9
                return "answered %r" % got[:200]
            return healthy_quickly(Ctx.main)
        extra.append((name, fn))

    def trickle():  # a request sent one byte at a time still works
        req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        got = raw_exchange(port, [(req[i:i + 1], 0.002) for i in range(len(req))], 3.0)
        return None if got.startswith(b"HTTP/1.1 200") else "answer %r" % got[:80]

    def slowloris():  # 100 connections holding half a request: others are still served
        socks = []
        try:
            for i in range(100):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % i)
                socks.append(s)
            for _ in range(5):
                err = healthy_quickly(Ctx.main, 1.0)
                if err:
                    return "with 100 stalled clients: " + err
            return None
        finally:
            for s in socks:
                s.close()

    def connection_limit():  # over max_connections (512): not served, and served again after
        socks = []
        try:
            for i in range(530):  # from 5 addresses, each under the per-address limit (128)
                try:
                    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5,
                                                          source_address=(
                                                              "127.0.0.%d" % (2 + i % 5), 0)))
                except OSError:
                    pass
            time.sleep(0.3)
            served = 0
            for s in socks[-10:]:  # beyond the limit: closed, or left waiting
                try:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                except OSError:
                    pass
            time.sleep(1.0)
            for s in socks[-10:]:
                s.setblocking(False)
                try:
                    served += s.recv(64).startswith(b"HTTP/1.1 200")
                except OSError:
                    pass
            if served:
                return "%d connections over max_connections (512) were served" % served
        finally:
            for s in socks:
                s.close()
        time.sleep(0.3)
        return healthy_quickly(Ctx.main)

    def reset_mid_request():  # RST in the middle of an upload
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(big_upload_head + iris * 50)
        time.sleep(0.1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return healthy_quickly(Ctx.main)

    def sse_garbage_last_event_id():
        got = raw_exchange(port, b"GET /api/v1/sweeps/%d/events HTTP/1.1\r\nHost: x\r\n"
                           b"Last-Event-ID: " % Ctx.sweep_done + b"\xff" * 3000 + b"\r\n\r\n",
                           read_for=0.3)
        if got.startswith(b"HTTP/1.1 5"):
            return "answer %r" % got[:120]
        return healthy_quickly(Ctx.main)

    def per_address_limit():  # one address holds at most max_connections / 4 = 128
        socks, refused = [], 0
        try:
            for _ in range(128):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=5,
                                                      source_address=("127.0.0.7", 0)))
            extra = socket.create_connection(("127.0.0.1", port), timeout=5,
                                             source_address=("127.0.0.7", 0))
            socks.append(extra)
            try:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                refused = not extra.recv(64).startswith(b"HTTP/1.1 200")
            except OSError:
                refused = 1
            if not refused:
                return "a 129th connection from one address was served"
            return healthy_quickly(Ctx.main)  # from 127.0.0.1, while 127.0.0.7 is at its limit
        finally:
            for s in socks:
                s.close()

    def cut_off(head, body, pause):
        """Sends head at once, then body a byte at a time with pause between bytes; returns None
        when the server closes the connection before the last byte (within the deadline and a
        margin), else what happened."""
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        t = time.time()
        try:
            s.sendall(head)
            for i in range(len(body)):
                s.sendall(body[i:i + 1])
                if time.time() - t > TIMEOUT + 10:
                    return "still connected after %.0f s" % (time.time() - t)
                time.sleep(pause)
            return "the whole request went through (%d bytes in %.1f s)" % (len(head + body),
                                                                             time.time() - t)
        except OSError:
            return None
        finally:
            s.close()

    def trickled_headers():  # a header byte every 0.25 s: cut off at the header deadline
        return (cut_off(b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
                        + b"\r\n\r\n", 0.25) or healthy_quickly(Ctx.main))

    def trickled_body():  # a body byte every 0.25 s: under the minimum rate after the grace
        body = make_csv(2000)
        return (cut_off(b"POST /api/v1/datasets?name=slow HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Type: text/csv\r\nContent-Length: %d\r\n\r\n" % len(body),
                        body, 0.25) or healthy_quickly(Ctx.main))

    def cut_off_logged():  # the log says which deadline cut the two clients above
        log = full_log(Ctx.main)
        missing = [w for w in ("no complete request line and headers within",
                               "under the minimum of 8192 bytes/s") if w not in log]
        return "not in the log: %s" % missing if missing else None

    extra += [("request sent byte by byte", trickle), ("100 stalled clients", slowloris),
              ("over max_connections", connection_limit),
              ("over the per-address limit", per_address_limit),
              ("headers trickled: cut off", trickled_headers),
              ("body trickled: cut off", trickled_body),
              ("the cut-offs are logged with their reason", cut_off_logged),
              ("RST mid-upload", reset_mid_request),
              ("garbage Last-Event-ID", sse_garbage_last_event_id)]
    run_cases("raw_clients", [], extra)


# ---- 18. authentication (a server with a token) ----------------------------------------------

def test_auth():
    """With a token, every /api request without the right one is 401 before anything else is
    looked at (no route, id, media type or size is revealed), and the token never appears."""
    token = "hostile-token-0123456789abcdef"
    path = os.path.join(Ctx.main.data_dir, "..", "hostile-token-%d" % os.getpid())
    with open(path, "w") as f:
        f.write(token + "\n")
    srv = Server(workers=1, extra=["--token-file", path] + SERVE)
    os.unlink(path)
    Ctx.auth = srv
    try:
        bad = {"no header": None, "empty": "", "Bearer only": "Bearer",
               "Bearer and space": "Bearer ", "wrong token": "Bearer wrong-token-0123456789ab",
               "token minus a char": "Bearer " + token[:-1], "token plus a char":
               "Bearer " + token + "x", "two spaces": "Bearer  " + token,
               "Basic": "Basic " + base64.b64encode(b"u:" + token.encode()).decode(),
               "token alone": token, "10 KB token": "Bearer " + "t" * 10000,
               "token twice": "Bearer %s %s" % (token, token)}
        targets = [("GET", "/api/v1/datasets", None, None), ("GET", "/api/v1/datasets/1", None,
                                                             None),
                   ("POST", "/api/v1/sweeps", "{", J), ("POST", "/api/v1/sweeps", "x",
                                                        {"Content-Type": "text/plain"}),
                   ("POST", "/api/v1/datasets", b"x1,label\n1,a\n2,b\n", CSV),
                   ("DELETE", "/api/v1/datasets/1", None, None), ("PUT", "/api/v1/sweeps", None,
                                                                  None),
                   ("GET", "/api/v1/nothing", None, None), ("GET", "/api/v1/trials/abc", None,
                                                            None)]
        extra = []
        for bname, auth in bad.items():
            for method, target, body, hdrs in targets:
                def fn(auth=auth, method=method, target=target, body=body, hdrs=hdrs):
                    h = dict(hdrs or {})
                    if auth is not None:
                        h["Authorization"] = auth
                    st, rh, data = send(srv, method, target, body, h)
                    if st != 401:
                        return "HTTP %d (want 401): %s" % (st, short(data))
                    if rh.get("www-authenticate", "").split(" ")[0] != "Bearer":
                        return "401 without WWW-Authenticate: Bearer: %s" % rh
                    if not rh.get("content-type", "").startswith("application/problem+json"):
                        return "401 as %r" % rh.get("content-type")
                    if token.encode() in data or b"wrong-token" in data:
                        return "the answer repeats a token: %s" % short(data)
                    return None
                extra.append(("%s: %s %s %s" % (bname, method, target[:30],
                                                (hdrs or {}).get("Content-Type", "")), fn))

        def good():
            st, _, data = send(srv, "GET", "/api/v1/datasets",
                               headers={"Authorization": "Bearer " + token})
            if st != 200:
                return "the right token: HTTP %d %s" % (st, short(data))
            st, _, _ = send(srv, "GET", "/healthz")
            return None if st == 200 else "/healthz without a token: HTTP %d" % st

        extra.append(("accepted: the right token, and /healthz without one", good))
        run_cases("auth", [], extra)
    finally:
        log = full_log(srv)
        srv.stop()
        if token in log:
            raise AssertionError("the token appears in the server log")


# ---- the end ---------------------------------------------------------------------------------

def full_log(srv):
    with open(srv.log_path, "rb") as f:
        return f.read().decode(errors="replace")


def test_aftermath():
    """Healthy, nothing left in uploads/, no dataset from a bad upload, no sanitizer report, and
    the client stalled since the start has been disconnected (its headers were due within the
    connection timeout, TIMEOUT s)."""
    problems = []
    for srv in (Ctx.main, Ctx.small):
        for _srv, sid in [x for x in Ctx.sweeps_made if x[0] is srv]:
            send(srv, "POST", "/api/v1/sweeps/%d/cancel" % sid)
        err = healthy_quickly(srv)
        if err:
            problems.append(err)
        up = os.path.join(srv.data_dir, "uploads")
        deadline = time.time() + 5  # aborted requests are cleaned up when they complete
        while os.listdir(up) and time.time() < deadline:
            time.sleep(0.1)
        if os.listdir(up):
            problems.append("leftover files in %s: %s" % (up, os.listdir(up)[:10]))
        st, _, data = send(srv, "GET", "/api/v1/datasets?limit=1000")
        listed = {d["id"] for d in json.loads(data)["items"]} if st == 200 else None
        want = Ctx.purpose.get(srv, set())
        if listed != want:
            problems.append("datasets listed %s, made on purpose %s" % (
                sorted(listed or []), sorted(want)))
        mlds = os.listdir(os.path.join(srv.data_dir, "datasets"))  # temporaries included
        if len(mlds) != len(want) or not all(f.endswith(".mlds") for f in mlds):
            problems.append("%d dataset files for %d datasets: %s" % (len(mlds), len(want),
                                                                       mlds[:10]))
        log = full_log(srv)
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if marker in log:
                problems.append("sanitizer report in the log: ..." + log[log.find(marker):][:600])
        fives = re.findall(r"^.* http (\S+ .*) (5\d\d) [\d.]+ms.*$", log, re.M)
        if fives:
            problems.append("the server answered 5xx: %s" % fives[:10])
    s, t_open = Ctx.stalled
    closed_after = None
    deadline = t_open + TIMEOUT + 15
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        if s.recv(1) == b"":
            closed_after = time.time() - t_open
    except socket.timeout:
        pass
    except OSError:
        closed_after = time.time() - t_open
    s.close()
    if closed_after is None:
        problems.append("a client that sent half a request line is still connected after %ds"
                        % (time.time() - t_open))
    else:
        print("  the stalled client was disconnected after %.0fs" % closed_after)
    err = healthy_quickly(Ctx.main)
    if err:
        problems.append(err)
    for srv in (Ctx.main, Ctx.small):
        code = srv.terminate()
        if code != 0:
            problems.append("the server exited with %s: %s" % (code, srv.logs()[-1500:]))
        log = full_log(srv)
        for marker in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if marker in log:
                problems.append("sanitizer report at exit: ..." + log[log.find(marker):][:800])
    assert not problems, "\n".join(problems)


def report():
    total = sum(s[1] for s in STATS)
    print("\ncases per category:")
    for cat, n, p, f, x in STATS:
        print("  %-22s %4d  (%d passed, %d failed, %d expected failures)" % (cat, n, p, f, x))
    print("  %-22s %4d  (%d passed, %d failed, %d expected failures)" % (
        "total", total, sum(s[2] for s in STATS), sum(s[3] for s in STATS),
        sum(s[4] for s in STATS)))
    if EXPECTED:
        print("expected_failure (known server bugs, not counted as passed):")
        for name, err, why in EXPECTED:
            print("  %s: %s\n      bug: %s" % (name, err, why))
    for name in XPASS:
        print("now passes (remove it from KNOWN_FAILURES): %s" % name)
    print("hostile suite: %.1fs" % (time.time() - T0))


def test_case_count():
    total = sum(s[1] for s in STATS)
    report()
    assert total >= 300, "only %d cases" % total


if __name__ == "__main__":
    try:
        run([test_setup, test_conflicts, test_json_malformed, test_json_huge_nested,
             test_sweep_types, test_unknown_fields, test_numbers, test_limits_and_grids,
             test_multipart, test_csv, test_idx, test_query, test_static_traversal,
             test_unknown_ids, test_methods, test_content_types, test_upload_limit,
             test_raw_clients, test_auth, test_aftermath, test_case_count])
    finally:
        for srv in (Ctx.main, Ctx.small):
            if srv is not None:
                srv.stop()
