#!/usr/bin/env python3
"""Deterministic generator of accelerometer recordings in the shape of WISDM v1.1 (issue 15).

Several subjects carry a phone in a pocket (tri-axial accelerometer, m/s^2 with gravity, 20 Hz by
default) through the six WISDM activities. Subjects differ in cadence, strength and the phone's
orientation; each activity has its own step frequency, amplitude and harmonics; the cadence
drifts from step to step; there is sensor noise, gravity, gaps between segments (and a few
inside them); and, in the WISDM format, the file's known quirks: records ending in ",;", lines
without their ';', several records on one line, an empty axis value.

The same arguments give the same bytes on every machine (one random.Random(seed), only its
random(), gauss() and uniform() used, values printed with fixed precision).

    tools/sensorgen.py --subjects 12 --seconds 60 --seed 1 -o rec.txt
    tools/sensorgen.py --format timeseries --unit ms -o rec.csv
"""
import argparse
import math
import random
import sys

# name: (step frequency Hz, vertical amplitude m/s^2, harmonic weights, forward tilt rad,
#        thigh pitch rad: the phone's angle to the vertical leg)
ACTIVITIES = [
    ("Walking", 1.9, 3.2, (1.0, 0.45, 0.20), 0.0, 0.0),
    ("Jogging", 2.7, 8.5, (1.0, 0.60, 0.30), 0.05, 0.0),
    ("Upstairs", 1.55, 2.6, (1.0, 0.70, 0.45), 0.08, 0.04),
    ("Downstairs", 2.1, 4.0, (1.0, 0.30, 0.55), -0.05, -0.03),
    ("Sitting", 0.0, 0.0, (), 0.0, 1.45),
    ("Standing", 0.0, 0.0, (), 0.0, 0.0),
]
G = 9.80665


def rotation(yaw, pitch, roll):
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    return [
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ]


def apply(m, v):
    return [m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2] for i in range(3)]


def subject_profile(rng, sid):
    return {
        "id": sid,
        "cadence": rng.uniform(0.9, 1.1),
        "strength": rng.uniform(0.85, 1.15),
        # the phone in a trouser pocket: upright-ish, turned a little
        "orient": rotation(rng.uniform(-0.35, 0.35), rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)),
        "noise": rng.uniform(0.15, 0.35),
        "phase": [rng.uniform(0, 2 * math.pi) for _ in range(3)],
    }


def segment(rng, subj, act, seconds, rate, t0_ns, out):
    """Appends (subject, activity, t_ns, x, y, z) samples of one activity segment to out;
    returns the time after it."""
    name, freq, amp, harm, tilt, pitch = act
    n = int(seconds * rate)
    period_ns = int(round(1e9 / rate))
    f = freq * subj["cadence"]
    a = amp * subj["strength"]
    drift = 0.0
    phi = rng.uniform(0, 1)
    # gravity in the body frame: y up the leg; the thigh's pitch tips it towards z
    leg = rotation(0.0, 0.0, pitch + tilt)
    t = t0_ns
    sway_f = rng.uniform(0.15, 0.4)
    for i in range(n):
        # a pause inside the segment now and then (a gap the windows must not span)
        if i > 0 and rng.random() < 0.0008:
            t += int(rng.uniform(1.5, 4.0) * 1e9)
        drift += rng.gauss(0.0, 0.004)
        drift = max(-0.12, min(0.12, drift))
        phi += f * (1.0 + drift) / rate
        body = [0.0, G, 0.0]
        if f > 0:
            vert = sum(w * math.sin(2 * math.pi * (h + 1) * phi + subj["phase"][h])
                       for h, w in enumerate(harm))
            fwd = sum(0.5 * w * math.cos(2 * math.pi * (h + 1) * phi + subj["phase"][h])
                      for h, w in enumerate(harm))
            lat = 0.35 * math.sin(math.pi * phi)
            body[0] += a * lat
            body[1] += a * vert
            body[2] += a * fwd
        else:
            s = 0.08 * math.sin(2 * math.pi * sway_f * i / rate)
            body[0] += s
            body[2] += 0.5 * s
        v = apply(subj["orient"], apply(leg, body))
        v = [v[k] + rng.gauss(0.0, subj["noise"]) for k in range(3)]
        v = [max(-19.6, min(19.6, x)) for x in v]
        out.append((subj["id"], name, t, v[0], v[1], v[2]))
        t += period_ns + int(rng.gauss(0.0, 0.02) * period_ns)
    return t


def generate(args):
    rng = random.Random(args.seed)
    samples = []
    for k in range(args.subjects):
        subj = subject_profile(rng, args.first_subject + k)
        t = int(rng.uniform(1e12, 5e13))
        acts = list(ACTIVITIES)
        rng.shuffle(acts)
        for act in acts:
            secs = args.seconds * rng.uniform(0.7, 1.3)
            t = segment(rng, subj, act, secs, args.rate, t, samples)
            t += int(rng.uniform(2.0, 10.0) * 1e9)  # the gap between segments
    return rng, samples


def fmt(v):
    s = "%.7g" % v
    return s


def write_wisdm(rng, samples, out, quirks):
    line_open = False
    for sid, name, t, x, y, z in samples:
        axes = [fmt(x), fmt(y), fmt(z)]
        if quirks and rng.random() < 0.002:
            axes[int(rng.random() * 3)] = ""  # an empty axis value
        rec = "%d,%s,%d,%s" % (sid, name, t, ",".join(axes))
        r = rng.random() if quirks else 1.0
        if r < 0.01:
            out.write(rec + ",;")  # the trailing comma
            out.write("\n")
            line_open = False
        elif r < 0.015:
            out.write(rec + "\n")  # no ';'
            line_open = False
        elif r < 0.02 and not line_open:
            out.write(rec + ";")  # the next record follows on this line
            line_open = True
        else:
            out.write(rec + ";\n")
            line_open = False
    if line_open:
        out.write("\n")


def write_timeseries(samples, out, unit):
    div = {"ns": 1, "us": 1000, "ms": 1000000, "s": 1000000000}[unit]
    out.write("subject,activity,timestamp,x,y,z\n")
    for sid, name, t, x, y, z in samples:
        ts = ("%d" % (t // div)) if unit != "s" else ("%.3f" % (t / 1e9))
        out.write("%d,%s,%s,%s,%s,%s\n" % (sid, name, ts, fmt(x), fmt(y), fmt(z)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=12)
    p.add_argument("--first-subject", type=int, default=1)
    p.add_argument("--seconds", type=float, default=60.0, help="per activity and subject")
    p.add_argument("--rate", type=float, default=20.0, help="Hz")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--format", choices=("wisdm", "timeseries"), default="wisdm")
    p.add_argument("--unit", choices=("ns", "us", "ms", "s"), default="ms",
                   help="timeseries timestamps")
    p.add_argument("--no-quirks", action="store_true", help="WISDM: a clean file")
    p.add_argument("-o", "--output", default="-")
    args = p.parse_args()
    rng, samples = generate(args)
    out = sys.stdout if args.output == "-" else open(args.output, "w", newline="\n")
    if args.format == "wisdm":
        write_wisdm(rng, samples, out, not args.no_quirks)
    else:
        write_timeseries(samples, out, args.unit)
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
