#!/usr/bin/env bash
# The research workflow in curl + jq: upload Fashion-MNIST (IDX .gz), run the seed grid
# (hidden_layers [1,2] x neurons [500,1000] x learning_rate [0.1,0.5] x iterations [10]),
# follow its progress, print the leaderboard.
#   MLPTUNE_URL   the service (default http://127.0.0.1:8080)
#   FMNIST_DIR    the IDX files (default /usr/share/datasets/fashion-mnist)
#   ITERATIONS    iterations per trial (default 10)
#   ROWS          upload only the first ROWS images (default: all 60,000)
set -euo pipefail
url="${MLPTUNE_URL:-http://127.0.0.1:8080}"
fm="${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}"
iterations="${ITERATIONS:-10}"
rows="${ROWS:-}"

. "$(dirname "$0")/lib.sh"

images="$fm/train-images-idx3-ubyte.gz"
labels="$fm/train-labels-idx1-ubyte.gz"
if [ -n "$rows" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    idx_first_rows "$images" "$labels" "$rows" "$tmp"
    images="$tmp/images.gz"
    labels="$tmp/labels.gz"
fi

echo "== upload Fashion-MNIST (${rows:-60000} images, IDX .gz)"
dataset="$(api -F name=fashion-mnist -F "images=@$images" -F "labels=@$labels" \
    "$url/api/v1/datasets")"
echo "$dataset" | jq -c '{id, name, rows, features, classes}'
dataset_id="$(echo "$dataset" | jq -r .id)"

echo "== submit the seed grid"
sweep="$(api -H 'Content-Type: application/json' "$url/api/v1/sweeps" -d @- <<JSON
{"dataset_id": $dataset_id, "name": "seed grid",
 "grid": {"hidden_layers": [1, 2], "neurons": [500, 1000], "learning_rate": [0.1, 0.5],
          "iterations": [$iterations]},
 "training": {"activation": "sigmoid", "batch_size": 64, "validation_split": 0.2, "seed": 42}}
JSON
)"
sweep_id="$(echo "$sweep" | jq -r .id)"
echo "$sweep" | jq -c '{id, status, trials_total}'

echo "== progress"
while :; do
    s="$(api "$url/api/v1/sweeps/$sweep_id")"
    status="$(echo "$s" | jq -r .status)"
    printf '  %-9s %5.1f%%  best so far: %s\n' "$status" \
        "$(echo "$s" | jq '.progress * 100')" \
        "$(echo "$s" | jq -r '.best_trial.best_val_accuracy // "-"')"
    case "$status" in completed | failed | canceled) break ;; esac
    sleep 2
done

echo "== leaderboard"
api "$url/api/v1/sweeps/$sweep_id/trials?sort=-best_val_accuracy" |
    jq -r '["trial", "layers", "neurons", "lr", "iterations", "best_val_acc", "final_val_acc"],
           (.items[] | [.id, .params.hidden_layers, .params.neurons, .params.learning_rate,
                        .params.iterations, .best_val_accuracy, .final_val_accuracy]) | @tsv'
[ "$status" = completed ]
