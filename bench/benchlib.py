"""Helpers shared by the service benchmarks (sweep_vs_peers, api_load, ingest).

Standard library only: setup (install, build, data), machine-load accounting, a `mlptune serve`
process on an ephemeral port with its own data dir, a small HTTP/JSON client, a Server-Sent
Events reader and the JSON output. Not a benchmark itself.
"""
import http.client
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
BUSY_CORES = 0.2  # other processes' average load above which a figure is flagged as disturbed
DATA_FILES = ("train10k.csv", "test.csv", "train.csv")


class BenchError(Exception):
    pass


def log(msg=""):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, what, **kw):
    """Runs cmd; raises BenchError naming `what` (with stderr's tail) on a non-zero exit."""
    log("$ " + " ".join(cmd))
    cp = subprocess.run(cmd, **kw)
    if cp.returncode != 0:
        tail = ""
        if isinstance(cp.stderr, str) and cp.stderr:
            tail = "\n" + "\n".join(cp.stderr.splitlines()[-30:])
        raise BenchError(f"{what} failed (exit {cp.returncode}): {' '.join(cmd)}{tail}")
    return cp


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100) of a list; None when empty."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def fmt(x, spec=".3f", none="n/a"):
    return none if x is None else format(x, spec)


# ------------------------------------------------------------------------------------ machine
def proc_cpu_seconds(pid):
    """User + system CPU seconds of a live process (all its threads), or 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_table():
    """{pid: (command name, CPU seconds)} of every process now."""
    hz = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        head, _, rest = raw.rpartition(")")
        fields = rest.split()
        out[int(d)] = (head.partition("(")[2], (int(fields[11]) + int(fields[12])) / hz)
    return out


def cpu_snapshot(pids=()):
    """(wall, busy CPU seconds of the machine less irq/softirq, steal seconds, CPU seconds of this
    process, its finished children and the live processes `pids`, irq + softirq seconds): two
    snapshots tell how much CPU other processes took meanwhile. Interrupt time is kept apart:
    the kernel charges it to no process, and loopback traffic (api_load, ingest) makes plenty."""
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    v += [0] * (8 - len(v))
    busy = (v[0] + v[1] + v[2]) / hz  # user nice system
    irq = (v[5] + v[6]) / hz  # irq softirq
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        own += ru.ru_utime + ru.ru_stime
    own += sum(proc_cpu_seconds(p) for p in pids)
    return time.perf_counter(), busy, v[7] / hz, own, irq, proc_table(), set(pids)


def foreign_load(a, b):
    """Average number of cores other processes kept busy between snapshots a and b, and steal."""
    wall = b[0] - a[0]
    if wall <= 0:
        return {"wall_seconds": wall, "other_cores": None, "steal_cores": None,
                "irq_cores": None}
    # the busiest other processes that lived through both snapshots (a diagnostic only)
    mine = {os.getpid()} | a[6] | b[6]
    top = sorted(((b[5][p][1] - a[5][p][1], b[5][p][0], p) for p in b[5]
                  if p in a[5] and p not in mine and b[5][p][0] == a[5][p][0]), reverse=True)
    return {"wall_seconds": wall, "other_cores": max(0.0, (b[1] - a[1]) - (b[3] - a[3])) / wall,
            "steal_cores": (b[2] - a[2]) / wall, "irq_cores": (b[4] - a[4]) / wall,
            "top_others": [f"{name}[{pid}] {cpu / wall:.2f}" for cpu, name, pid in top[:3]
                           if cpu / wall >= 0.01]}


def machine_line(loads):
    """One header line: the busiest phase's foreign load, flagged above BUSY_CORES."""
    loads = [ld for ld in loads if ld.get("other_cores") is not None]
    if not loads:
        return "machine: no load figures"
    busiest = max(loads, key=lambda ld: ld["other_cores"])
    who = ", ".join(busiest.get("top_others") or [])
    return (f"machine: other processes kept up to {busiest['other_cores']:.2f} of "
            f"{os.cpu_count()} cores busy ({busiest['phase']}{': ' + who if who else ''}), "
            f"steal up to "
            f"{max(ld['steal_cores'] or 0.0 for ld in loads):.2f}, interrupts up to "
            f"{max(ld.get('irq_cores') or 0.0 for ld in loads):.2f}"
            + ("  ** BUSY MACHINE: figures unreliable **"
               if busiest["other_cores"] > BUSY_CORES else ""))


# ------------------------------------------------------------------------------------ setup
def install_deps():
    run(["bash", os.path.join(REPO, "scripts", "install-deps.sh"), "--bench"],
        "scripts/install-deps.sh --bench", stdout=sys.stderr)


def apt_install(package):
    """Installs one Debian package when it is not installed yet (the benchmark's own extras)."""
    cp = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                        text=True)
    if "install ok installed" in cp.stdout:
        return
    sudo = [] if os.getuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(sudo + ["apt-get", "update", "-qq"], "apt-get update", stdout=sys.stderr, env=env)
    run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        f"apt-get install {package}", stdout=sys.stderr, env=env)


def build(mlptune):
    """The binary to measure: --mlptune PATH, else a Release build into <repo>/build-bench."""
    if mlptune:
        exe = os.path.abspath(mlptune)
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise BenchError(f"--mlptune {mlptune}: not an executable file")
    else:
        bdir = os.path.join(REPO, "build-bench")
        run(["bash", os.path.join(REPO, "scripts", "build.sh"), bdir, "-DBUILD_TESTING=OFF"],
            "building mlptune (Release)", stdout=sys.stderr)
        exe = os.path.join(bdir, "service", "mlptune")
    cp = subprocess.run([exe, "serve", "--help"], capture_output=True, text=True)
    if cp.returncode != 0 or "--port" not in cp.stdout + cp.stderr:
        raise BenchError(f"{exe} serve --help failed (exit {cp.returncode}): "
                         f"{(cp.stderr or cp.stdout).strip()[-500:]}")
    return exe


def make_data(work, peers):
    """The Fashion-MNIST CSVs (peers' fmnist_to_csv.py), cached in <work>/data."""
    out = os.path.join(work, "data")
    if all(os.path.isfile(os.path.join(out, f)) for f in DATA_FILES):
        log(f"data: using cached {out}")
        return out
    os.makedirs(out, exist_ok=True)
    run([PY, os.path.join(peers, "fmnist_to_csv.py"), out], "fmnist_to_csv.py",
        stdout=subprocess.DEVNULL)
    for f in DATA_FILES:
        if not os.path.isfile(os.path.join(out, f)):
            raise BenchError(f"fmnist_to_csv.py did not write {os.path.join(out, f)}")
    return out


def check_peers(peers):
    if not os.path.isfile(os.path.join(peers, "peers_bench.py")):
        raise BenchError(f"peers dir not found: {peers} has no peers_bench.py "
                         f"(expected <repo>/../shared/bench/peers, or pass --peers DIR)")
    if not os.access(PY, os.X_OK):
        raise BenchError(f"{PY} is missing: the peers need Debian's python3 "
                         f"(scripts/install-deps.sh --bench)")


def common_args(ap, default_out):
    ap.add_argument("--mlptune", help="use this mlptune binary instead of building one")
    ap.add_argument("--work", default="/tmp/mlptune-bench",
                    help="work dir: data cache, server data dirs and logs, default JSON output")
    ap.add_argument("--peers", default=os.path.join(REPO, "..", "shared", "bench", "peers"),
                    help="peers dir (default <repo>/../shared/bench/peers)")
    ap.add_argument("--out", help=f"JSON results (default <work>/{default_out})")
    ap.add_argument("--no-install", action="store_true",
                    help="skip scripts/install-deps.sh --bench (and apt-get of extras)")


def finish_args(args, default_out):
    args.work = os.path.abspath(args.work)
    args.peers = os.path.abspath(args.peers)
    args.out = os.path.abspath(args.out or os.path.join(args.work, default_out))
    os.makedirs(args.work, exist_ok=True)


def write_json(path, result):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, default=str)
        f.write("\n")
    os.replace(tmp, path)


def env_info():
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    git = {}
    for key, cmd in (("commit", ["git", "rev-parse", "HEAD"]),
                     ("changed", ["git", "status", "--porcelain", "--untracked-files=no"])):
        try:
            git[key] = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True).stdout.strip()
        except OSError:
            pass
    if "changed" in git:  # the source measured: the commit plus these uncommitted changes
        git["changed"] = git["changed"].splitlines()
    return {"git": git,
            "OPENBLAS": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "nproc": os.cpu_count(), "cpu_model": model}


# ------------------------------------------------------------------------------------ server
class Server:
    """`[launcher] mlptune serve --port 0 --data-dir DIR [extra]`; stderr goes to <data_dir>.log (a
    file: the server logs every request, and a pipe nobody reads would block it). `launcher` is a
    command the server runs under (`mpirun -np 2 ...` for `serve --mpi`); pid is then the
    launcher's."""

    def __init__(self, exe, data_dir, extra=(), launcher=()):
        self.exe, self.data_dir = exe, data_dir
        os.makedirs(data_dir, exist_ok=True)
        self.log_path = data_dir.rstrip("/") + ".log"
        self.errf = open(self.log_path, "a")
        cmd = [*launcher, exe, "serve", "--port", "0", "--data-dir", data_dir, *extra]
        log("$ " + " ".join(cmd) + f"  (log {self.log_path})")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errf, text=True)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline()  # "mlptune listening on http://127.0.0.1:PORT/"
        if "http://" not in line:
            self.proc.wait(timeout=10)
            raise BenchError(f"mlptune serve did not start (exit {self.proc.returncode}): "
                             f"{line.strip()!r}; log {self.log_path}:\n{self.log_tail()}")
        hostport = line.split("http://", 1)[1].split("/", 1)[0]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        # keep draining stdout so the server can never block on it
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def log_tail(self, n=20):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def status(self):
        """/proc/PID/status fields in kB (VmRSS, VmHWM, RssAnon, RssFile, RssShmem, Threads)."""
        out = {}
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                        out[k] = int(v.split()[0])
        except OSError:
            pass
        return out

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def stop(self):
        """SIGTERM, then SIGKILL after 20 s; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                log(f"mlptune serve (pid {self.pid}) did not stop in 20 s after SIGTERM: killed")
                self.proc.kill()
                self.proc.wait()
        self.errf.close()
        return self.proc.returncode

    def client(self, timeout=60):
        return Client(self.host, self.port, timeout)


class HTTPStatusError(BenchError):
    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]!r}")
        self.status, self.body = status, body


class Client:
    """One keep-alive connection; JSON in and out."""

    def __init__(self, host, port, timeout=60):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                                   blocksize=1 << 20)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, expect=(200,)):
        """Returns (status, headers dict, body bytes); raises HTTPStatusError when the status
        is not in `expect`."""
        for attempt in (1, 2):
            reused = self.conn is not None
            c = self._conn()
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                data = r.read()
                break
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A server may close a keep-alive connection that sat idle (mlptune does after
                # its header deadline): like any HTTP client, retry once on a fresh connection.
                idle_close = isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError,
                                            BrokenPipeError))
                if not (reused and idle_close and attempt == 1):
                    raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        if expect and r.status not in expect:
            raise HTTPStatusError(method, path, r.status, data.decode("utf-8", "replace"))
        return r.status, dict(r.getheaders()), data

    def json(self, method, path, obj=None, expect=(200,)):
        body, headers = None, {}
        if obj is not None:
            body = json.dumps(obj).encode()
            headers["Content-Type"] = "application/json"
        _, _, data = self.request(method, path, body, headers, expect)
        return json.loads(data) if data else None

    def all_trials(self, sweep_id):
        items, cursor = [], None
        while True:
            q = f"/api/v1/sweeps/{sweep_id}/trials?limit=1000"
            if cursor:
                q += "&cursor=" + cursor
            page = self.json("GET", q)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def upload_csv(server, path, name, multipart=False, label_column=None):
    """POSTs a CSV file to /api/v1/datasets on a fresh connection, streamed from disk, as a
    text/csv body or as multipart/form-data; returns (dataset JSON, seconds of the whole request
    from connect to the last byte of the answer, bytes sent)."""
    size = os.path.getsize(path)
    if multipart:
        boundary = "mlptune-bench-" + os.urandom(8).hex()
        head = b""
        if label_column is not None:
            head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"label_column\""
                     f"\r\n\r\n{label_column}\r\n").encode()
        head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}"
                 f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{os.path.basename(path)}\"\r\nContent-Type: text/csv\r\n\r\n"
                 ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        ctype = f"multipart/form-data; boundary={boundary}"
        url = "/api/v1/datasets"
    else:
        head, tail = b"", b""
        ctype = "text/csv"
        url = f"/api/v1/datasets?name={name}"
        if label_column is not None:
            url += f"&label_column={label_column}"
    total = len(head) + size + len(tail)
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    try:
        conn.putrequest("POST", url)
        conn.putheader("Content-Type", ctype)
        conn.putheader("Content-Length", str(total))
        conn.endheaders()
        if head:
            conn.send(head)
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                conn.sock.sendall(chunk)
        if tail:
            conn.send(tail)
        r = conn.getresponse()
        data = r.read()
        secs = time.perf_counter() - t0
    finally:
        conn.close()
    if r.status != 201:
        raise HTTPStatusError("POST", url, r.status, data.decode("utf-8", "replace"))
    return json.loads(data), secs, total


class SSEReader(threading.Thread):
    """Follows GET /api/v1/sweeps/{id}/events on its own connection and records every event as
    {event, id, data, t_wall (time.time() at arrival), t_perf}; `finished` is set at
    sweep_finished or when the stream ends."""

    def __init__(self, server, sweep_id):
        super().__init__(daemon=True)
        self.server, self.sweep_id = server, sweep_id
        self.events, self.error = [], None
        self.finished = threading.Event()
        self.connected = threading.Event()
        self.conn = None

    def run(self):
        try:
            self.conn = http.client.HTTPConnection(self.server.host, self.server.port,
                                                   timeout=3600)
            self.conn.request("GET", f"/api/v1/sweeps/{self.sweep_id}/events",
                              headers={"Accept": "text/event-stream"})
            r = self.conn.getresponse()
            if r.status != 200:
                self.error = f"events: HTTP {r.status}: {r.read()[:300]!r}"
                return
            self.connected.set()
            ev = {}
            while True:
                line = r.readline()
                if not line:
                    break
                tw, tp = time.time(), time.perf_counter()
                line = line.decode("utf-8", "replace").rstrip("\r\n")
                if line == "":
                    if "data" in ev or "event" in ev:
                        ev.setdefault("event", "message")
                        try:
                            ev["data"] = json.loads(ev.get("data", "null"))
                        except json.JSONDecodeError:
                            pass
                        self.events.append(ev)
                        if ev["event"] == "sweep_finished":
                            break
                    ev = {}
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    if "data" not in ev:  # arrival of the event = its first data line
                        ev["t_wall"], ev["t_perf"] = tw, tp
                    ev["data"] = ev["data"] + "\n" + value if "data" in ev else value
                elif field in ("event", "id"):
                    ev[field] = value
        except (OSError, http.client.HTTPException) as e:
            if not self.finished.is_set():
                self.error = f"events: {type(e).__name__}: {e}"
        finally:
            self.connected.set()
            self.finished.set()

    def close(self):
        self.finished.set()
        if self.conn is not None and self.conn.sock is not None:
            try:
                self.conn.sock.shutdown(2)
            except OSError:
                pass


def post_sweep(client, spec):
    """POST /api/v1/sweeps; returns (sweep JSON, perf_counter before sending)."""
    t0 = time.perf_counter()
    sw = client.json("POST", "/api/v1/sweeps", spec, expect=(201,))
    return sw, t0


def iso_to_epoch(s):
    """'2026-11-23T05:16:36.043Z' -> seconds since the epoch (UTC)."""
    if not s:
        return None
    import datetime
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
