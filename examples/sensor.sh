#!/usr/bin/env bash
# The research workflow on accelerometer data (issue 15), in curl + jq: a recording (made with
# the project's generator, or a WISDM v1.1 raw file), uploaded with its quirks counted, cut into
# spectrogram windows, the seed grid (hidden_layers [1,2] x neurons [500,1000] x learning_rate
# [0.1,0.5], up to ITERATIONS iterations, ASHA pruning) split by subject, and the leaderboard.
#   MLPTUNE_URL   the service (default http://127.0.0.1:8080)
#   WISDM_FILE    a WISDM v1.1 raw file (WISDM_ar_v1.1_raw.txt); default: a generated recording
#   SUBJECTS, DURATION, SEED  the generated recording (default 12 subjects, 60 s per activity, 1)
#   FEATURES      spectrogram (default), stats or raw
#   STEP          seconds between windows (default 2.5; windows are 10 s)
#   ITERATIONS    the most iterations a trial runs (default 200)
#   PRUNER        asha (default) or none
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
url="${MLPTUNE_URL:-http://127.0.0.1:8080}"
features="${FEATURES:-spectrogram}"
step="${STEP:-2.5}"
iterations="${ITERATIONS:-200}"
pruner="${PRUNER:-asha}"

. "$here/lib.sh"

file="${WISDM_FILE:-}"
if [ -z "$file" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    file="$tmp/recording.txt"
    echo "== generate a recording (${SUBJECTS:-12} subjects, ${DURATION:-60} s per activity)"
    python3 "$here/../tools/sensorgen.py" --subjects "${SUBJECTS:-12}" --seconds "${DURATION:-60}" \
        --seed "${SEED:-1}" -o "$file"
fi

echo "== upload $(basename "$file") as a WISDM recording"
rec="$(api -F format=wisdm -F name=recording -F "file=@$file" "$url/api/v1/datasets")"
echo "$rec" | jq -c '{id, rows, classes, sampling_rate_hz, subjects: (.subjects | length),
                      gaps: .gaps.count, quirks, skipped}'
rec_id="$(echo "$rec" | jq -r .id)"

echo "== derive $features windows (10 s every $step s, no gap over 1 s inside one)"
win="$(api -H 'Content-Type: application/json' "$url/api/v1/datasets/$rec_id/windows" -d @- <<JSON
{"window_seconds": 10, "step_seconds": $step, "features": "$features", "frame_seconds": 2,
 "hop_seconds": 1, "max_gap_seconds": 1}
JSON
)"
echo "$win" | jq -c '{id, name, rows, features, class_counts, segments}'
win_id="$(echo "$win" | jq -r .id)"

pruner_json=null
[ "$pruner" = asha ] && pruner_json='{"type": "asha", "min_iterations": 10, "reduction_factor": 3}'
echo "== the seed grid, split by subject (pruner: $pruner)"
sweep="$(api -H 'Content-Type: application/json' "$url/api/v1/sweeps" -d @- <<JSON
{"dataset_id": $win_id, "name": "sensor seed grid",
 "grid": {"hidden_layers": [1, 2], "neurons": [500, 1000], "learning_rate": [0.1, 0.5],
          "iterations": [$iterations]},
 "training": {"activation": "relu", "batch_size": 64, "validation_split": 0.25, "seed": 42,
              "split_by": "group"},
 "pruner": $pruner_json}
JSON
)"
sweep_id="$(echo "$sweep" | jq -r .id)"
echo "$sweep" | jq -c '{id, status, trials_total}'

while :; do
    s="$(api "$url/api/v1/sweeps/$sweep_id")"
    status="$(echo "$s" | jq -r .status)"
    printf '  %-9s %5.1f%%  best so far: %s\n' "$status" "$(echo "$s" | jq '.progress * 100')" \
        "$(echo "$s" | jq -r '.best_trial.best_val_accuracy // "-"')"
    case "$status" in completed | failed | canceled) break ;; esac
    sleep 5
done

echo "== leaderboard (validation split by subject)"
api "$url/api/v1/sweeps/$sweep_id/trials?sort=-best_val_accuracy" |
    jq -r '["trial", "layers", "neurons", "lr", "status", "iterations", "best_val_acc"],
           (.items[] | [.id, .params.hidden_layers, .params.neurons, .params.learning_rate,
                        .status, .iterations_done, .best_val_accuracy]) | @tsv'
[ "$status" = completed ]
