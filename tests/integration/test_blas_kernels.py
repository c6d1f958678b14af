"""OpenBLAS's kernels (service/main.c, trainer_blas_better_core): Debian's OpenBLAS 0.3.21 falls
back to its generic SSE3 kernels ("Prescott") on CPUs newer than it knows; mlptune then names
the kernels the CPU can run and executes itself again, once.

- OPENBLAS_CORETYPE unset, on a CPU with AVX2 and FMA: the kernels in use (the serve log's
  "... kernels") are never a generic pre-AVX2 one; a re-executed process was given the kernels it
  logs, and keeps its name.
- OPENBLAS_CORETYPE set: it stands, whatever the CPU.
- `mlptune train` goes through the same start: its --json output is unchanged in form.
Usage: test_blas_kernels.py MLPTUNE_BINARY TEST_DATA_DIR"""
import os
import re
import subprocess
import time

from harness import BIN, DATA, Server, run

GENERIC = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
           "coppermine", "northwood", "banias", "opteron", "barcelona", "bobcat", "sandybridge"}


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def kernels_of(srv):
    deadline = time.time() + 10
    while time.time() < deadline:
        m = re.search(r"(\S+) kernels", srv.logs())
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise AssertionError("no kernels in the log:\n" + srv.logs())


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


def with_env(**env):
    """Runs a Server with these environment variables (None: unset)."""
    return Server(workers=1, env=env)


def test_generic_kernels_are_replaced():
    srv = with_env(OPENBLAS_CORETYPE=None)
    try:
        core = kernels_of(srv)
        flags = cpu_flags()
        if {"avx2", "fma"} <= flags:
            assert core.lower() not in GENERIC, core
        # /proc/PID/environ is the environment the process was executed with: after a
        # re-execution it names the kernels chosen (the process then removes the marker)
        env = environ_of(srv.proc.pid)
        if b"MLPT_BLAS_REEXEC" in env:
            assert env.get(b"OPENBLAS_CORETYPE", b"").decode() == core, (env, core)
        # the process kept its name
        with open("/proc/%d/comm" % srv.proc.pid) as f:
            assert f.read().strip() == "mlptune"
    finally:
        srv.stop()


def test_the_environment_chooses_first():
    srv = with_env(OPENBLAS_CORETYPE="Haswell")
    try:
        assert kernels_of(srv) == "Haswell"
    finally:
        srv.stop()


def test_train_starts_the_same():
    data = os.path.join(DATA, "iris.csv")
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    cp = subprocess.run([BIN, "train", "--data", data, "--hidden", "8", "--iterations", "2", "--json"],
                        capture_output=True, text=True, env=env, timeout=60)
    assert cp.returncode == 0, cp.stderr
    lines = [ln for ln in cp.stdout.splitlines() if ln.strip()]
    assert lines[-1].startswith('{"done": true') or '"done":true' in lines[-1], lines[-1]


if __name__ == "__main__":
    run([test_generic_kernels_are_replaced, test_the_environment_chooses_first,
         test_train_starts_the_same])
