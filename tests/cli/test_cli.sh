#!/usr/bin/env bash
# End-to-end tests of `mlptune train`: the real binary on real files.
# Usage: test_cli.sh MLPTUNE_BINARY TEST_DATA_DIR
set -uo pipefail
bin="$1"
data="$2"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; }
check() { # description command...
    local what="$1"
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

# Runs mlptune, keeping stdout, stderr and the exit status.
run() {
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    echo $? >"$tmp/status"
}
status() { cat "$tmp/status"; }

# --- a CSV with string labels, JSON lines --------------------------------------------------------
run train --data "$data/iris.csv" --layers 1 --neurons 16 --activation tanh --lr 0.1 \
    --iterations 30 --batch 16 --seed 7 --json
check "iris trains (exit 0)" test "$(status)" = 0
check "iris JSON lines have exactly the keys, one per iteration, then done" \
    python3 "$here/check_json.py" "$tmp/out" 30 0.85

# --- same seed, same history ---------------------------------------------------------------------
for k in 1 2; do
    "$bin" train --data "$data/wine.csv" --label-column cultivar --hidden 8,8 --activation sigmoid \
        --lr 0.5 --iterations 10 --batch 8 --seed 3 --threads 1 --json |
        python3 -c 'import json,sys
for l in sys.stdin:
    o=json.loads(l); o.pop("seconds",None); o.pop("samples_per_second",None); print(json.dumps(o))' \
        >"$tmp/hist$k"
done
check "same seed gives the same history" \
    bash -c "test \$(wc -l <'$tmp/hist1') = 11 && cmp -s '$tmp/hist1' '$tmp/hist2'"
"$bin" train --data "$data/wine.csv" --label-column cultivar --hidden 8,8 --activation sigmoid \
    --lr 0.5 --iterations 10 --batch 8 --seed 4 --threads 1 --json | head -1 >"$tmp/hist3"
check "another seed gives another history" test "$(head -1 "$tmp/hist1")" != "$(python3 -c 'import json,sys
o=json.loads(open(sys.argv[1]).readline()); o.pop("seconds"); print(json.dumps(o))' "$tmp/hist3")"

# --- digits: a real problem learned well; model saved ---------------------------------------------
run train --data "$data/digits.csv" --layers 1 --neurons 64 --activation relu --lr 0.1 \
    --iterations 20 --batch 32 --seed 1 --json --save-model "$tmp/digits.model"
check "digits trains" test "$(status)" = 0
check "digits reaches >= 0.93 validation accuracy" python3 "$here/check_json.py" "$tmp/out" 20 0.93
check "the model file starts with its magic" test "$(head -c 8 "$tmp/digits.model")" = MLPTMODL

# --- input scaling rules -------------------------------------------------------------------------
for rule in auto minmax global_minmax none; do
    "$bin" train --data "$data/digits.csv" --hidden 16 --iterations 1 --seed 2 --scaling "$rule" \
        --json | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["train_loss"])' \
        >"$tmp/scale-$rule"
done
check "--scaling minmax, global_minmax, none and auto train differently" \
    test "$(sort -u "$tmp"/scale-* | wc -l)" = 4
run train --data "$data/digits.csv" --hidden 16 --iterations 1 --scaling log
check "--scaling log is refused (exit 2, names the option)" \
    bash -c "test \"\$(cat '$tmp/status')\" = 2 && grep -q -- '--scaling' '$tmp/err'"

# --- initial weight rules ------------------------------------------------------------------------
for rule in auto glorot he sklearn torch; do
    "$bin" train --data "$data/digits.csv" --hidden 16 --activation sigmoid --iterations 1 \
        --seed 2 --init "$rule" --json | head -1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["train_loss"])' >"$tmp/init-$rule"
done
check "--init auto, glorot, he, sklearn and torch start differently (auto is glorot for sigmoid)" \
    bash -c "test \"\$(sort -u '$tmp'/init-* | wc -l)\" = 4 && cmp -s '$tmp/init-auto' '$tmp/init-glorot'"
run train --data "$data/digits.csv" --hidden 16 --iterations 1 --init lecun
check "--init lecun is refused (exit 2, names the option)" \
    bash -c "test \"\$(cat '$tmp/status')\" = 2 && grep -q -- '--init' '$tmp/err'"

# --- table output, validation split 0 ------------------------------------------------------------
run train --data "$data/iris.csv" --hidden 4 --iterations 3 --validation-split 0
check "table output with --validation-split 0" test "$(status)" = 0
check "the table has a header and 3 rows" test "$(grep -c '^ *[0-9]' "$tmp/out")" = 3
run train --data "$data/iris.csv" --hidden 4 --iterations 2 --validation-split 0 --json
check "no validation split gives null validation figures" \
    grep -q '"val_loss": null, "val_accuracy": null' "$tmp/out"

# --- IDX, gzip'd, with a test set ----------------------------------------------------------------
python3 "$here/make_idx.py" "$tmp"
run train --data "$tmp/train-images.gz" --labels "$tmp/train-labels.gz" \
    --test "$tmp/test-images" --test-labels "$tmp/test-labels.gz" \
    --hidden 32 --activation relu --lr 0.1 --iterations 15 --batch 16 --json
check "IDX (gzip) trains with a test set" test "$(status)" = 0
check "IDX summary has test_accuracy >= 0.9" python3 - "$tmp/out" <<'PY'
import json, sys
done = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert set(done) == {"done", "best_val_accuracy", "test_accuracy", "seconds", "samples_per_second"}, done
assert done["test_accuracy"] >= 0.9, done
PY

# --- bad input: exit 2, one line naming file, row and column -------------------------------------
printf 'a,b,label\n1,2,x\n3,oops,y\n' >"$tmp/bad.csv"
run train --data "$tmp/bad.csv" --hidden 4
check "non-numeric feature: exit 2" test "$(status)" = 2
check "non-numeric feature: one line naming file, row 3, column 2" \
    bash -c "test \$(wc -l <'$tmp/err') = 1 && grep -q 'bad.csv' '$tmp/err' && grep -q 'row 3' '$tmp/err' && grep -q 'column 2' '$tmp/err'"
printf 'a,b,label\n1,2,x\n3,4\n' >"$tmp/ragged.csv"
run train --data "$tmp/ragged.csv" --hidden 4
check "ragged row: exit 2 naming row 3" bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'row 3' '$tmp/err'"
printf 'a,b,label\n1,2,x\n3,4,x\n' >"$tmp/oneclass.csv"
run train --data "$tmp/oneclass.csv" --hidden 4
check "a single class: exit 2" test "$(status)" = 2
head -c 1000 "$tmp/train-images" >"$tmp/short-images"
run train --data "$tmp/short-images" --labels "$tmp/train-labels.gz" --hidden 4
check "truncated IDX: exit 2 naming the images file" \
    bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'short-images' '$tmp/err'"
run train --data "$tmp/missing.csv" --hidden 4
check "missing file: exit 2" test "$(status)" = 2
run train --data "$data/iris.csv" --label-column nope --hidden 4
check "missing label column: exit 2" test "$(status)" = 2
printf 'a,b,species\n1,2,x\n3,4,y\n5,6,z\n' >"$tmp/other-classes.csv"
run train --data "$data/iris.csv" --test "$tmp/other-classes.csv" --hidden 4
check "test set with other features/classes: exit 2" test "$(status)" = 2

# --- bad arguments --------------------------------------------------------------------------------
for args in "--hidden 4" "--data $data/iris.csv" "--data $data/iris.csv --hidden 4 --lr 0" \
    "--data $data/iris.csv --hidden 4 --lr nan" "--data $data/iris.csv --hidden 4,x" \
    "--data $data/iris.csv --hidden 4 --batch 0" "--data $data/iris.csv --hidden 4 --bogus 1" \
    "--data $data/iris.csv --hidden 4 --activation softsign" \
    "--data $data/iris.csv --layers 1 --neurons 4 --hidden 4" \
    "--data $data/iris.csv --hidden 4 --validation-split 1" \
    "--data $data/iris.csv --hidden 4 --iterations"; do
    run train $args
    check "bad arguments ($args): exit 2 with a message" \
        bash -c "test \$(cat '$tmp/status') = 2 && test -s '$tmp/err'"
done

# --- divergence ------------------------------------------------------------------------------------
run train --data "$data/wine.csv" --label-column cultivar --hidden 64,64 --activation relu \
    --lr 100000 --iterations 20 --batch 4 --json
check "a huge learning rate diverges: exit 3" test "$(status)" = 3
check "the diverged iteration is reported with a null loss" grep -q '"train_loss": null' "$tmp/out"

# --- token files: serve and sweep read them alike (service/args.c) -----------------------------------
printf '  token-0123456789abcdef\nsecond line\n' >"$tmp/token2"
printf '\n\n   \n' >"$tmp/token0"
echo '{"grid": {"hidden_layers": [1], "neurons": [4], "learning_rate": [0.1], "iterations": [1]}}' \
    >"$tmp/grid.json"
for cmd in serve sweep; do
    if [ "$cmd" = serve ]; then extra=(--data-dir "$tmp/dd" --port 0); else
        extra=(--server http://127.0.0.1:1 --dataset 1 --grid "$tmp/grid.json"); fi
    run "$cmd" "${extra[@]}" --token-file "$tmp/token2"
    check "$cmd: a token file of two lines is refused (exit 2, says so)" \
        bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'holds more than one line' '$tmp/err'"
    run "$cmd" "${extra[@]}" --token-file "$tmp/token0"
    check "$cmd: a blank token file is refused (exit 2, says so)" \
        bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'is empty' '$tmp/err'"
    run "$cmd" "${extra[@]}" --token-file "$tmp/no-such-token"
    check "$cmd: a missing token file is refused (exit 2, names it)" \
        bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'no-such-token: cannot open' '$tmp/err'"
done

# --- sensor recordings: single samples, windows, subjects held out (issue 15) ---------------------
python3 "$here/../../tools/sensorgen.py" --subjects 4 --seconds 30 --seed 2 -o "$tmp/rec.txt"
run train --data "$tmp/rec.txt" --format wisdm --layers 1 --neurons 16 --iterations 2 --json
check "a WISDM recording trains as single samples" test "$(status)" = 0
run train --data "$tmp/rec.txt" --format wisdm --window-seconds 10 --step-seconds 2.5 \
    --features spectrogram --layers 1 --neurons 32 --iterations 20 --seed 5 --test-subjects 4 --json
check "spectrogram windows train, tested on a held-out subject" \
    bash -c "test \$(cat '$tmp/status') = 0 && tail -1 '$tmp/out' | grep -q '\"test_accuracy\": 0\\.[5-9]'"
run train --data "$tmp/rec.txt" --format wisdm --features stats --step-seconds 5 --layers 1 \
    --neurons 8 --iterations 1
check "stats windows train (43 features)" \
    bash -c "test \$(cat '$tmp/status') = 0 && grep -q ', 43 features' '$tmp/out'"
run train --data "$tmp/rec.txt" --format wisdm --window-seconds 0.01 --layers 1 --neurons 8
check "a window under 2 samples is refused naming its flag" \
    bash -c "test \$(cat '$tmp/status') = 2 && grep -q -- '--window-seconds: ' '$tmp/err'"
run train --data "$tmp/rec.txt" --format wisdm --features stats --hop-seconds 1 --layers 1 --neurons 8
check "--hop-seconds with stats is refused" \
    bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'spectrogram only' '$tmp/err'"
run train --data "$data/iris.csv" --window-seconds 10 --layers 1 --neurons 8
check "window options on a CSV are refused" \
    bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'applies to a recording' '$tmp/err'"
run train --data "$data/iris.csv" --split-by group --layers 1 --neurons 8
check "--split-by group on a table is refused" \
    bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'needs a dataset with subjects' '$tmp/err'"
printf 'who,activity,timestamp,x\n1,a,1000,1\n1,b,2000,2\n' >"$tmp/ts.csv"
run train --data "$tmp/ts.csv" --format timeseries --layers 1 --neurons 8
check "a missing subject column names --subject-column" \
    bash -c "test \$(cat '$tmp/status') = 2 && grep -q -- '--subject-column' '$tmp/err'"
run train --data "$tmp/ts.csv" --format timeseries --subject-column who --timestamp-unit ms \
    --layers 1 --neurons 8 --iterations 1 --validation-split 0
check "a timeseries CSV with its columns named trains" test "$(status)" = 0
printf '1,Walking,0,1,2,3;\n1,Sitting,0,1,2,3;\n' >"$tmp/zero.txt"
run train --data "$tmp/zero.txt" --format wisdm --layers 1 --neurons 8
check "no timestamps: refused naming the line and field" \
    bash -c "test \$(cat '$tmp/status') = 2 && grep -q 'line 1, field 3 (timestamp): no timestamps' '$tmp/err'"

# --- optimizers, regularisation and schedules (issue 16) -----------------------------------------
run train --data "$data/digits.csv" --layers 1 --neurons 64 --activation relu --optimizer adam \
    --lr 0.001 --iterations 10 --batch 32 --seed 1 --l2 0.0001 --json
check "digits with --optimizer adam --lr 0.001 reaches >= 0.93 in 10 iterations" \
    python3 "$here/check_json.py" "$tmp/out" 10 0.93
for o in sgd momentum nesterov adam adamw rmsprop; do
    "$bin" train --data "$data/digits.csv" --hidden 16 --iterations 1 --seed 2 --optimizer "$o" \
        --lr 0.01 --weight-decay 0.5 --json | head -1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["train_loss"])' >"$tmp/opt-$o"
done
check "the six optimizers train differently (adam and adamw apart by the weight decay)" test "$(sort -u "$tmp"/opt-* | wc -l)" = 6
for sc in "constant" "step --lr-step 1 --lr-gamma 0.5" "cosine --lr-min 0.001" \
    "invscaling --power-t 0.25" "constant --warmup 2" "constant --l2 5" \
    "constant --weight-decay 0.05"; do
    # shellcheck disable=SC2086
    "$bin" train --data "$data/iris.csv" --hidden 8 --iterations 3 --seed 2 --lr 0.1 \
        --schedule $sc --json | sed -n 3p |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["train_loss"])' >"$tmp/sched-${sc// /_}"
done
check "schedules, warmup, l2 and weight decay change the third iteration" \
    test "$(sort -u "$tmp"/sched-* | wc -l)" = 7
for bad in "--optimizer foo" "--optimizer 3" "--beta1 1" "--beta2 nan" "--epsilon 0" "--rho -0.1" \
    "--l2 -1" "--weight-decay inf" "--schedule foo" "--lr-gamma 0" "--lr-gamma 1.5" \
    "--lr-step 0" "--lr-min -1" "--power-t NaN" "--warmup -1"; do
    # shellcheck disable=SC2086
    run train --data "$data/iris.csv" --hidden 4 --iterations 1 $bad
    check "$bad is refused (exit 2, names the option)" \
        bash -c "test \"\$(cat '$tmp/status')\" = 2 && grep -q -- '${bad%% *}' '$tmp/err'"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
