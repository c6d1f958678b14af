#!/usr/bin/env bash
# The main job: install what is needed, build, and start the service on an embedded SQLite
# database under ./data (http://127.0.0.1:8080/ unless MLPTUNE_BIND / MLPTUNE_PORT say otherwise).
# Extra arguments go to `mlptune serve` (see `mlptune serve --help`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
npm ci --prefix "$root/web" --no-audit --no-fund --loglevel=error
"$root/scripts/build.sh" "$root/build" -DBUILD_TESTING=OFF
exec "$root/build/service/mlptune" serve --data-dir "${MLPTUNE_DATA_DIR:-$root/data}" \
    --web-dir "$root/web" "$@"
