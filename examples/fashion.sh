#!/usr/bin/env bash
# A Fashion-MNIST result in curl + jq: upload the 60,000 training images and the 10,000 test
# images (IDX .gz from the Debian package dataset-fashion-mnist) as two datasets, then a TPE
# search with ASHA pruning over optimizers, dropout and learning-rate schedules, the test images
# as the sweep's test dataset; prints the leaderboard and the best trial's test accuracy and the
# wall time. On 2 cores it is meant to find >= 0.90 test accuracy within 20 minutes.
#   MLPTUNE_URL   the service (default http://127.0.0.1:8080)
#   FMNIST_DIR    the IDX files (default /usr/share/datasets/fashion-mnist)
#   MAX_SECONDS   the search's time budget (default 1080: 18 minutes, uploads come on top)
#   MAX_TRIALS    at most this many trials (default 40)
#   ITERATIONS    epochs of a trial that is never pruned (default 30)
#   ROWS          upload only the first ROWS training images (default: all 60,000)
#   SPACE         the search space as a JSON object (default: the one below)
#   PREVIEW=1     upload, then only ask the server what the search would cost (a dry run)
set -euo pipefail
url="${MLPTUNE_URL:-http://127.0.0.1:8080}"
fm="${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}"
max_seconds="${MAX_SECONDS:-1080}"
max_trials="${MAX_TRIALS:-40}"
iterations="${ITERATIONS:-30}"
rows="${ROWS:-}"
# What is known to work for MLPs on Fashion-MNIST: one or two wide relu layers, an adaptive
# optimizer near lr 1e-3 (plain SGD wants lr near 0.1: it would need its own range), dropout on
# the hidden layers and a little on the input, the rate decayed over the run, batches of 128-256.
space="${SPACE:-$(
    cat <<JSON
{"hidden_layers": [1, 2], "neurons": [1024], "activation": ["relu"],
 "optimizer": ["adam", "rmsprop"], "learning_rate": {"low": 0.0003, "high": 0.002, "log": true},
 "batch_size": [128, 256], "dropout_input": [0.0, 0.1, 0.2],
 "dropout_hidden": [0.1, 0.2, 0.3, 0.4], "schedule": ["cosine", "step"],
 "iterations": [$iterations]}
JSON
)}"

. "$(dirname "$0")/lib.sh"

for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz \
    t10k-labels-idx1-ubyte.gz; do
    if [ ! -r "$fm/$f" ]; then
        echo "fashion.sh: $fm/$f is missing: install dataset-fashion-mnist" \
            "(scripts/install-deps.sh does) or set FMNIST_DIR" >&2
        exit 1
    fi
done
start="$(date +%s.%N)"
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }

images="$fm/train-images-idx3-ubyte.gz"
labels="$fm/train-labels-idx1-ubyte.gz"
if [ -n "$rows" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    idx_first_rows "$images" "$labels" "$rows" "$tmp"
    images="$tmp/images.gz"
    labels="$tmp/labels.gz"
fi

echo "== upload the training images (${rows:-60000}) and the 10,000 test images"
train="$(api -F name=fashion-mnist-train -F "images=@$images" -F "labels=@$labels" \
    "$url/api/v1/datasets")"
echo "$train" | jq -c '{id, name, rows, features, classes}'
test="$(api -F name=fashion-mnist-test -F "images=@$fm/t10k-images-idx3-ubyte.gz" \
    -F "labels=@$fm/t10k-labels-idx1-ubyte.gz" "$url/api/v1/datasets")"
echo "$test" | jq -c '{id, name, rows, features, classes}'

echo "== submit the search (TPE, ASHA from iteration 3 by thirds; at most $max_trials trials," \
    "$max_seconds s)"
body="$(jq -n --argjson train "$(echo "$train" | jq .id)" --argjson test "$(echo "$test" | jq .id)" \
    --argjson space "$space" --argjson max_trials "$max_trials" \
    --argjson max_seconds "$max_seconds" '{
    dataset_id: $train, test_dataset_id: $test, name: "fashion-mnist recipe",
    search: {type: "tpe", max_trials: $max_trials, max_seconds: $max_seconds,
             n_startup_trials: 8, seed: 1},
    space: $space,
    pruner: {type: "asha", min_iterations: 3, reduction_factor: 3},
    training: {validation_split: 0.1, seed: 1}}')"
if [ "${PREVIEW:-}" = 1 ]; then
    api -H 'Content-Type: application/json' "$url/api/v1/sweeps?dry_run=true" -d "$body" | jq -c .
    exit 0
fi
sweep="$(api -H 'Content-Type: application/json' "$url/api/v1/sweeps" -d "$body")"
sweep_id="$(echo "$sweep" | jq -r .id)"
echo "$sweep" | jq -c '{id, status}'

echo "== progress"
while :; do
    s="$(api "$url/api/v1/sweeps/$sweep_id")"
    status="$(echo "$s" | jq -r .status)"
    printf '  %6s s  %-9s trials %s  best validation accuracy so far: %s\n' \
        "$(elapsed)" "$status" \
        "$(echo "$s" | jq -c '.trials // {} | with_entries(select(.value > 0))')" \
        "$(echo "$s" | jq -r '.best_trial.best_val_accuracy // "-"')"
    case "$status" in completed | failed | canceled) break ;; esac
    sleep 5
done
wall="$(elapsed)"

echo "== leaderboard (by the final model's validation accuracy; test accuracy of that model)"
board="$(api "$url/api/v1/sweeps/$sweep_id/trials?sort=-final_val_accuracy&limit=10")"
echo "$board" | jq -r '["trial", "status", "optimizer", "layers", "neurons", "lr", "batch",
        "drop_in", "drop_hid", "schedule", "iters", "val_acc", "test_acc"],
    (.items[] | [.id, .status, .params.optimizer, .params.hidden_layers, .params.neurons,
                 (.params.learning_rate * 1e5 | round / 1e5), .params.batch_size,
                 .params.dropout_input, .params.dropout_hidden, .params.schedule,
                 .iterations_done, (.final_val_accuracy // null | if . then . * 1e4 | round / 1e4 else . end),
                 .test_accuracy]) | @tsv'
best="$(echo "$board" | jq -c '.items[0]')"
printf '\nbest trial %s (chosen on validation): test accuracy %s; sweep %s; wall time %s s' \
    "$(echo "$best" | jq -r .id)" "$(echo "$best" | jq -r '.test_accuracy // "n/a"')" \
    "$status" "$wall"
printf ' (uploads included; the sweep itself %s)\n' \
    "$(echo "$s" | jq -r 'if .created_at and .finished_at then
        ((.finished_at | sub("\\.[0-9]+"; "") | fromdateiso8601) -
         (.created_at | sub("\\.[0-9]+"; "") | fromdateiso8601) | tostring) + " s"
        else "n/a" end')"
[ "$status" = completed ]
