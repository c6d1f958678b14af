"""Checks `mlptune train --json` output: FILE ITERATIONS MIN_BEST_VAL_ACCURACY."""
import json
import math
import sys

path, iterations, min_acc = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
lines = open(path).read().splitlines()
assert len(lines) == iterations + 1, f"{len(lines)} lines for {iterations} iterations"
keys = ["iteration", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"]
for i, line in enumerate(lines[:-1], 1):
    o = json.loads(line)
    assert list(o) == keys, f"line {i}: keys {list(o)}"
    assert o["iteration"] == i, f"line {i}: iteration {o['iteration']}"
    for k in keys[1:]:
        assert isinstance(o[k], (int, float)) and math.isfinite(o[k]), f"line {i}: {k}={o[k]}"
    assert 0 <= o["train_accuracy"] <= 1 and 0 <= o["val_accuracy"] <= 1
done = json.loads(lines[-1])
assert list(done) == ["done", "best_val_accuracy", "seconds", "samples_per_second"], list(done)
assert done["done"] is True
best = max(json.loads(l)["val_accuracy"] for l in lines[:-1])
assert done["best_val_accuracy"] == best, (done, best)
assert best >= min_acc, f"best validation accuracy {best} < {min_acc}"
