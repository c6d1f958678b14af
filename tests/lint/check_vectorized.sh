#!/usr/bin/env bash
# check_vectorized.sh <kernels object or library> - the AVX2 and AVX-512 paths of the
# elementwise kernels (trainer/kernels.c) are vector loops, with exp inlined.
#
# Issue 16: the sigmoid ran scalar, one call of exp_poly per element, on every AVX2 CPU that is
# not an Intel Haswell (GCC's arch=haswell clone is chosen by __builtin_cpu_is); and under the
# default -ftrapping-math GCC keeps exp's clamps as branches without AVX-512's masks. This
# disassembles the built code and, for each loop, fails when its AVX2 variant has no ymm
# arithmetic or calls anything, or its AVX-512 variant has no zmm arithmetic. Exit 77 (skipped)
# where the variants do not exist by design: not x86-64, or no objdump.
set -uo pipefail
lib="${1:?usage: check_vectorized.sh <libmlpt_trainer.a>}"
[ "$(uname -m)" = x86_64 ] || { echo "not x86-64: skipped"; exit 77; }
command -v objdump >/dev/null || { echo "no objdump: skipped"; exit 77; }
dis="$(mktemp)"
trap 'rm -f "$dis"' EXIT
objdump -d --no-show-raw-insn "$lib" >"$dis" || exit 1
bad=0
# fn(name) prints the body of one function of the disassembly.
fn() { awk -v n="<$1>:" '$2 == n { on = 1; next } on && /^$/ { exit } on' "$dis"; }
for loop in bias_sigmoid bias_tanh bias_relu sigmoid_backward tanh_backward relu_backward \
    bias_add colsum axpy scale_row; do
    avx2="$(fn "${loop}_avx2")"
    avx512="$(fn "${loop}_avx512")"
    if [ -z "$avx2" ] || [ -z "$avx512" ]; then
        echo "FAIL: ${loop}_avx2 / ${loop}_avx512 not found in $lib"
        bad=1
        continue
    fi
    ymm=$(grep -cE 'v[a-z0-9]+ps .*%ymm' <<<"$avx2")
    calls=$(grep -cE '\bcall' <<<"$avx2")
    zmm=$(grep -cE 'v[a-z0-9]+ps .*%zmm' <<<"$avx512")
    # colsum calls memset for beta == 0, outside its loop
    [ "$loop" = colsum ] && calls=0
    if [ "$ymm" -eq 0 ] || [ "$calls" -ne 0 ]; then
        echo "FAIL: ${loop}_avx2: $ymm packed ymm instructions, $calls calls (want > 0, 0)"
        bad=1
    fi
    if [ "$zmm" -eq 0 ]; then
        echo "FAIL: ${loop}_avx512: no packed zmm instructions"
        bad=1
    fi
done
[ "$bad" -eq 0 ] && echo "every kernel loop is vectorised on its AVX2 and AVX-512 paths"
exit "$bad"
