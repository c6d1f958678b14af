#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan, libraries instrumented)
# into <repo>/build-fuzz and runs each for SECONDS (default 15) on a fresh copy of its seed corpus
# (tests/fuzz/corpus/<harness>, never written to). Installs nothing: scripts/install-deps.sh --test
# brings clang and its runtime (scripts/test.sh runs it first).
#   scripts/fuzz.sh [SECONDS]
# Harnesses run side by side, one per core (MLPTUNE_FUZZ_JOBS overrides), each for the full
# SECONDS. Prints one line per harness in the list's order (runs, execs/s, "ok" or the crash file
# with the sanitizer's report and the input in base64), then "N passed, M failed". Exits 1 when a harness failed to build or
# found a crash, a leak, a timeout or an out-of-memory input. Replay a crash file with
# build-fuzz/tests/fuzz/<harness> <file>.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-15}"
if ! [[ "$secs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS]  (seconds per harness, default 15)" >&2
    exit 2
fi
build="$root/build-fuzz"
harnesses=(fuzz_csv fuzz_idx fuzz_gz fuzz_recording fuzz_sweep fuzz_sweep_more fuzz_router
           fuzz_static_path fuzz_origin fuzz_framing fuzz_cli_sweep fuzz_wire)
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
flags+=" -fno-omit-frame-pointer"
passed=0
failed=0

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

mkdir -p "$build/fuzz-logs"
if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang not found (scripts/install-deps.sh --test installs it)"
    failed=${#harnesses[@]}
    finish
fi
echo "== fuzz: build (clang, $build)"
if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMLPTUNE_FUZZ=ON -DMLPTUNE_SANITIZE=OFF -DBUILD_TESTING=OFF -DCMAKE_C_FLAGS="$flags" \
    >"$build/fuzz-logs/configure.log" 2>&1; then
    echo "fuzz: CONFIGURE FAILED"
    tail -30 "$build/fuzz-logs/configure.log" | sed 's/^/    /'
    failed=${#harnesses[@]}
    finish
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# One build for every harness (make runs the objects of all of them in parallel); when it
# fails, each harness is built alone so that its own log names its error.
if cmake --build "$build" --target "${harnesses[@]}" -j"$(nproc)" \
    >"$build/fuzz-logs/build.log" 2>&1; then
    for h in "${harnesses[@]}"; do cp "$build/fuzz-logs/build.log" "$build/fuzz-logs/$h.build.log"; done
    built=1
else
    built=0
fi

fuzz_one() { # harness: builds it if needed, runs it; prints its lines; exit 0 when it passed
    local h="$1"
    local blog="$build/fuzz-logs/$h.build.log"
    if [ "$built" -eq 0 ] && ! cmake --build "$build" --target "$h" -j1 >"$blog" 2>&1; then
        echo "$h: BUILD FAILED"
        grep -E 'error|Error' "$blog" | head -20 | sed 's/^/    /'
        return 1
    fi
    local work="$build/fuzz-work/$h"
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    if [ -d "$root/tests/fuzz/corpus/$h" ]; then
        cp -R "$root/tests/fuzz/corpus/$h/." "$work/corpus/"
    fi
    local log="$build/fuzz-logs/$h.log"
    local dict=()
    if [ -f "$root/tests/fuzz/$h.dict" ]; then
        dict=(-dict="$root/tests/fuzz/$h.dict")
    fi
    # -timeout: one input running that long is a hang; the outer timeout is a last resort.
    timeout -k 10 $((secs + 120)) "$build/tests/fuzz/$h" -max_total_time="$secs" \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "${dict[@]}" "$work/corpus" >"$log" 2>&1
    local rc=$?
    local runs rate crash
    runs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)"
    rate="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -1)"
    crash="$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o \
        -name 'timeout-*' -o -name 'oom-*' \) | head -1)"
    if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
        local inputs
        inputs="$(find "$work/corpus" -type f | wc -l)"
        echo "$h: ok, ${runs:-?} runs (${rate:-?} execs/s), corpus $inputs inputs"
        return 0
    fi
    if [ -n "$crash" ]; then
        echo "$h: FAILED after ${runs:-?} runs: ${crash#"$root"/}"
        # The report: the harness's or the sanitizer's lines, and the stack frames in our code.
        awk -v root="$root/" '
            /^#[0-9]+[ \t]/ { n = 0; next }
            /NEW_FUNC|^INFO:|^MS:|^Dictionary:|^NOTE: libFuzzer|Combine libFuzzer|^ *$/ { next }
            /^ *#[0-9]+ / && (!index($0, root) || index($0, "/build-fuzz/")) { next }
            { line[n++] = $0 }
            /^SUMMARY:/ { exit }
            END { for (i = 0; i < n; i++) print line[i] }' "$log" | tail -40 | sed 's/^/    /'
        if [ "$(stat -c %s "$crash")" -le 4096 ]; then
            echo "    input (base64): $(base64 -w0 "$crash")"
        fi
    else
        echo "$h: FAILED (exit $rc, no crash file; see ${log#"$root"/})"
        tail -20 "$log" | sed 's/^/    /'
    fi
    return 1
}

# libFuzzer runs on one core: MLPTUNE_FUZZ_JOBS harnesses (default: one per core) run at once,
# each for the full SECONDS; their lines are printed in the list's order. On 2 cores this halves
# the wall time of the runs (12 harnesses x 10 s: about 65 s instead of 130 s).
fuzz_jobs="${MLPTUNE_FUZZ_JOBS:-$(nproc)}"
[[ "$fuzz_jobs" =~ ^[1-9][0-9]*$ ]] || fuzz_jobs=1
echo "== fuzz: run, ${secs}s per harness, $fuzz_jobs at a time"
for h in "${harnesses[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$fuzz_jobs" ]; do
        wait -n
    done
    rm -f "$build/fuzz-logs/$h.result" "$build/fuzz-logs/$h.passed"
    (fuzz_one "$h" >"$build/fuzz-logs/$h.result" 2>&1 && touch "$build/fuzz-logs/$h.passed") &
done
wait
for h in "${harnesses[@]}"; do
    cat "$build/fuzz-logs/$h.result" 2>/dev/null || echo "$h: FAILED (no result)"
    if [ -f "$build/fuzz-logs/$h.passed" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
finish
