#!/usr/bin/env bash
# Installs what the tests need, then builds and runs every test twice: in the Release build and
# in an AddressSanitizer + UndefinedBehaviorSanitizer build; then the threaded trainer and
# scheduler tests under ThreadSanitizer; then the libFuzzer harnesses for a short budget each
# (MLPTUNE_FUZZ_SECONDS, default 10). The last line counts all of it.
# Time on 2 cores: 12.3 min at the landing of 2026-12-06 noon (170 tests; Release tests 225 s,
# sanitizer tests 263 s, fuzz 152 s). Since then ctest starts the longest tests first (COST in
# tests/CMakeLists.txt), test_load holds 6 s, test_service's readers and test_faults' stop train
# less for the same checks, and the fuzz harnesses run one per core, 10 s each as before.
# Replaying that landing's per-test times: Release 225 -> 183 s, sanitizer 263 -> 231 s; fuzz
# 140 -> 72 s measured: about 2.4 min less. The fuzz runs assume a free core per harness: on a
# busy machine each harness gets fewer executions in its 10 s (MLPTUNE_FUZZ_JOBS=1: one at a time).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh" --test || exit 1
# The dashboard's npm packages, and the browser tests' (playwright-core drives Debian's chromium).
npm ci --prefix "$root/web" --no-audit --no-fund || exit 1
npm ci --prefix "$root/tests/browser" --no-audit --no-fund || exit 1
jobs="$(nproc)"
# test_load holds its readers and writers for MLPT_LOAD_SECONDS (15 when run alone); here 6:
# the same checks (0 errors, 0 lost writes, reads, creations and event streams all happened).
export MLPT_LOAD_SECONDS="${MLPT_LOAD_SECONDS:-6}"
total_run=0
total_failed=0

run_suite() { # name build-dir cmake-args...
    local name="$1" dir="$2"
    shift 2
    echo "== $name: build"
    if ! cmake -S "$root" -B "$dir" "$@" >/dev/null || ! cmake --build "$dir" -j"$jobs" >/dev/null; then
        echo "== $name: BUILD FAILED"
        cmake --build "$dir" -j1 2>&1 | tail -40
        total_failed=$((total_failed + 1))
        return
    fi
    echo "== $name: test"
    local log="$dir/ctest.log"
    ctest --test-dir "$dir" -j"$jobs" --output-on-failure --timeout 600 2>&1 | tee "$log"
    local line ran failed
    line="$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)"
    ran="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")"
    failed="$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$line")"
    if [ -z "$line" ]; then ran=0; failed=1; fi
    total_run=$((total_run + ran))
    total_failed=$((total_failed + failed))
}

run_suite release "$root/build-test" -DCMAKE_BUILD_TYPE=Release
run_suite sanitize "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLPTUNE_SANITIZE=ON

# ThreadSanitizer on the code whose threads share memory without locks: runs that helpers join
# (test_run, test_train), ranks of one run meeting at their averagings (test_train_sync) and the
# scheduler's loop, workers and helpers (test_sched). OpenBLAS runs
# single-threaded here: its own thread pool synchronises in code TSan cannot see. target_clones
# is off (its resolvers run before TSan starts). A report fails the test (exit 66).
echo "== tsan: build"
tsan_dir="$root/build-tsan"
if cmake -S "$root" -B "$tsan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_FLAGS="-fsanitize=thread -DMLPT_NO_CLONES" \
        -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null &&
    cmake --build "$tsan_dir" -j"$jobs" --target test_run test_train test_train_sync test_sched \
        >/dev/null; then
    echo "== tsan: test"
    for t in test_run test_train test_train_sync test_sched; do
        total_run=$((total_run + 1))
        if OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="exitcode=66" CMOCKA_MESSAGE_OUTPUT=STDOUT \
            "$tsan_dir/tests/$t" >"$tsan_dir/$t.log" 2>&1; then
            echo "tsan $t: ok"
        else
            echo "tsan $t: FAILED"
            tail -60 "$tsan_dir/$t.log"
            total_failed=$((total_failed + 1))
        fi
    done
else
    echo "== tsan: BUILD FAILED"
    total_run=$((total_run + 1))
    total_failed=$((total_failed + 1))
fi

# libFuzzer smoke runs (clang; ASan + UBSan): each harness for a short budget. Every harness
# counts as one test; a run that ends without its summary line counts as one failure.
echo "== fuzz"
fuzz_last=""
while IFS= read -r l; do
    echo "$l"
    fuzz_last="$l"
done < <("$root/scripts/fuzz.sh" "${MLPTUNE_FUZZ_SECONDS:-10}" 2>&1)
if [[ "$fuzz_last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    total_run=$((total_run + BASH_REMATCH[1] + BASH_REMATCH[2]))
    total_failed=$((total_failed + BASH_REMATCH[2]))
else
    total_run=$((total_run + 1))
    total_failed=$((total_failed + 1))
fi

echo "$((total_run - total_failed)) passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
