"""Request framing, logs, event-stream slots and upload memory (issue 11, items 4, 7 and 8).

Usage: test_http_smuggling.py MLPTUNE_BINARY TEST_DATA_DIR        (python3 standard library only)

Raw sockets send what an ordinary client library refuses to: two Content-Length headers,
Content-Length with Transfer-Encoding, unknown transfer codings, a missing or doubled Host, a
malformed Content-Length, each followed by a smuggled request (DELETE of a dataset). Each must get
one 400 problem+json answer with "Connection: close", the connection must end there, and the
smuggled request must change nothing. Then: 2,000 query arguments get a prompt answer naming the
limit; a chunked upload over --max-upload-mb gets 413 naming it; log lines carry no raw control
characters; event streams have their own cap and a stream its client closed frees its slot at
once; concurrent gzip'd uploads stay within --max-upload-memory-mb (the server's VmHWM).
"""
import gzip
import json
import os
import random
import re
import socket
import threading
import time
import urllib.request

from harness import Server, read, run

CTX = {}


def srv():
    if "main" not in CTX:
        CTX["main"] = Server(workers=1)
        st, _, ds = CTX["main"].upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        assert st == 201, (st, ds)
        CTX["ds"] = ds["id"]
    return CTX["main"]


def exchange(port, data, read_for=5.0):
    """Sends data at once, then reads until the server closes (or read_for seconds). Returns
    (bytes received, closed by the server)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_for)
    got, closed = b"", False
    try:
        s.sendall(data)
        end = time.time() + read_for
        while time.time() < end:
            b = s.recv(65536)
            if not b:
                closed = True
                break
            got += b
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    finally:
        s.close()
    return got, closed


def responses(raw):
    """The status codes of every HTTP response in raw (a status line at a line start)."""
    return [int(m.group(1)) for m in re.finditer(rb"(?:^|\n)HTTP/1\.[01] (\d{3}) ", raw)]


def head_and_body(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode()
    return hdrs, body


def dataset_exists(s, ds):
    st, _, _ = s.request("GET", "/api/v1/datasets/%d" % ds)
    return st == 200


def sweep_count(s):
    _, _, body = s.json("GET", "/api/v1/sweeps", expect=200)
    return len(body["items"])


def assert_refused(s, raw_request, what, status=400):
    ds = CTX["ds"]
    sweeps = sweep_count(s)
    got, closed = exchange(s.port, raw_request)
    codes = responses(got)
    assert codes == [status], "%s: expected exactly one %d answer, got %r: %r" % (
        what, status, codes, got[:600])
    hdrs, body = head_and_body(got)
    assert hdrs.get("content-type", "").startswith("application/problem+json"), (what, hdrs)
    assert hdrs.get("connection", "").lower() == "close", (what, hdrs)
    assert closed, "%s: the server kept the connection open" % what
    if hdrs.get("transfer-encoding", "") != "chunked":
        pb = json.loads(body)
        assert pb["status"] == status and pb["detail"], pb
    time.sleep(0.3)  # a smuggled request, had it run, has landed by now
    assert dataset_exists(s, ds), "%s: the smuggled DELETE ran: dataset %d is gone" % (what, ds)
    assert sweep_count(s) == sweeps, "%s: a sweep was created" % what


SMUGGLED = b"DELETE /api/v1/datasets/%d HTTP/1.1\r\nHost: localhost\r\n\r\n"


def test_duplicate_content_length():
    s = srv()
    tail = SMUGGLED % CTX["ds"]
    # the reproduction: the first Content-Length wins, the rest runs as a second request
    req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\nContent-Length: %d\r\n\r\n{}" % (len(tail) + 2)) + tail
    assert_refused(s, req, "two different Content-Length")
    req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}") + tail
    assert_refused(s, req, "the same Content-Length twice")


def test_content_length_with_chunked():
    s = srv()
    tail = SMUGGLED % CTX["ds"]
    body = b"0\r\n\r\n" + tail
    for te in (b"chunked", b"Chunked"):
        req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nTransfer-Encoding: %s\r\n\r\n" % (len(body), te)) + body
        assert_refused(s, req, "Content-Length with Transfer-Encoding: " + te.decode())
    # Transfer-Encoding first, then Content-Length
    req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") + body
    assert_refused(s, req, "Transfer-Encoding then Content-Length")


def test_other_transfer_codings():
    s = srv()
    tail = SMUGGLED % CTX["ds"]
    for te in (b"gzip", b"identity", b"chunked, identity", b"gzip, chunked", b"xchunked",
               b"chunked\x0b", b"chunk"):
        req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: %s\r\n\r\n0\r\n\r\n" % te) + tail
        assert_refused(s, req, "Transfer-Encoding: %r" % te)
    req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") + tail
    assert_refused(s, req, "two Transfer-Encoding headers")


def test_host_header():
    s = srv()
    tail = SMUGGLED % CTX["ds"]
    assert_refused(s, b"GET /api/v1/datasets HTTP/1.1\r\n\r\n" + tail, "HTTP/1.1 without Host")
    assert_refused(s, b"GET /api/v1/datasets HTTP/1.1\r\nHost: localhost\r\nHost: y\r\n\r\n" + tail,
                   "two Host headers")
    # HTTP/1.0 needs no Host; a single Host is fine
    got, _ = exchange(s.port, b"GET /api/v1/datasets HTTP/1.0\r\n\r\n")
    assert responses(got) == [200], got[:300]
    got, _ = exchange(s.port, b"GET /api/v1/datasets HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                               b"\r\n\r\n")
    assert responses(got) == [200], got[:300]


def test_bad_content_length():
    """libmicrohttpd 0.9.75 answers a Content-Length it cannot parse itself and sent its status
    line and headers twice; the answer must be one problem+json, and the connection closed."""
    s = srv()
    tail = SMUGGLED % CTX["ds"]
    for cl in (b"abc", b"-1", b"+2", b"2 2", b"2, 2", b"0x2", b""):
        req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               b"Content-Length: %s\r\n\r\n{}" % cl) + tail
        assert_refused(s, req, "Content-Length: %r" % cl)
    req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: 99999999999999999999999\r\n\r\n{}") + tail
    assert_refused(s, req, "Content-Length past 2^64", status=413)
    # on the second request of a keep-alive connection, and with the headers sent apart from
    # the request line: still one answer, for that request
    req = (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
           b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2x\r\n\r\n{}") + tail
    got, closed = exchange(s.port, req)
    assert responses(got) == [200, 400] and closed, got[:600]
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"POST /api/v1/sweeps HTTP/1.1\r\n")
    time.sleep(0.3)
    sock.sendall(b"Host: localhost\r\nContent-Type: application/json\r\nContent-Length: x\r\n\r\n{}")
    got = b""
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    sock.close()
    assert responses(got) == [400], got[:600]
    assert dataset_exists(s, CTX["ds"])
    # with Transfer-Encoding present libmicrohttpd does not parse Content-Length: framing.c
    for cl in (b"abc", b"2, 2", b"-1"):
        req = (b"POST /api/v1/sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nContent-Length: %s\r\n\r\n0\r\n\r\n" % cl) + tail
        assert_refused(s, req, "Transfer-Encoding with Content-Length: %r" % cl)


def test_keep_alive_still_works():
    """Two honest requests on one connection both get answered (the checks refuse only bad
    framing)."""
    s = srv()
    req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\n" \
          b"Connection: close\r\n\r\n"
    got, closed = exchange(s.port, req)
    assert responses(got) == [200, 200], got[:400]
    assert closed


def test_many_query_arguments():
    s = srv()
    q = "&".join("a%d=%d" % (i, i) for i in range(2000))
    req = ("GET /api/v1/datasets?%s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % q).encode()
    t0 = time.time()
    got, _ = exchange(s.port, req, read_for=20.0)
    codes = responses(got)
    assert len(codes) == 1 and codes[0] in (400, 414, 422), (codes, got[:400], time.time() - t0)
    hdrs, body = head_and_body(got)
    assert hdrs.get("content-type", "").startswith("application/problem+json"), hdrs
    assert b"16" in body or b"limit" in body, body


def test_chunked_upload_over_limit():
    s = Server(workers=1, extra=["--max-upload-mb", "1"])
    try:
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=20)
        sock.sendall(b"POST /api/v1/datasets?name=big HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: text/csv\r\nTransfer-Encoding: chunked\r\n"
                     b"Connection: close\r\n\r\n")
        row = b"1,2,3,a\n" * 8192
        got = b""
        sent = 0
        try:
            sock.sendall(b"c\r\na,b,c,label\n\r\n")
            while sent < (80 << 20):  # past the limit and the 64 MiB read and dropped after it
                sock.sendall(b"%x\r\n" % len(row) + row + b"\r\n")
                sent += len(row)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may stop reading once it has answered
        try:
            while True:
                b = sock.recv(65536)
                if not b:
                    break
                got += b
        except OSError:
            pass
        sock.close()
        codes = responses(got)
        assert codes == [413], (codes, got[:400])
        _, body = head_and_body(got)
        assert b"max_upload_bytes" in body, body
        st, _, _ = s.request("GET", "/healthz")
        assert st == 200
        assert not os.listdir(os.path.join(s.data_dir, "uploads"))
    finally:
        s.stop()


def test_log_escapes_control_characters():
    s = srv()
    before = os.path.getsize(s.log_path)
    exchange(s.port, b"GET /api/v1/x%0a2026-01-01T00:00:00.000Z info  forged%1b[31mred%07%7f"
                     b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    exchange(s.port, b"DELETE /api/v1/datasets/9999?a=%0d%0aforged HTTP/1.1\r\nHost: localhost\r\n"
                     b"Connection: close\r\n\r\n")
    time.sleep(0.3)
    with open(s.log_path, "rb") as f:
        f.seek(before)
        log = f.read()
    assert b"forged" in log, log  # the requests were logged...
    for line in log.split(b"\n"):
        assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", line), line  # ...escaped
        assert not line.startswith(b"2026-01-01T00:00:00.000Z"), line
    assert b"\\x0a" in log and b"\\x1b" in log, log


# ---- event streams -----------------------------------------------------------------------------

def metric(s, name):
    _, _, body = s.request("GET", "/metrics")
    m = re.search(rb"^" + name.encode() + rb" (\d+)", body, re.M)
    return int(m.group(1)) if m else None


def open_stream(port, sweep_id):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /api/v1/sweeps/%d/events HTTP/1.1\r\nHost: localhost\r\n"
                 b"Accept: text/event-stream\r\n\r\n" % sweep_id)
    head = b""
    while b"\r\n\r\n" not in head:
        b = sock.recv(4096)
        if not b:
            break
        head += b
    return sock, head


def long_sweep(s):
    body = {"dataset_id": CTX["ds"], "grid": {"hidden_layers": [1], "neurons": [8],
                                              "learning_rate": [0.01], "iterations": [10000]}}
    st, _, sw = s.json("POST", "/api/v1/sweeps", body)
    assert st in (201, 202), (st, sw)
    return sw["id"]


def test_sse_cap_and_release():
    s = Server(workers=1)
    socks = []
    try:
        st, _, ds = s.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        CTX.setdefault("ds", ds["id"])
        long_sweep(s)  # takes the only worker...
        sid = long_sweep(s)  # ...so this one waits: its streams carry no events to fall behind on
        refused = None
        for i in range(128):
            sock, head = open_stream(s.port, sid)
            if not head.startswith(b"HTTP/1.1 200"):
                refused = head
                sock.close()
                break
            socks.append(sock)
        assert refused is not None, "no cap on event streams from one address"
        code = responses(refused)
        assert code and code[0] in (429, 503), refused[:400]
        hdrs, _ = head_and_body(refused)
        assert "retry-after" in hdrs and hdrs["content-type"].startswith(
            "application/problem+json"), hdrs
        n = len(socks)
        assert n < 128, "the event streams of one address may take all its connections"
        # the API still answers this address
        st, _, _ = s.request("GET", "/api/v1/sweeps")
        assert st == 200
        # a client closing its stream frees the slot at once (not at the next heartbeat)
        for sock in socks[:3]:
            sock.close()
        del socks[:3]
        deadline = time.time() + 5
        while metric(s, "mlptune_sse_subscribers") != n - 3 and time.time() < deadline:
            time.sleep(0.05)
        assert metric(s, "mlptune_sse_subscribers") == n - 3, metric(s, "mlptune_sse_subscribers")
        sock, head = open_stream(s.port, sid)
        assert head.startswith(b"HTTP/1.1 200"), head[:300]
        socks.append(sock)
    finally:
        for sock in socks:
            sock.close()
        s.stop()


# ---- upload memory budget ----------------------------------------------------------------------

def big_gzip_csv(target=20 << 20):
    """A gzip'd CSV of about target bytes that inflates about 40 times (within the ratio limit):
    one member with the header and a block of rows, then the rows member repeated."""
    rng = random.Random(5)
    cols = 64
    rows = []
    for _ in range(60000):
        rows.append(",".join("1" if rng.random() < 0.04 else "0" for _ in range(cols)) +
                    "," + "ab"[rng.random() < 0.5])
    block = ("\n".join(rows) + "\n").encode()
    header = (",".join("f%d" % i for i in range(cols)) + ",label\n").encode()
    first = gzip.compress(header + block, 6)
    rest = gzip.compress(block, 6)
    n = max(1, (target - len(first)) // len(rest))
    return first + rest * n, len(block) / len(rest)


def vm_hwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


def test_upload_memory_budget():
    budget = 128
    if os.environ.get("MLPT_SANITIZED"):
        # AddressSanitizer keeps freed memory in a quarantine (256 MiB by default), resident
        # and counted in VmHWM: keep it small so the bound measures the server's own memory.
        os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                      ":quarantine_size_mb=16").lstrip(":")
    s = Server(workers=1, extra=["--max-upload-memory-mb", str(budget)])
    try:
        data, ratio = big_gzip_csv()
        results = [None] * 3

        def up(i):
            req = urllib.request.Request(
                "http://127.0.0.1:%d/api/v1/datasets?name=big%d" % (s.port, i), data=data,
                headers={"Content-Type": "text/csv"}, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    results[i] = (r.status, dict(r.headers), r.read())
            except urllib.error.HTTPError as e:
                results[i] = (e.code, dict(e.headers), e.read())
            except OSError as e:
                results[i] = (None, {}, str(e).encode())

        threads = [threading.Thread(target=up, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        hwm = vm_hwm_mb(s.proc.pid)
        print("  3 x %.1f MB gzip (x%.0f): answers %s, VmHWM %.0f MB" % (
            len(data) / 1e6, ratio, [r[0] for r in results], hwm))
        for st, hdrs, body in results:
            assert st in (201, 413, 503), (st, body[:300])
            if st in (413, 503):
                assert b"max_upload_memory_mb" in body, body[:300]
            if st == 503:
                assert {k.lower(): v for k, v in hdrs.items()}.get("retry-after"), hdrs
        assert hwm <= budget + 200, "VmHWM %.0f MB over the budget %d MB + 200 MB" % (hwm, budget)
        # a small upload still goes through
        st, _, _ = s.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
        assert st == 201, st
    finally:
        s.stop()


def teardown():
    if "main" in CTX:
        CTX["main"].stop()


if __name__ == "__main__":
    try:
        run([test_duplicate_content_length, test_content_length_with_chunked,
             test_other_transfer_codings, test_host_header, test_bad_content_length,
             test_keep_alive_still_works, test_many_query_arguments,
             test_chunked_upload_over_limit, test_log_escapes_control_characters,
             test_sse_cap_and_release, test_upload_memory_budget])
    finally:
        teardown()
