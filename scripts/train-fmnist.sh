#!/usr/bin/env bash
# One training run from the command line, no service: 784-500-10 ReLU on the full Fashion-MNIST
# (IDX .gz from the Debian package), 5 iterations, then the accuracy on its 10,000 test images.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" "$root/build" -DBUILD_TESTING=OFF
fm=/usr/share/datasets/fashion-mnist
exec "$root/build/service/mlptune" train \
    --data "$fm/train-images-idx3-ubyte.gz" --labels "$fm/train-labels-idx1-ubyte.gz" \
    --test "$fm/t10k-images-idx3-ubyte.gz" --test-labels "$fm/t10k-labels-idx1-ubyte.gz" \
    --layers 1 --neurons 500 --activation relu --lr 0.1 --batch 64 --iterations 5 --seed 42 "$@"
