#!/usr/bin/env bash
# Configures and builds mlptune. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/build}"
shift || true
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# Quiet unless something goes wrong: then the log's end says what.
if ! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
    tail -40 "$dir/build.log" >&2
    exit 1
fi
