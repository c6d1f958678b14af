"""bench/ingest --sensor: the sensor pipeline (issue 15) on one core against numpy.

A WISDM-shaped recording the size of the real file (36 subjects, about 1.1 million records,
about 50 MB; generated once by tools/sensorgen.py into <work>/data, or --wisdm FILE) is parsed
and cut into spectrogram windows (10 s every 5 s, frames of 2 s every 1 s) --repeat times by
bench/sensor_derive.c (built with cc against the Release libraries; the file is read into memory
first, outside the timing), and the same work is done by the peer in a fresh /usr/bin/python3:
the quirks rewritten with str.replace, pandas.read_csv (numpy.loadtxt without pandas), the
segments found with numpy, the windows' frames through numpy.fft.rfft with a Hann window, log1p
of the magnitudes. MB/s = the file's bytes (10^6) / median seconds; ratio > 1: we are faster.
"""
import json
import os
import subprocess
import time

from benchlib import (PY, REPO, BenchError, cpu_snapshot, foreign_load, log, machine_line,
                      median, run, write_json)

MB = 1e6

PEER_CODE = r"""
import io, json, sys, time
import numpy as np
path = sys.argv[1]
try:
    import pandas as pd
except ImportError:
    pd = None
with open(path, "r") as f:
    text = f.read()
t0 = time.perf_counter()
# the quirks: a trailing ",;" and records ended by ';', several on a line, or by the line alone
text = text.replace(",;", ";").replace(";\n", "\n").replace(";", "\n")
if pd is not None:
    df = pd.read_csv(io.StringIO(text), header=None, names=["u", "a", "t", "x", "y", "z"],
                     dtype={"u": "float64", "a": str, "t": "float64", "x": "float32",
                            "y": "float32", "z": "float32"}, on_bad_lines="skip")
    df = df.dropna()
    u = df["u"].to_numpy(np.int64); t = df["t"].to_numpy(np.int64)
    lab, a = np.unique(df["a"].to_numpy(), return_inverse=True)
    x = df[["x", "y", "z"]].to_numpy(np.float32)
else:
    raise SystemExit("no pandas")
t1 = time.perf_counter()
dt = np.diff(t)
same = (u[1:] == u[:-1]) & (a[1:] == a[:-1])
period = np.median(dt[same & (dt > 0)])
rate = 1e9 / period
W, S, F, H = int(round(10 * rate)), int(round(5 * rate)), int(round(2 * rate)), int(round(rate))
cut = np.flatnonzero(~same | (dt < 0) | (dt > 1e9)) + 1
bounds = np.concatenate(([0], cut, [len(t)]))
starts = []
for s0, s1 in zip(bounds[:-1], bounds[1:]):
    if s1 - s0 >= W:
        starts.extend(range(s0, s1 - W + 1, S))
starts = np.asarray(starts, dtype=np.int64)
nf = 1 + (W - F) // H
hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(F) / F)
idx = starts[:, None, None] + (np.arange(nf) * H)[None, :, None] + np.arange(F)[None, None, :]
feats = []
for c in range(3):
    frames = x[:, c][idx] * hann.astype(np.float32)
    feats.append(np.log1p(np.abs(np.fft.rfft(frames, axis=-1))).astype(np.float32))
out = np.concatenate([f.reshape(len(starts), -1) for f in feats], axis=1)
t2 = time.perf_counter()
print(json.dumps({"parse_s": t1 - t0, "derive_s": t2 - t1, "seconds": t2 - t0,
                  "records": int(len(t)), "windows": int(out.shape[0]),
                  "features": int(out.shape[1]), "numpy": np.__version__,
                  "pandas": pd.__version__}))
"""


def build_ours(exe, work):
    """sensor_derive against the libraries of the build that made exe (<build>/service/...)."""
    bdir = os.path.dirname(os.path.dirname(exe))
    libs = [os.path.join(bdir, "ingest", "libmlpt_ingest.a"),
            os.path.join(bdir, "trainer", "libmlpt_trainer.a")]
    for lib in libs:
        if not os.path.isfile(lib):
            raise BenchError(f"{lib} is missing: build mlptune (Release) first")
    out = os.path.join(work, "sensor_derive")
    run(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L",
         "-I", os.path.join(REPO, "ingest"), "-I", os.path.join(REPO, "trainer"),
         "-I", os.path.join(REPO, "common"), os.path.join(REPO, "bench", "sensor_derive.c")]
        + libs + ["-lfftw3f", "-lz", "-lm", "-lpthread", "-o", out], "building sensor_derive",
        capture_output=True, text=True)
    return out


def recording(args):
    if args.wisdm:
        return os.path.abspath(args.wisdm)
    path = os.path.join(args.work, "data", "wisdm_generated.txt")
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        run([PY, os.path.join(REPO, "tools", "sensorgen.py"), "--subjects", "36", "--seconds",
             "250", "--seed", "1", "-o", path + ".tmp"], "tools/sensorgen.py")
        os.replace(path + ".tmp", path)
    return path


def sensor_main(args, exe):
    path = recording(args)
    size = os.path.getsize(path)
    with open(path, "rb") as f:  # into the page cache, for both sides
        while f.read(1 << 24):
            pass
    ours_exe = build_ours(exe, args.work)
    ours, peer, loads = [], [], []
    for rep in range(args.repeat):  # alternate which side goes first
        for side in (("ours", "peer") if rep % 2 == 0 else ("peer", "ours")):
            a = cpu_snapshot()
            if side == "ours":
                cp = run(["taskset", "-c", "0", ours_exe, path, "3"], "sensor_derive",
                         capture_output=True, text=True)
                r = json.loads(cp.stdout)
                ours.append(r)
            else:
                cp = subprocess.run(["taskset", "-c", "0", PY, "-c", PEER_CODE, path],
                                    capture_output=True, text=True,
                                    env=dict(os.environ, OPENBLAS_NUM_THREADS="1",
                                             OMP_NUM_THREADS="1"))
                if cp.returncode != 0:
                    raise BenchError(f"the numpy peer failed: {cp.stderr[-800:]}")
                peer.append(json.loads(cp.stdout))
            loads.append(dict(foreign_load(a, cpu_snapshot()), phase=side))
    our_s = median([r["median_total_s"] for r in ours])
    peer_s = median([r["seconds"] for r in peer])
    lines = [f"sensor: {os.path.basename(path)}, {size / MB:.1f} MB, {ours[0]['records']} records, "
             f"{ours[0]['windows']} spectrogram windows x {ours[0]['features']} features; one core "
             f"(taskset -c 0); {args.repeat} repeat(s), medians; ratio > 1: we are faster",
             machine_line(loads)]
    hdr = f"{'pipeline':34s} {'parse s':>8s} {'derive s':>8s} {'total s':>8s} {'MB/s':>7s} {'ours/peer':>9s}"
    lines += [hdr, "-" * len(hdr)]
    lines.append(f"{'mlptune (ingest/recording.h)':34s} "
                 f"{median([r['median_parse_s'] for r in ours]):8.3f} "
                 f"{median([r['median_derive_s'] for r in ours]):8.3f} {our_s:8.3f} "
                 f"{size / MB / our_s:7.1f} {'':9s}")
    lines.append(f"{'numpy ' + peer[0]['numpy'] + ' + pandas ' + peer[0]['pandas']:34s} "
                 f"{median([r['parse_s'] for r in peer]):8.3f} "
                 f"{median([r['derive_s'] for r in peer]):8.3f} {peer_s:8.3f} "
                 f"{size / MB / peer_s:7.1f} {peer_s / our_s:9.2f}")
    print("\n".join(lines))
    write_json(args.out, {"sensor": {"file": path, "bytes": size, "ours": ours, "peer": peer,
                                     "loads": loads, "mb_per_s": size / MB / our_s,
                                     "peer_mb_per_s": size / MB / peer_s,
                                     "ratio": peer_s / our_s}, "finished": time.time()})
    return 0
