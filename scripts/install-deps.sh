#!/usr/bin/env bash
# Installs what mlptune needs on Debian 12, as root, with apt-get. Idempotent.
#   scripts/install-deps.sh           build + run dependencies (and the Fashion-MNIST data set)
#   scripts/install-deps.sh --test    ... plus what the test suite needs
#   scripts/install-deps.sh --bench   ... plus the peers the benchmarks compare against
set -euo pipefail

packages=(build-essential cmake pkg-config libopenblas-dev zlib1g-dev libfftw3-dev libsqlite3-dev
          libjansson-dev libmicrohttpd-dev libuv1-dev libcurl4-openssl-dev dataset-fashion-mnist curl
          jq libopenmpi-dev openmpi-bin libssl-dev)
# The dashboard's npm packages (npm ci --prefix web): Node.js with npm. One that is already
# installed (e.g. one that bundles npm) is kept.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
for arg in "$@"; do
    case "$arg" in
    --test)
        packages+=(libcmocka-dev python3)
        # The browser tests: Debian's chromium (driven by npm playwright-core) and a font for
        # the screenshots.
        packages+=(chromium fonts-dejavu-core)
        # The fuzz harnesses (scripts/fuzz.sh): clang with its libFuzzer and sanitizer runtimes,
        # and llvm for llvm-symbolizer (readable stack traces in the sanitizers' reports).
        packages+=(clang libclang-rt-14-dev llvm)
        ;;
    --bench) packages+=(libcmocka-dev python3 python3-numpy python3-torch python3-sklearn
                        python3-threadpoolctl python3-optuna python3-pandas) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
