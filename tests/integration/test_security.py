"""Browser-borne attacks against the real `mlptune serve` (issue 11, items 5 and 6).

Another site's page must not act through the user's browser: cross-origin cancels and uploads,
"simple requests" with text/plain, and DNS rebinding (a foreign name in Host) are refused with
403/415 and change nothing, while scripts (no Origin, no Sec-Fetch-Site) keep working. With a
token, the dashboard signs in: the token is exchanged for an HttpOnly, SameSite=Strict session
cookie that every /api route and event stream accepts, and signing out ends it server-side.

    python3 tests/integration/test_security.py <mlptune binary> <tests/data>
"""
import json
import os
import socket
import subprocess
import time

from harness import BIN, Server, problem, read, run

TOKEN = "integration-token-0123456789"
# about 20 s of training here (2 x 64 took 1.5 s, short of a loaded machine's margin): it outlasts
# every test's requests, and every sweep of it is canceled
LONG = {"hidden_layers": [2], "neurons": [256], "learning_rate": [0.01], "iterations": [10000],
        "batch_size": [1]}


class Ctx:
    open = None    # no token, default Host policy
    tok = None     # MLPTUNE_TOKEN set, --allowed-hosts tuner.example,other.example:9
    iris = None


def setup():
    Ctx.open = Server(workers=1)
    _, _, ds = Ctx.open.upload({"name": "iris"}, {"file": ("iris.csv", read("iris.csv"))})
    Ctx.iris = ds["id"]
    os.environ["MLPTUNE_TOKEN"] = TOKEN
    try:
        Ctx.tok = Server(workers=1, extra=["--allowed-hosts", "tuner.example,other.example:9"])
    finally:
        del os.environ["MLPTUNE_TOKEN"]


def own(srv):
    return "http://127.0.0.1:%d" % srv.port


def running_sweep(srv, headers=None, dataset=None):
    _, _, sw = srv.json("POST", "/api/v1/sweeps", {"dataset_id": dataset or Ctx.iris, "grid": LONG},
                        headers=headers, expect=201)
    deadline = time.time() + 30
    while srv.json("GET", "/api/v1/sweeps/%d" % sw["id"], headers=headers)[2]["status"] != "running":
        assert time.time() < deadline, "the sweep never started"
        time.sleep(0.05)
    return sw["id"]


def dataset_count(srv, headers=None):
    return len(srv.json("GET", "/api/v1/datasets", headers=headers, expect=200)[2]["items"])


def matrix_files(srv):
    return sorted(f for f in os.listdir(os.path.join(srv.data_dir, "datasets"))
                  if f.endswith(".mlds"))


# ---- item 5: other sites cannot act through a user's browser --------------------------------

def test_cross_origin_cancel_refused():
    srv = Ctx.open
    sid = running_sweep(srv)
    path = "/api/v1/sweeps/%d/cancel" % sid
    for hdrs in [{"Origin": "http://evil.example"},
                 {"Origin": "http://127.0.0.1:%d" % (srv.port + 1)},  # another port: same site
                 {"Origin": "null"},
                 {"Sec-Fetch-Site": "cross-site"},
                 {"Sec-Fetch-Site": "same-site"},
                 {"Origin": own(srv), "Sec-Fetch-Site": "cross-site"}]:
        body = problem(srv.request("POST", path, headers=hdrs), 403)
        assert "own pages" in body["detail"], body
    # a "simple request" a page can send without asking first: text/plain, a form
    for ct in ["text/plain", "application/x-www-form-urlencoded",
               "multipart/form-data; boundary=x"]:
        body = problem(srv.request("POST", path, body="x", headers={"Content-Type": ct}), 415)
        assert "application/json" in body["detail"], body
    time.sleep(0.3)
    _, _, sw = srv.json("GET", "/api/v1/sweeps/%d" % sid, expect=200)
    assert sw["status"] == "running", "the sweep was stopped: %s" % sw["status"]
    # the dashboard's own request, and a script's, still work
    srv.json("POST", path, headers={"Origin": own(srv), "Sec-Fetch-Site": "same-origin"},
             expect=200)
    assert srv.wait_sweep(sid)["status"] == "canceled"
    sid = running_sweep(srv)
    srv.json("POST", "/api/v1/sweeps/%d/cancel" % sid, expect=200)
    srv.json("POST", "/api/v1/sweeps/%d/cancel" % sid,
             body=b"", headers={"Content-Type": "application/json"}, expect=409)


def test_cross_origin_delete_refused():
    srv = Ctx.open
    _, _, ds = srv.upload({"name": "victim"}, {"file": ("iris.csv", read("iris.csv"))})
    problem(srv.request("DELETE", "/api/v1/datasets/%d" % ds["id"],
                        headers={"Origin": "http://evil.example"}), 403)
    problem(srv.request("DELETE", "/api/v1/datasets/%d" % ds["id"],
                        headers={"Content-Type": "text/plain"}), 415)
    srv.json("GET", "/api/v1/datasets/%d" % ds["id"], expect=200)
    srv.json("DELETE", "/api/v1/datasets/%d" % ds["id"], headers={"Origin": own(srv)}, expect=204)


def test_cross_origin_upload_refused():
    srv = Ctx.open
    before, files = dataset_count(srv), matrix_files(srv)
    boundary = "evil-boundary"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"iris.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n" % boundary).encode() + read("iris.csv") \
        + ("\r\n--%s--\r\n" % boundary).encode()
    mp = {"Content-Type": "multipart/form-data; boundary=" + boundary}
    for extra in [{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                  {"Origin": "http://localhost:%d" % srv.port}]:  # another origin, same machine
        problem(srv.request("POST", "/api/v1/datasets", body=body, headers=dict(mp, **extra)), 403)
        problem(srv.request("POST", "/api/v1/datasets?name=x", body=read("iris.csv"),
                            headers=dict({"Content-Type": "text/csv"}, **extra)), 403)
    assert dataset_count(srv) == before and matrix_files(srv) == files
    assert os.listdir(os.path.join(srv.data_dir, "uploads")) == []
    # from the service's own page it works
    st, _, data = srv.request("POST", "/api/v1/datasets", body=body,
                              headers=dict(mp, Origin=own(srv), **{"Sec-Fetch-Site": "same-origin"}))
    assert st == 201, (st, data)


def test_json_routes_take_only_json():
    srv = Ctx.open
    before = len(srv.json("GET", "/api/v1/sweeps", expect=200)[2]["items"])
    spec = json.dumps({"dataset_id": Ctx.iris, "grid": {"hidden_layers": [1], "neurons": [2],
                                                        "learning_rate": [0.1], "iterations": [1]}})
    for ct in ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded"]:
        problem(srv.request("POST", "/api/v1/sweeps", body=spec, headers={"Content-Type": ct}), 415)
    assert len(srv.json("GET", "/api/v1/sweeps", expect=200)[2]["items"]) == before
    st, _, _ = srv.request("POST", "/api/v1/sweeps", body=spec,
                           headers={"Content-Type": "application/json; charset=utf-8"})
    assert st == 201, st


def test_dns_rebinding_refused():
    srv = Ctx.open
    before = dataset_count(srv)
    for host in ["evil.example:%d" % srv.port, "evil.example", "127.0.0.1.nip.io:%d" % srv.port,
                 "localhost.evil.example:%d" % srv.port, "10.9.8.7:%d" % srv.port, "a b"]:
        for method, path in [("GET", "/api/v1/datasets"), ("GET", "/healthz"), ("GET", "/metrics"),
                             ("GET", "/"), ("GET", "/openapi.json"), ("GET", "/api/v1/session")]:
            body = problem(srv.request(method, path, headers={"Host": host}), 403)
            assert "Host" in body["detail"], body
        problem(srv.request("POST", "/api/v1/datasets?name=rebound", body=read("iris.csv"),
                            headers={"Host": host, "Content-Type": "text/csv"}), 403)
    assert dataset_count(srv) == before
    # the names it answers for
    for host in ["127.0.0.1:%d" % srv.port, "localhost:%d" % srv.port, "LOCALHOST",
                 "[::1]:%d" % srv.port, "localhost:9999"]:  # an SSH tunnel changes the port
        st, _, _ = srv.request("GET", "/api/v1/datasets", headers={"Host": host})
        assert st == 200, (host, st)
    # HTTP/1.0 without Host (no browser sends that) still works
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    assert got.startswith(b"HTTP/1.") and b" 200 " in got.split(b"\r\n", 1)[0], got[:100]


def test_allowed_hosts():
    srv = Ctx.tok
    auth = {"Authorization": "Bearer " + TOKEN}
    for host, want in [("tuner.example", 200), ("TUNER.example:%d" % srv.port, 200),
                       ("other.example:9", 200), ("other.example:%d" % srv.port, 403),
                       ("evil.example", 403), ("sub.tuner.example", 403)]:
        st, _, _ = srv.request("GET", "/api/v1/datasets", headers=dict(auth, Host=host))
        assert st == want, (host, st, want)
    # its own origin under that name may change things; the Origin must match the Host
    st, _, _ = srv.request("POST", "/api/v1/session", body=json.dumps({"token": TOKEN}),
                           headers={"Host": "tuner.example", "Origin": "http://tuner.example",
                                    "Content-Type": "application/json"})
    assert st == 204, st
    problem(srv.request("POST", "/api/v1/session", body=json.dumps({"token": TOKEN}),
                        headers={"Host": "tuner.example", "Origin": "http://other.example:9",
                                 "Content-Type": "application/json"}), 403)
    for bad in ["a b", "x:99999", "[nothex]", "a,b:c"]:
        p = subprocess.run([BIN, "serve", "--port", "0", "--data-dir", "/nonexistent/x",
                            "--allowed-hosts", bad], capture_output=True, timeout=30)
        assert p.returncode == 2 and b"--allowed-hosts" in p.stderr, (bad, p.returncode, p.stderr)


# ---- item 6: the dashboard signs in ------------------------------------------------------------

def cookie_of(hdrs):
    sc = hdrs.get("set-cookie", "")
    assert sc.startswith("mlptune_session="), hdrs
    return sc, sc.split(";", 1)[0]


def test_sign_in_and_out():
    srv = Ctx.tok
    problem(srv.request("GET", "/api/v1/datasets"), 401)
    _, _, s = srv.json("GET", "/api/v1/session", expect=200)
    assert s == {"token_required": True, "authenticated": False, "via": "none"}, s
    # wrong tokens: 401, no cookie
    for bad in ["wrong", TOKEN + "x", TOKEN[:-1], ""]:
        st, hdrs, _ = srv.request("POST", "/api/v1/session", body={"token": bad})
        assert st == 401 and "set-cookie" not in hdrs, (bad, st, hdrs)
    problem(srv.request("POST", "/api/v1/session", body={"token": TOKEN, "x": 1}), 422)
    problem(srv.request("POST", "/api/v1/session", body={}), 422)
    problem(srv.request("POST", "/api/v1/session", body="token=" + TOKEN,
                        headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    # a sign-in from another origin (login CSRF) is refused
    problem(srv.request("POST", "/api/v1/session", body={"token": TOKEN},
                        headers={"Origin": "http://evil.example"}), 403)
    st, hdrs, _ = srv.request("POST", "/api/v1/session", body={"token": TOKEN},
                              headers={"Origin": own(srv), "Sec-Fetch-Site": "same-origin"})
    assert st == 204, st
    sc, cookie = cookie_of(hdrs)
    attrs = [a.strip() for a in sc.split(";")[1:]]
    for want in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"]:
        assert want in attrs, (want, sc)
    assert "Secure" not in attrs, sc  # no TLS here
    assert len(cookie.split("=", 1)[1]) == 43, cookie  # 256 random bits, base64url
    c = {"Cookie": cookie}
    # the cookie opens every /api route
    assert dataset_count(srv, c) >= 0
    _, _, s = srv.json("GET", "/api/v1/session", headers=c, expect=200)
    assert s["authenticated"] and s["via"] == "session" and 0 < s["expires_in"] <= 43200, s
    _, _, ds = srv.json("POST", "/api/v1/datasets?name=iris", read("iris.csv"),
                        dict(c, **{"Content-Type": "text/csv"}), expect=201)
    sid = running_sweep(srv, dict(c, Origin=own(srv)), ds["id"])
    # ... and the event stream
    conn_s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    conn_s.sendall(("GET /api/v1/sweeps/%d/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    "Accept: text/event-stream\r\nCookie: %s\r\n\r\n"
                    % (sid, srv.port, cookie)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn_s.recv(4096)
    conn_s.close()
    assert b" 200 " in head.split(b"\r\n", 1)[0] and b"text/event-stream" in head, head
    # a cross-site request carrying the cookie is still refused (SameSite aside)
    problem(srv.request("POST", "/api/v1/sweeps/%d/cancel" % sid,
                        headers=dict(c, Origin="http://evil.example")), 403)
    srv.json("POST", "/api/v1/sweeps/%d/cancel" % sid, headers=c, expect=200)
    # a second session is independent; a forged or mangled cookie is nothing
    _, hdrs2, _ = srv.request("POST", "/api/v1/session", body={"token": TOKEN})
    _, cookie2 = cookie_of(hdrs2)
    assert cookie2 != cookie
    mangled = cookie[:-1] + ("A" if cookie[-1] != "A" else "B")
    for bad in [mangled, "mlptune_session=", "mlptune_session=" + "A" * 43, "other=" + cookie]:
        problem(srv.request("GET", "/api/v1/datasets", headers={"Cookie": bad}), 401)
    # the Bearer header keeps working for scripts
    srv.json("GET", "/api/v1/datasets/%d" % ds["id"],
             headers={"Authorization": "Bearer " + TOKEN}, expect=200)
    # sign out: the session ends server-side, the cookie is cleared
    st, hdrs, _ = srv.request("DELETE", "/api/v1/session", headers=dict(c, Origin=own(srv)))
    assert st == 204, st
    sc, cleared = cookie_of(hdrs)
    assert cleared == "mlptune_session=" and "Max-Age=0" in sc, sc
    problem(srv.request("GET", "/api/v1/datasets", headers=c), 401)
    _, _, s = srv.json("GET", "/api/v1/session", headers=c, expect=200)
    assert not s["authenticated"], s
    # the other session lives on, and a cookie header with both still gets in
    srv.json("GET", "/api/v1/datasets", headers={"Cookie": cookie2}, expect=200)
    srv.json("GET", "/api/v1/datasets", headers={"Cookie": cookie + "; " + cookie2}, expect=200)
    # a sign-out from another origin is refused and ends nothing
    problem(srv.request("DELETE", "/api/v1/session",
                        headers={"Cookie": cookie2, "Origin": "http://evil.example"}), 403)
    srv.json("GET", "/api/v1/datasets", headers={"Cookie": cookie2}, expect=200)
    # sessions live in memory: a restart signs everybody out
    srv.terminate()
    os.environ["MLPTUNE_TOKEN"] = TOKEN
    try:
        srv.restart()
    finally:
        del os.environ["MLPTUNE_TOKEN"]
    problem(srv.request("GET", "/api/v1/datasets", headers={"Cookie": cookie2}), 401)


def test_no_token_session():
    srv = Ctx.open
    _, _, s = srv.json("GET", "/api/v1/session", expect=200)
    assert s == {"token_required": False, "authenticated": True, "via": "open"}, s
    st, hdrs, _ = srv.request("POST", "/api/v1/session", body={"token": "anything"})
    assert st == 204 and "set-cookie" not in hdrs, (st, hdrs)


def teardown():
    for s in (Ctx.open, Ctx.tok):
        if s:
            s.stop()


if __name__ == "__main__":
    setup()
    try:
        tests = [test_cross_origin_cancel_refused, test_cross_origin_delete_refused,
                 test_cross_origin_upload_refused, test_json_routes_take_only_json,
                 test_dns_rebinding_refused, test_allowed_hosts, test_sign_in_and_out,
                 test_no_token_session]
        run(tests)
    finally:
        teardown()
